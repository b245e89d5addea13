"""Proof bundles (identity.auditor.proof_bundle) and ``hocvu audit verify-bundle``: a bundle downloaded from
/audit verifies offline, with no database and no network; one changed byte of a statement, a
signature, a chain entry or the checkpoint is found and named, and the command exits 1."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from hocvu.cli import main
from identity.auditor.proof_bundle import FORMAT, VERSION, verify_bundle
from identity.signing import load_signing_material
from lrs.audit.chain import CHAIN_VERSION
from tests.identity.auditor.auditor_support import (
    MATCH,
    NO_MATCH,
    Written,
    access_entries,
    basic,
    national,
    new_tenant,
    write_attempt,
)

COURSE = "https://hocvu.vn/activities/course/bundle-tests"


@pytest.fixture
def auditor(app: Flask) -> dict[str, str]:
    return basic(*national(app, "auditor"))


def download(app: Flask, headers: dict[str, str], **params: Any) -> bytes:
    res = app.test_client().get("/audit/bundle", query_string=params, headers=headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["Content-Disposition"].startswith('attachment; filename="proof-')
    return res.get_data()


def attempt_bundle(app: Flask, headers: dict[str, str], w: Written) -> bytes:
    return download(app, headers, tenant=w.tenant, registration=w.registration, session=w.session_id)


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on: no network (every socket refuses) and no database settings at all. Called
    after the bundle is downloaded (the app's PostgreSQL is a network peer)."""
    def refuse(*_: Any, **__: Any) -> None:
        raise OSError("network access attempted by an offline check")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for name in ("HOCVU_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def verify_cli(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify-bundle", str(path), *args])
    return result.exit_code, result.output


