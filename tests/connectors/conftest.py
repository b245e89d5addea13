"""Fixtures for tests/connectors."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.connectors.import_support import Target, new_target


@pytest.fixture
def import_tenant(app: Flask) -> Target:
    """A fresh tenant for an importer test, on each backend the ``app`` fixture runs."""
    return new_target(app)
