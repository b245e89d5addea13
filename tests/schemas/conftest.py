"""Fixtures for the schemas tests: statement builders and accept/reject checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from xapi_samples import VERSIONS, choice_activity, full_statement, messages_for, minimal_statement


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    """Runs a test once under xAPI 1.0.3 and once under xAPI 2.0.0."""
    return request.param


@pytest.fixture
def statement() -> dict[str, Any]:
    return minimal_statement()


@pytest.fixture
def full() -> dict[str, Any]:
    return full_statement()


@pytest.fixture
def activity() -> dict[str, Any]:
    return choice_activity()


@pytest.fixture
def accepts(version: str) -> Callable[[Any], None]:
    def check(data: Any) -> None:
        assert messages_for(data, version) is None

    return check


@pytest.fixture
def rejects(version: str) -> Callable[..., Any]:
    """Asserts ``data`` is rejected and returns the messages found at ``path`` (if given)."""

    def check(data: Any, *path: str | int) -> Any:
        found = messages_for(data, version)
        assert found is not None, "expected a ValidationError"
        for key in path:
            assert isinstance(found, dict) and key in found, f"no error at {key!r} in {found!r}"
            found = found[key]
        return found

    return check
