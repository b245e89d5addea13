"""identity.auditor.queries without HTTP: statuses the pages show (a stamped statement with no
signature, a statement with no chain entry, checkpoint cover), paging over tenants, and that
every query it makes is served by an index (SQLite's query plans)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import delete, event, text

from face_check.verification import CheckResult, Outcome
from hocvu.app import hub_certificates
from identity.auditor import parsing
from identity.auditor import queries as aq
from identity.auditor.http import CSV_COLUMNS, csv_row
from lrs.audit.chain import make_checkpoint, policy_of
from lrs.reserved_extensions import RESERVED_KEY
from lrs.storage import AuditEntry
from tests.identity.auditor.auditor_support import MATCH, database, new_tenant, write_attempt


def course() -> str:
    return f"https://hocvu.vn/activities/course/q-{uuid.uuid4().hex[:10]}"


def certs(app: Flask) -> list[bytes]:
    return hub_certificates(app)()


def find(app: Flask, **kw: Any) -> aq.AttemptPage:
    with database(app).session() as s:
        return aq.find_attempts(s, aq.AttemptQuery(**kw), certs(app))


def test_a_stamped_statement_without_signature_is_flagged(app: Flask) -> None:
    """Written before the stamp guard existed (the guard taken off this session): the stamp is
    there, the signature is not, and the attempt is listed under 'signature invalid'."""
    where = course()
    tenant = new_tenant(app)
    original = database(app).sessions.kw["info"]
    database(app).sessions.kw["info"] = {k: v for k, v in original.items() if k != RESERVED_KEY}
    try:
        w = write_attempt(app, tenant, course=where, checks=[MATCH], sign=False)
    finally:
        database(app).sessions.kw["info"] = original
    page = find(app, course=where, problems=frozenset({"signature_invalid"}))
    assert [a.session_id for a in page.attempts] == [w.session_id]
    assert {s.signature for s in page.attempts[0].statements} == {"missing"}


def test_chain_inclusion_and_checkpoint_cover(app: Flask) -> None:
    where = course()
    tenant = new_tenant(app)
    w = write_attempt(app, tenant, course=where, checks=[MATCH])
    (attempt,) = find(app, course=where).attempts
    assert [(s.chain, s.chain_position, s.checkpointed) for s in attempt.statements] == [
        ("included", 1, False), ("included", 2, False)]
    with database(app).session() as s:
        assert make_checkpoint(s, tenant[1], policy_of(s), force=True) is not None
        s.commit()
    (attempt,) = find(app, course=where).attempts
    assert all(s.checkpointed for s in attempt.statements)
    with database(app).session() as s:  # the entry of the second statement removed
        s.execute(delete(AuditEntry).where(AuditEntry.tenant_id == tenant[1], AuditEntry.statement_id == w.ids[1]))
        s.commit()
    (attempt,) = find(app, course=where).attempts
    assert [s.chain for s in attempt.statements] == ["included", "missing"] and attempt.chain_problems == 1


def test_pages_across_tenants_list_each_attempt_once(app: Flask) -> None:
    where = course()
    written = [write_attempt(app, new_tenant(app), course=where, checks=[MATCH, MATCH, MATCH]) for _ in range(3)]
    seen: list[str] = []
    q = aq.AttemptQuery(course=where, limit=2)
    while True:
        with database(app).session() as s:
            page = aq.find_attempts(s, q, certs(app))
        seen += [a.session_id for a in page.attempts]
        if page.cursor is None:
            break
        assert parsing.decode_cursor(parsing.encode_cursor(page.cursor)) == page.cursor
        q = aq.AttemptQuery(course=where, limit=2, after=page.cursor)
    assert sorted(seen) == sorted(w.session_id for w in written)
    # A scan bound stops early with a cursor to go on from, and loses nothing.
    with database(app).session() as s:
        first = aq.find_attempts(s, aq.AttemptQuery(course=where, max_scan=1), certs(app))
    assert len(first.attempts) == 1 and first.cursor is not None


def test_a_course_iri_with_like_wildcards_matches_only_itself(app: Flask) -> None:
    base = course()
    tenant = new_tenant(app)
    w = write_attempt(app, tenant, course=base + "_x", checks=[MATCH])
    write_attempt(app, tenant, course=base + "ax", checks=[MATCH])
    assert [a.session_id for a in find(app, course=base + "_x").attempts] == [w.session_id]
    assert find(app, course=base + "%").attempts == []


def test_an_unknown_level_and_no_distance_read_as_blank(app: Flask) -> None:
    where = course()
    no_face = CheckResult(Outcome.NO_FACE, None, 0.4, "euclidean_l2")
    w = write_attempt(app, new_tenant(app), course=where, checks=[no_face], level=None)  # type: ignore[arg-type]
    (attempt,) = find(app, course=where).attempts
    assert attempt.level is None and attempt.outcome == "unverified" and attempt.checks[0].distance is None
    row = dict(zip(CSV_COLUMNS, csv_row(attempt), strict=True))
    assert row["level"] == "" and row["check_distances"] == "" and row["check_outcomes"] == "no_face"
    assert row["session_id"] == w.session_id


@contextmanager
def captured(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []
    engine = database(app).engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_every_query_is_served_by_an_index(sqlite_app: Flask) -> None:
    """No full scan of statements, chain entries or attachments, whatever their size: SQLite's
    plan for each query find_attempts and get_attempt make SEARCHes an index (tenants, a small
    table, may be scanned)."""
    where = course()
    tenant = new_tenant(sqlite_app)
    w = write_attempt(sqlite_app, tenant, course=where, checks=[MATCH, MATCH])
    with captured(sqlite_app) as seen:
        find(sqlite_app, tenant=tenant[0], course=where, since=parsing.parse_bound("2020-01-01", "since"))
        with database(sqlite_app).session() as s:
            aq.get_attempt(s, w.tenant, w.registration, w.session_id, certs(sqlite_app))
    assert len(seen) >= 5
    with database(sqlite_app).engine.connect() as conn:
        for statement, params in seen:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            scans = [p for p in plan if p.startswith("SCAN") and "tenants" not in p]
            # An index on the tenant alone walks the tenant's whole table: not good enough either.
            tenant_wide = [p for p in plan if p.endswith("(tenant_id=?)") and "audit_checkpoints" not in p]
            assert not scans and not tenant_wide, (statement, plan)
        assert conn.execute(text("SELECT 1")).scalar() == 1
