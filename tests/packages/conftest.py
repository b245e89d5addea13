"""The hub with a package folder of its own (tmp), on SQLite and PostgreSQL, and an administrator
of the national tenant (who manages the shared catalogue)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from flask import Flask

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database


def _app(url: str, instance: Path) -> Flask:
    database = Database(url)
    dbops.upgrade(database)
    return create_app(Settings.of(database_url=url, secret_key="test-secret", instance_dir=instance,
                                  packages_dir=instance / "packages", package_fetch_hosts=("127.0.0.1",),
                                  package_fetch_allow_http=True, package_fetch_allow_loopback=True), db=database)


@pytest.fixture(scope="session")
def sqlite_pkg_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    d = tmp_path_factory.mktemp("pkg")
    return _app(f"sqlite:///{d / 'hocvu.db'}", d)


@pytest.fixture(scope="session")
def postgresql_pkg_app(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return _app(pg_url, tmp_path_factory.mktemp("pkgpg"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pkg_app(request: pytest.FixtureRequest) -> Flask:
    return request.getfixturevalue(f"{request.param}_pkg_app")  # type: ignore[no-any-return]


def national_admin(app: Flask) -> dict[str, str]:
    """Basic auth headers of an `all` credential of the national tenant."""
    database: Database = app.extensions["hocvu.db"]
    slug = app.extensions["hocvu.settings"].hub.national_tenant
    with database.session() as s:
        try:
            tenant = credentials.get_tenant(s, slug)
        except Exception:
            tenant = credentials.create_tenant(s, slug, "national")
        cred, secret = credentials.create_credential(s, tenant, "admin", ["all"])
        s.commit()
        token = base64.b64encode(f"{cred.key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin(pkg_app: Flask) -> dict[str, str]:
    return national_admin(pkg_app)
