"""The `hocvu` command line, run as a user would: a real process on a real database."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hocvu.app import create_app
from hocvu.settings import Settings


def hocvu(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOCVU_DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}", "HOCVU_INSTANCE_DIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "hocvu.cli", *args], env=env, text=True, capture_output=True,
                          check=check)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    hocvu(tmp, "db", "upgrade")
    return tmp


def test_every_command_has_help(workdir: Path) -> None:
    for cmd in (["tenant", "create"], ["credential", "create"], ["credential", "revoke"], ["db", "upgrade"],
                ["demo", "seed"]):
        out = hocvu(workdir, *cmd, "--help").stdout
        assert "Usage:" in out
    # Every other command too, in process: each answers --help with its usage and a description.
    from click.testing import CliRunner

    from hocvu.cli import main

    def paths(group: click.Group, prefix: list[str]) -> list[list[str]]:
        found = []
        for name, cmd in group.commands.items():
            found.append([*prefix, name])
            if isinstance(cmd, click.Group):
                found.extend(paths(cmd, [*prefix, name]))
        return found

    every = paths(main, [])
    assert len(every) > 50
    for path in every:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path
        command = main
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert (command.help or "").strip(), f"hocvu {' '.join(path)} has no description"


def test_tenant_and_credential_lifecycle(workdir: Path) -> None:
    t = json.loads(hocvu(workdir, "tenant", "create", "bo-gddt", "--name", "Bộ Giáo dục và Đào tạo", "--json").stdout)
    assert t["slug"] == "bo-gddt" and t["name"] == "Bộ Giáo dục và Đào tạo"
    c = json.loads(hocvu(workdir, "credential", "create", "--tenant", "bo-gddt", "--scopes",
                         "statements/write,statements/read", "--json").stdout)
    assert c["key"].startswith("hv_") and len(c["secret"]) > 30
    assert c["scopes"] == ["statements/write", "statements/read"]
    # The secret is usable against the API, then revoked.
    app = create_app(Settings.of(instance_dir=workdir / "instance",
                                 database_url=f"sqlite:///{workdir / 'cli.db'}", secret_key="x"))
    auth = base64.b64encode(f"{c['key']}:{c['secret']}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "X-Experience-API-Version": "2.0.0"}
    assert app.test_client().get("/xapi/statements", headers=headers).status_code == 200
    listed = json.loads(hocvu(workdir, "credential", "list", "--tenant", "bo-gddt", "--json").stdout)
    assert listed[0]["key"] == c["key"] and "secret" not in listed[0]
    r = json.loads(hocvu(workdir, "credential", "revoke", c["key"], "--json").stdout)
    assert r["revoked"]
    assert app.test_client().get("/xapi/statements", headers=headers).status_code == 401


def test_errors_are_clear_and_nonzero(workdir: Path) -> None:
    r = hocvu(workdir, "credential", "create", "--tenant", "nope", check=False)
    assert r.returncode != 0 and "no tenant 'nope'" in r.stderr
    hocvu(workdir, "tenant", "create", "bo-yte", "--name", "Bộ Y tế")
    r = hocvu(workdir, "credential", "create", "--tenant", "bo-yte", "--scopes", "everything", check=False)
    assert r.returncode != 0 and "unknown scope" in r.stderr
    r = hocvu(workdir, "tenant", "create", "Bad Slug!", "--name", "x", check=False)
    assert r.returncode != 0 and "slug" in r.stderr


def test_demo_seed_prints_credential_once(workdir: Path) -> None:
    first = hocvu(workdir, "demo", "seed").stdout
    assert "xAPI endpoint: http://127.0.0.1:8000/xapi/" in first and "demo secret:" in first
    assert "auditor pages: http://127.0.0.1:8000/audit/" in first and "analyst key hvan_" in first
    second = hocvu(workdir, "demo", "seed").stdout
    assert "demo secret" not in second and "exists" in second


def test_national_credential_lifecycle(workdir: Path) -> None:
    c = json.loads(hocvu(workdir, "national", "create", "--role", "auditor", "--name", "Kiểm toán", "--json").stdout)
    assert c["key"].startswith("hvau_") and c["role"] == "auditor" and len(c["secret"]) > 30
    listed = json.loads(hocvu(workdir, "national", "list", "--json").stdout)
    assert {"key": c["key"], "role": "auditor", "name": "Kiểm toán", "revoked": False} in listed
    assert "secret" not in json.dumps(listed)
    hocvu(workdir, "national", "revoke", c["key"])
    assert json.loads(hocvu(workdir, "national", "list", "--json").stdout)[-1]["revoked"] is True
    r = hocvu(workdir, "national", "create", "--role", "root", "--name", "x", check=False)
    assert r.returncode != 0 and "root" in r.stderr
