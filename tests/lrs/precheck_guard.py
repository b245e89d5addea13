"""A pytest plugin, not a test module: ``tests/lrs/test_statement_precheck.py`` runs the schemas'
own tests (tests/schemas: every valid and invalid example, the fuzz generators) with it loaded.
Each statement those tests validate is also put to the fast pre-check (schemas.xapi_precheck);
where the pre-check accepts and the schemas refuse, the test at hand fails with the statement."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import schemas

_original = schemas.validate_statement
_seen = {"accepted": 0, "asked": 0}


def _guarded(data: Any, version: Any) -> None:
    try:
        text: bytes | None = orjson.dumps(data)
    except TypeError:
        text = None
    accepted = schemas.precheck_accepts(data, version, text)
    _seen["asked"] += 1
    _seen["accepted"] += accepted
    try:
        _original(data, version)
    except Exception as err:
        if accepted:
            raise AssertionError(f"the pre-check accepted what the schemas refuse under {version}: {data!r} "
                                 f"({err})") from err
        raise


def pytest_configure(config: pytest.Config) -> None:
    schemas.validate_statement = _guarded  # type: ignore[assignment]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"precheck-guard: {_seen['asked']} statements validated, "
                                f"{_seen['accepted']} accepted by the pre-check")
