"""Migration 0211: the LTI tool's per-tenant tables keep every primary, unique and foreign key
prefixed by tenant_id (issue 17 item 5b; Citus: distributed tables' unique and foreign keys include
the distribution column). Rows written before it keep their values, the two tables that had no
tenant_id get their parent's, the downgrade restores the old keys, and the product's own inserts
still work afterwards (new ids drawn from the same sequences)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hocvu import db as dbops
from lrs import credentials
from lrs.storage import Database, Tenant
from lti_tool import claims as lti
from lti_tool import dynamic_registration
from lti_tool.proctoring import messages as proctoring
from lti_tool.proctoring import session as proctoring_session
from lti_tool.registrations import PlatformSpec, add_platform
from lti_tool.storage import LtiDeployment, LtiProctoringControl
from tests.test_tenant_keys import KEYS

TABLES = ("lti_deployments", "lti_registration_invites", "lti_score_outbox", "lti_proctoring_sessions",
          "lti_proctoring_controls", "lti_resource_links")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _insert(conn: sa.Connection, table: str, **values: Any) -> int:
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    return int(conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"),
                            values).scalar_one())


def _registration(conn: sa.Connection, tenant: int, issuer: str) -> int:
    return _insert(conn, "lti_registrations", tenant_id=tenant, issuer=issuer, client_id="c", name="",
                   auth_login_url=issuer + "/auth", token_url=issuer + "/token", keyset_url=issuer + "/jwks",
                   created=NOW)


def _session(conn: sa.Connection, tenant: int, registration: int, sub: str) -> int:
    return _insert(conn, "lti_proctoring_sessions", public_id=f"p-{sub}", tenant_id=tenant,
                   registration_id=registration, issuer="https://lms", deployment_id="d1", sub=sub,
                   resource_link_id="exam", context_id="", attempt_number=1,
                   start_assessment_url="https://lms/start", acs_actions="[]", failure_action="flag",
                   gate_target="", end_assessment_return=True, state="pending", flags=0, created=NOW,
                   updated=NOW)


def _seed(conn: sa.Connection) -> dict[str, int]:
    """Two tenants with a row or more in each table, at revision 0030 (plain SQL: that schema)."""
    ids = {"a": _insert(conn, "tenants", slug="a", name="A", created=NOW),
           "b": _insert(conn, "tenants", slug="b", name="B", created=NOW)}
    ids["reg_a"] = _registration(conn, ids["a"], "https://lms-a.example")
    ids["reg_b"] = _registration(conn, ids["b"], "https://lms-b.example")
    for reg, dep in (("reg_a", "d1"), ("reg_a", "d2"), ("reg_b", "d1")):
        _insert(conn, "lti_deployments", registration_id=ids[reg], deployment_id=dep, created=NOW)
    for t, reg in (("a", ids["reg_a"]), ("b", None)):
        _insert(conn, "lti_registration_invites", tenant_id=ids[t], token_hash=f"h-{t}", created=NOW,
                expires=NOW + timedelta(days=1), registration_id=reg)
        _insert(conn, "lti_score_outbox", tenant_id=ids[t], registration_id=ids[f"reg_{t}"],
                lineitem_url="https://lms/li", scopes="[]", score="{}", status="pending", attempts=0,
                next_attempt=NOW, created=NOW)
        _insert(conn, "lti_resource_links", tenant_id=ids[t], registration_id=ids[f"reg_{t}"], deployment_id="d1",
                resource_link_id="rl", title="", lineitems_url="https://lms/lis", scopes="[]", updated=NOW)
        ids[f"session_{t}"] = _session(conn, ids[t], ids[f"reg_{t}"], f"learner-{t}")
    for session in (ids["session_a"], ids["session_a"], ids["session_b"]):
        _insert(conn, "lti_proctoring_controls", session_id=session, action="flag", incident_severity=1.0,
                incident_time=NOW, outcome="sent", created=NOW)
    return ids


def _rows(conn: sa.Connection, table: str) -> list[tuple[Any, ...]]:
    """The table's rows, every column but tenant_id (which 0211 adds to two of them), by id."""
    columns = [c["name"] for c in sa.inspect(conn).get_columns(table) if c["name"] != "tenant_id"]
    return [tuple(r) for r in conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"))]


def _keys(conn: sa.Connection) -> dict[str, set[tuple[str, tuple[str, ...], str | None]]]:
    """(kind, columns, referred table) of each key of TABLES: PostgreSQL's constraints; SQLite's
    unique keys and foreign keys (its primary keys stay `id`, as SQLite's autoincrement needs)."""
    keys: dict[str, set[tuple[str, tuple[str, ...], str | None]]] = {t: set() for t in TABLES}
    if conn.dialect.name == "postgresql":
        for k in conn.execute(KEYS):
            if k.tbl in keys:
                keys[k.tbl].add((k.contype, tuple(k.cols), k.target if k.contype == "f" else None))
        return keys
    inspector = sa.inspect(conn)
    for table in TABLES:
        keys[table] |= {("u", tuple(u["column_names"]), None) for u in inspector.get_unique_constraints(table)}
        keys[table] |= {("f", tuple(f["constrained_columns"]), f["referred_table"])
                        for f in inspector.get_foreign_keys(table)}
    return keys


def _downgrade(database: Database, revision: str) -> None:
    cfg = dbops.alembic_config(database)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def test_lti_keys_lead_with_tenant_id_and_rows_survive_migration_0211(fresh_url: str) -> None:
    database = Database(fresh_url)
    dbops.upgrade(database, "0030")
    with database.engine.begin() as conn:
        ids = _seed(conn)
        before = {t: _rows(conn, t) for t in TABLES}
        old_keys = _keys(conn)
    dbops.upgrade(database, "0211")
    with database.engine.connect() as conn:
        assert {t: _rows(conn, t) for t in TABLES} == before
        deployments = conn.execute(sa.text("SELECT d.tenant_id, r.tenant_id FROM lti_deployments d "
                                           "JOIN lti_registrations r ON r.id = d.registration_id")).all()
        assert sorted(d for d, _ in deployments) == [ids["a"], ids["a"], ids["b"]]
        assert all(d == r for d, r in deployments)
        controls = conn.execute(sa.text("SELECT session_id, tenant_id FROM lti_proctoring_controls ORDER BY id")).all()
        assert [tuple(c) for c in controls] == [(ids["session_a"], ids["a"]), (ids["session_a"], ids["a"]),
                                                (ids["session_b"], ids["b"])]
        new_keys = _keys(conn)
    # SQLite keeps the control's plain key to its session (the composite one is PostgreSQL's).
    sqlite_only = {("f", ("session_id",), "lti_proctoring_sessions")} if database.dialect == "sqlite" else set()
    for table, keys in new_keys.items():
        led = {k for k in keys if k[1][0] == "tenant_id"}
        # Keys to lti_registrations (a reference table: read before the tenant is known) may stay.
        assert keys - led - sqlite_only == {k for k in keys if k[0] == "f" and k[2] == "lti_registrations"}, table
        assert any(k[0] == "u" for k in led) or table in ("lti_score_outbox", "lti_proctoring_controls")
    if database.dialect == "postgresql":
        assert ("f", ("tenant_id", "session_id"), "lti_proctoring_sessions") in new_keys["lti_proctoring_controls"]
        assert all(("p", ("tenant_id", "id"), None) in new_keys[t] for t in TABLES)
    _downgrade(database, "0030")
    with database.engine.connect() as conn:
        assert _keys(conn) == old_keys and {t: _rows(conn, t) for t in TABLES} == before
    dbops.upgrade(database)   # up again, to every head: today's schema, which the product code writes
    _product_inserts_still_work(database, ids)
    database.dispose()


def _start_claims(issuer: str, deployment_id: str, sub: str) -> dict[str, Any]:
    return {"iss": issuer, "sub": sub, lti.VERSION: "1.3.0", lti.MESSAGE_TYPE: proctoring.START_PROCTORING,
            lti.ROLES: [], lti.DEPLOYMENT_ID: deployment_id, lti.RESOURCE_LINK: {"id": "exam"},
            proctoring.START_ASSESSMENT_URL: "https://lms-a.example/start", proctoring.ATTEMPT_NUMBER: 1}


def _product_inserts_still_work(database: Database, ids: dict[str, int]) -> None:
    spec = PlatformSpec("https://lms-a.example", "c", "https://lms-a.example/auth", "https://lms-a.example/token",
                        "https://lms-a.example/jwks")
    with database.session() as s:
        tenant_a = s.get(Tenant, ids["a"])
        assert tenant_a is not None
        registration = add_platform(s, tenant_a, spec, ["d3"])
        [added] = [d for d in registration.deployments if d.deployment_id == "d3"]
        invite, _ = dynamic_registration.create_invite(s, tenant_a)
        started = proctoring_session.record_start(s, _start_claims(spec.issuer, "d1", "learner-new"),
                                                  tenant_id=ids["a"], registration_id=ids["reg_a"])
        control = LtiProctoringControl(tenant_id=started.tenant_id, session_id=started.id, action="flag",
                                       incident_severity=1.0, incident_time=NOW, outcome="sent", created=NOW)
        s.add(control)
        s.commit()
        assert (added.tenant_id, added.id) == (ids["a"], 4)   # three deployments were seeded
        assert (invite.id, started.id, control.id) == (3, ids["session_b"] + 1, 4)
        assert s.scalar(sa.select(sa.func.count()).select_from(LtiDeployment)) == 4


def _two_tenants_with_a_session(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        # The app's database is shared by the session's tests: names of this test's own.
        suffix = uuid.uuid4().hex[:8]
        tenants = [credentials.create_tenant(s, f"{slug}-{suffix}", slug) for slug in ("ka", "kb")]
        issuer = f"https://lms-{suffix}.example"
        spec = PlatformSpec(issuer, "c", issuer + "/auth", issuer + "/token", issuer + "/jwks")
        registration = add_platform(s, tenants[0], spec, ["d1"])
        started = proctoring_session.record_start(s, _start_claims(issuer, "d1", "learner-ka"), tenant_id=tenants[0].id,
                                                  registration_id=registration.id)
        s.commit()
        return tenants[0].id, tenants[1].id, started.id


def _control(s: Session, tenant_id: int, session_id: int) -> None:
    s.add(LtiProctoringControl(tenant_id=tenant_id, session_id=session_id, action="flag", incident_severity=1.0,
                               incident_time=NOW, outcome="sent", created=NOW))
    s.flush()


@pytest.mark.postgres
def test_a_control_cannot_point_at_another_tenants_proctoring_session(postgresql_app: Flask) -> None:
    """The composite key (tenant_id, session_id) -> lti_proctoring_sessions (tenant_id, id) refuses a
    control of tenant B naming tenant A's session (issue 17 item 5b: one tenant can never reach
    another's rows, and on Citus both rows live on the tenant's shard)."""
    db: Database = postgresql_app.extensions["hocvu.db"]
    tenant_a, tenant_b, session_id = _two_tenants_with_a_session(db)
    with db.session() as s:
        _control(s, tenant_a, session_id)   # its own tenant: accepted
        with pytest.raises(IntegrityError, match="lti_proctoring_controls_tenant_id_session_id_fkey"):
            _control(s, tenant_b, session_id)