def test_an_attempts_bundle_round_trip_verifies_offline(app: Flask, auditor: dict[str, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    w = write_attempt(app, new_tenant(app), course=COURSE, checks=[MATCH, NO_MATCH])
    data = attempt_bundle(app, auditor, w)
    bundle = json.loads(data)
    assert bundle["format"] == FORMAT and bundle["version"] == VERSION
    assert bundle["chain"]["version"] == CHAIN_VERSION
    assert bundle["selection"] == {"attempt": {"registration": w.registration, "session_id": w.session_id}}
    assert [s["statement"]["id"] for s in bundle["statements"]] == w.ids
    assert all(len(s["signatures"]) == 1 for s in bundle["statements"])
    cp = bundle["chain"]["checkpoint"]
    assert cp is not None and cp["position"] == bundle["chain"]["entries"][-1]["position"]
    # The download's own access entry is in the segment it proves (the checkpoint was signed after it).
    kinds = [e["kind"] for e in bundle["chain"]["entries"]]
    assert kinds == ["stored"] * 4 + ["access"]
    assert access_entries(app, w.tenant_id)[-1]["detail"]["view"] == "bundle"

    go_offline(monkeypatch)
    path = tmp_path / "proof.json"
    path.write_bytes(data)
    report = verify_bundle(path)
    assert report.ok, report.failure
    assert (report.statements, report.signatures, report.entries) == (4, 4, 5)
    code, out = verify_cli(path)
    assert code == 0 and "VERIFIED" in out, out
    code, out = verify_cli(path, "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_a_bundle_of_chosen_statements(app: Flask, auditor: dict[str, str], tmp_path: Path) -> None:
    w = write_attempt(app, new_tenant(app), course=COURSE, checks=[MATCH, MATCH])
    data = download(app, auditor, tenant=w.tenant, statement=[w.ids[1], w.ids[2]])
    bundle = json.loads(data)
    assert [s["statement"]["id"] for s in bundle["statements"]] == [w.ids[1], w.ids[2]]
    assert verify_bundle(data).ok
    res = app.test_client().get("/audit/bundle", query_string={"tenant": w.tenant, "statement": str(uuid.uuid4())},
                                headers=auditor)
    assert res.status_code == 404


def flip(text: str, pattern: str, *, last: bool = False) -> str:
    """Change one character (one byte: ASCII) right after the first (or last) match of ``pattern``."""
    matches = list(re.finditer(pattern, text))
    assert matches, pattern
    m = matches[-1] if last else matches[0]
    i = m.end()
    swapped = "0" if text[i] != "0" else "1"
    if text[i] in "-_" or not text[i].isalnum():
        raise AssertionError(f"{pattern!r} is not followed by a letter or digit")
    return text[:i] + swapped + text[i + 1:]


@pytest.fixture
def good_bundle(app: Flask, auditor: dict[str, str]) -> tuple[Written, str]:
    w = write_attempt(app, new_tenant(app), course=COURSE, checks=[MATCH, MATCH])
    return w, attempt_bundle(app, auditor, w).decode("utf-8")


def test_a_changed_byte_of_a_statement_is_named(good_bundle: tuple[Written, str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    w, text = good_bundle
    # The first statement's stamp subject (a pseudonym in hex): its signature no longer matches.
    path = tmp_path / "statement.json"
    path.write_text(flip(text, r'"subject": "hocvu-subject:'))
    report = verify_bundle(path)
    assert report.failure is not None and report.failure.kind == "signature"
    assert report.failure.statement_id == w.ids[0]
    code, out = verify_cli(path)
    assert code == 1 and f"statement {w.ids[0]}" in out and "FAILED" in out


def test_a_changed_byte_of_an_unsigned_statement_is_named_by_the_chain(app: Flask, auditor: dict[str, str],
                                                                       tmp_path: Path) -> None:
    w = write_attempt(app, new_tenant(app), course=COURSE, checks=[MATCH])
    bundle = json.loads(attempt_bundle(app, auditor, w))
    # Without its signature (as if it had none), the chain alone must catch the change.
    item = bundle["statements"][1]
    item["statement"].pop("attachments")
    item["statement"]["context"]["extensions"].pop("https://hocvu.vn/xapi/extensions/identity-verification")
    item["signatures"] = {}
    report = verify_bundle(json.dumps(bundle).encode())
    assert report.failure is not None and report.failure.kind == "statement"
    assert report.failure.statement_id == w.ids[1] and "canonical hash" in report.failure.reason


def test_a_changed_byte_of_a_signature_is_named(good_bundle: tuple[Written, str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    w, text = good_bundle
    bundle = json.loads(text)
    token = next(iter(bundle["statements"][2]["signatures"].values()))
    signature = token.rsplit(".", 1)[1]
    at = token.index(signature) + len(signature) // 2
    changed = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]
    path = tmp_path / "signature.json"
    path.write_text(text.replace(token, changed))
    code, out = verify_cli(path)
    assert code == 1 and f"statement {w.ids[2]}" in out and "signature failed" in out, out


def test_a_changed_byte_of_a_chain_entry_is_named(good_bundle: tuple[Written, str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    _, text = good_bundle
    bundle = json.loads(text)
    third = bundle["chain"]["entries"][2]
    path = tmp_path / "entry.json"
    path.write_text(flip(text, '"content_hash": "' + third["content_hash"][:10]))
    report = verify_bundle(path)
    assert report.failure is not None and report.failure.kind == "entry"
    assert report.failure.position == third["position"]
    code, out = verify_cli(path)
    assert code == 1 and f"entry at position {third['position']}" in out, out


def test_a_changed_byte_of_the_checkpoint_is_named(good_bundle: tuple[Written, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    _, text = good_bundle
    cp = json.loads(text)["chain"]["checkpoint"]
    signature = cp["jws"].rsplit(".", 1)[1]
    changed = signature[:20] + ("A" if signature[20] != "A" else "B") + signature[21:]
    path = tmp_path / "checkpoint.json"
    path.write_text(text.replace(signature, changed))
    code, out = verify_cli(path)
    assert code == 1 and "checkpoint failed" in out and f"position {cp['position']}" in out, out
    # Its recorded hash changed instead: it no longer signs what the chain holds there.
    path.write_text(flip(text, '"entry_hash": "' + cp["entry_hash"][:10], last=True))
    code, out = verify_cli(path)
    assert code == 1 and f"checkpoint at position {cp['position']} records hash" in out, out
    # Moved to another position: the hash it signs is not the chain's there.
    moved = json.loads(text)
    moved["chain"]["checkpoint"]["position"] -= 1
    report = verify_bundle(json.dumps(moved).encode())
    assert report.failure is not None and report.failure.kind == "checkpoint"


def test_a_pinned_certificate_defeats_a_replaced_one(good_bundle: tuple[Written, str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    _, text = good_bundle
    path = tmp_path / "proof.json"
    path.write_text(text)
    other = tmp_path / "other.pem"
    other.write_bytes(load_signing_material(tmp_path / "other").cert_pem)
    hub = tmp_path / "hub.pem"
    hub.write_text(json.loads(text)["certificates"][0])
    assert verify_cli(path, "--cert", str(hub))[0] == 0
    code, out = verify_cli(path, "--cert", str(other))
    assert code == 1 and "signature failed" in out


def test_not_a_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": FORMAT, "version": 99}))
    code, out = verify_cli(path)
    assert code == 1 and "version 99" in out
    path.write_text("{")
    assert verify_cli(path)[0] == 1


def test_the_cli_writes_the_same_bundle(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = write_attempt(app, new_tenant(app), course=COURSE, checks=[MATCH])
    monkeypatch.setenv("HOCVU_DATABASE_URL", app.extensions["hocvu.db"].url)
    # The same hub: its instance folder holds the key that signed the attempt's statements.
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(app.extensions["hocvu.settings"].hub.instance_dir))
    out = tmp_path / "cli.json"
    result = CliRunner().invoke(main, ["audit", "bundle", "--tenant", w.tenant, "--registration", w.registration,
                                       "--session", w.session_id, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert verify_bundle(out).ok
    assert access_entries(app, w.tenant_id)[-1]["actor"].startswith("cli:")
