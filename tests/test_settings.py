"""The one validated settings tree (hocvu.settings): every HOCVU_* variable declared once with its
type, default, unit and range; a bad value stops start-up and every CLI command with one line that
names the variable, the value and what is allowed; the README's table is the tree's."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hocvu.cli_settings import markdown_table
from hocvu.settings import SettingError, Settings, variables

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("schemas", "lrs", "face_check", "identity", "player", "lti_tool", "credentials", "connectors", "hocvu")
# Where reading the process environment is the point: the tree itself, and face_check handing
# DeepFace its home (DeepFace reads DEEPFACE_HOME, not a parameter).
ENV_READERS = {"hocvu/settings.py", "face_check/models.py"}


def _product_files() -> list[Path]:
    return [p for pkg in PRODUCT if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")
            if "migrations" not in p.parts]


@pytest.mark.parametrize(("env", "line"), [
    ({"HOCVU_FORWARD_SECONDS": "thirty"},
     "HOCVU_FORWARD_SECONDS='thirty' is not allowed: a number (seconds), at least 0"),
    ({"HOCVU_AUDIT_CHECKPOINT_EVERY": "-5"},
     "HOCVU_AUDIT_CHECKPOINT_EVERY='-5' is not allowed: a whole number (entries), at least 1"),
    ({"HOCVU_AUDIT_CHECKPOINT_MINUTES": "0"}, "HOCVU_AUDIT_CHECKPOINT_MINUTES='0' is not allowed: a number "
                                              "(minutes), more than 0"),
    ({"HOCVU_MAX_PAGE_SIZE": "1e3"}, "HOCVU_MAX_PAGE_SIZE='1e3' is not allowed: a whole number, at least 1 and at "
                                     "most 10000"),
    ({"HOCVU_SCORE_RETRY_SECONDS": "nan"}, "HOCVU_SCORE_RETRY_SECONDS='nan' is not allowed"),
    ({"HOCVU_DEMO_IDP": "maybe"}, "HOCVU_DEMO_IDP='maybe' is not allowed: 1/0, true/false, yes/no or on/off"),
    ({"HOCVU_PUBLIC_URL": "hocvu.example"}, "HOCVU_PUBLIC_URL='hocvu.example' is not allowed: a URL"),
    ({"HOCVU_VNEID_TOKEN_AUTH_METHOD": "magic"}, "is not allowed: one of client_secret_basic, client_secret_post"),
])
def test_a_bad_value_is_one_line_naming_variable_value_and_rule(env: dict[str, str], line: str) -> None:
    with pytest.raises(SettingError) as caught:
        Settings.from_env(env)
    assert line in str(caught.value) and "\n" not in str(caught.value)


def test_a_secret_value_is_never_shown() -> None:
    with pytest.raises(SettingError) as caught:
        Settings.from_env({"HOCVU_FACE_KEY": "c2VjcmV0LXZhbHVl"})
    assert "c2VjcmV0" not in str(caught.value) and "HOCVU_FACE_KEY=(hidden)" in str(caught.value)


def test_defaults_and_values_are_typed() -> None:
    s = Settings.from_env({"HOCVU_FORWARD_SECONDS": " 12.5 ", "HOCVU_DEMO_IDP": "yes", "HOCVU_MAX_PAGE_SIZE": "",
                           "HOCVU_VNEID_SCOPES": "openid  profile vneid"})
    assert s.forwarding.forward_seconds == 12.5 and s.vneid.demo_idp is True
    assert s.lrs.max_page_size == 500  # empty is unset
    assert s.vneid.vneid_scopes == ("openid", "profile", "vneid")
    assert Settings.from_env({}).lti.score_retry_seconds == 60 and Settings.of().lti.score_retry_seconds == 0


def test_the_cli_stops_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """`HOCVU_FORWARD_SECONDS=thirty hocvu tenant list` (issue 10): one line, no traceback, exit 2."""
    env = {**os.environ, "HOCVU_FORWARD_SECONDS": "thirty", "HOCVU_INSTANCE_DIR": str(tmp_path)}
    hocvu = Path(sys.executable).parent / "hocvu"
    command = [str(hocvu)] if hocvu.exists() else [sys.executable, "-m", "hocvu.cli"]
    done = subprocess.run([*command, "tenant", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "hocvu: HOCVU_FORWARD_SECONDS='thirty' is not allowed: a number (seconds), at least 0"]


def test_the_web_process_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "HOCVU_AUDIT_CHECKPOINT_EVERY": "-5", "HOCVU_INSTANCE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import hocvu.wsgi"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "HOCVU_AUDIT_CHECKPOINT_EVERY='-5' is not allowed" in done.stderr


def test_every_variable_the_code_names_is_in_the_tree() -> None:
    declared = {v.env for _, _, v in variables()}
    named = {m for p in _product_files() for m in re.findall(r"HOCVU_[A-Z0-9_]+", p.read_text())}
    named -= {"HOCVU_VNEID_"}  # a prefix in prose
    assert named <= declared, f"not in hocvu.settings: {sorted(named - declared)}"


def test_no_package_reads_the_environment() -> None:
    """DESIGN.md Conventions: settings come from one place; a package gets typed configuration."""
    readers = []
    for path in _product_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ENV_READERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(f"{rel}:{node.lineno}")
    assert readers == []


def test_the_readme_table_is_the_tree() -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert found is not None, "README.md has no settings table between its markers"
    assert found.group(1).strip() == markdown_table().strip(), "regenerate: hocvu settings table"
