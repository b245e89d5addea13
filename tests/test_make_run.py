"""``make run HOST=… PORT=…``: every URL the hub prints or registers follows the address it serves on
(the xAPI endpoint, the LTI tool's URLs, the demo VNeID provider's issuer and redirect URI), unless
HOCVU_PUBLIC_URL names a public address in front of it; the LTI settings are checked at start-up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hocvu import configs
from hocvu.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCVU_SECRET_KEY", "test-secret")   # no instance secret written by these tests


def _shown(*args: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if k != "HOCVU_PUBLIC_URL"}
    full = {**base, **(env or {})}
    shown = subprocess.run(["make", "-n", "--no-print-directory", "run", *args], cwd=ROOT, capture_output=True,
                           text=True, env=full, check=True).stdout
    return shown.replace("\\\n", " ").splitlines(), full


def _expand(word: str, env: dict[str, str]) -> str:
    return subprocess.run(["bash", "-c", f"echo {word}"], capture_output=True, text=True, env=env).stdout.strip()


def _recipe(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """The address each command `make run` would execute is given, as the shell would expand it."""
    lines, full = _shown(*args, env=env)
    return [_expand(line.split(" ", 1)[0], full) for line in lines
            if "HOCVU_PUBLIC_URL" in line and not line.startswith("echo ")]


def _front_door(*args: str, env: dict[str, str] | None = None) -> str:
    """What `make run` prints first: the address to open."""
    lines, full = _shown(*args, env=env)
    return _expand(lines[0].removeprefix("echo "), full)


@pytest.mark.parametrize(("args", "url"), [
    ((), "http://127.0.0.1:8000"),
    (("PORT=8614",), "http://127.0.0.1:8614"),
    (("HOST=10.1.2.3", "PORT=8615"), "http://10.1.2.3:8615"),
    (("HOST=0.0.0.0", "PORT=8616"), "http://127.0.0.1:8616"),   # a wildcard bind is no address to print
])
def test_every_step_of_make_run_gets_the_served_address(args: tuple[str, ...], url: str) -> None:
    steps = _recipe(*args)
    assert len(steps) == 4   # db upgrade, face setup, demo seed, gunicorn
    assert steps == [f'HOCVU_PUBLIC_URL={url}'] * 4
    assert _front_door(*args).startswith(f"front door: {url}/ ")   # printed before the set-up starts


def test_an_explicit_public_url_wins() -> None:
    assert set(_recipe("PORT=8617", env={"HOCVU_PUBLIC_URL": "https://hub.example.vn"})) == {
        "HOCVU_PUBLIC_URL=https://hub.example.vn"}
    assert _front_door("PORT=8617", env={"HOCVU_PUBLIC_URL": "https://hub.example.vn"}).startswith(
        "front door: https://hub.example.vn/ ")


def test_the_demo_vneid_provider_follows_the_public_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOCVU_PUBLIC_URL", "http://127.0.0.1:8618")
    monkeypatch.setenv("HOCVU_DEMO_IDP", "1")
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(tmp_path))
    settings = Settings.from_env()
    ids = configs.identity_settings(settings)
    assert ids.issuer.startswith("http://127.0.0.1:8618/") and ids.redirect_uri.startswith("http://127.0.0.1:8618/")


@pytest.mark.parametrize(("name", "value"), [("HOCVU_LTI_JWKS_MIN_AGE", "-1"), ("HOCVU_LTI_JWKS_MAX_AGE", "9999999"),
                                             ("HOCVU_LTI_JWKS_REFETCH_SECONDS", "7200"),
                                             ("HOCVU_LTI_TOKEN_MARGIN_SECONDS", "601")])
def test_lti_settings_out_of_range_stop_the_start(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        Settings.from_env()
