"""Fixtures for tests/connectors."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.connectors.import_support import Target, new_target


@pytest.fixture
def import_tenant(app: Flask) -> Target:
    """A fresh tenant for an importer test, on each backend the ``app`` fixture runs."""
    return new_target(app)


# --- forwarding (tests/connectors/forwarding_support.py) ---------------------------------------


@pytest.fixture(scope="module")
def target_lrs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A second hocvu LRS on its own SQLite database, served over HTTP on loopback."""
    from tests.connectors.forwarding.forwarding_support import LrsServer

    server = LrsServer(f"sqlite:///{tmp_path_factory.mktemp('target') / 'target.db'}").start()
    yield server
    server.stop()


@pytest.fixture
def source(app: Flask):  # type: ignore[no-untyped-def]
    """The forwarding source: a fresh tenant on the ``app`` fixture (SQLite and PostgreSQL)."""
    from tests.connectors.forwarding.forwarding_support import make_source, remove_targets

    made = make_source(app)
    yield made
    remove_targets(made)  # no target of this test is left for another test's rounds
