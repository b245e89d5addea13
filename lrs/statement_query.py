"""Reading statements: GET /statements (xAPI 1.0.3 Part Three §2.1.3 / IEEE 9274.1.1 §4.1.6.1).

Pages are keyset cursors over the monotonic ``seq`` (never offsets), carried in an opaque,
HMAC-signed ``more`` token so a client can neither forge nor widen a query with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Text, cast, exists, select, text, true, tuple_
from sqlalchemy.orm import Session, aliased

import schemas
from lrs.audit.archived import archived_months
from lrs.credentials import Principal
from lrs.errors import BadRequest, NotFound
from lrs.query_params import AFTER_STORED, Query
from lrs.storage import Statement, StatementActivity, StatementAgent


@dataclass
class Page:
    statements: list[dict[str, Any]]
    more: str | None
    last_stored: datetime | None


def _filter_conditions(s: Any, tenant_id: int, q: Query) -> list[Any]:
    conds: list[Any] = [s.tenant_id == tenant_id]
    if q.verb:
        conds.append(s.verb_id == q.verb)
    if q.registration:
        conds.append(s.registration == q.registration)
    # A learner has few statements: `seq IN (uncorrelated subquery)` lets both databases start from
    # the side table's (tenant, key, seq) index (with a correlated EXISTS, SQLite walks the tenant's
    # statements newest first and probes each: 93 ms against 38 ms p95 at 50k, bench/statements.py).
    # An Activity (a course, with related_activities) has many: there the walk finds a page sooner
    # than gathering every match first, so it stays EXISTS (39 ms against 99 ms on SQLite).
    if q.agent:
        sa_ = select(StatementAgent.seq).where(StatementAgent.tenant_id == tenant_id,
                                               StatementAgent.agent_key == q.agent)
        conds.append(s.seq.in_(sa_ if q.related_agents else sa_.where(StatementAgent.direct.is_(True))))
    if q.activity:
        act = select(StatementActivity.seq).where(StatementActivity.seq == s.seq,
                                                  StatementActivity.tenant_id == tenant_id,
                                                  StatementActivity.activity_id == q.activity)
        conds.append(exists(act if q.related_activities else act.where(StatementActivity.direct.is_(True))))
    return conds


def _common_conditions(s: Any, principal: Principal, q: Query, *, seq_keyset: bool = True) -> list[Any]:
    conds: list[Any] = [s.voided.is_(False)]  # Part Two §2.3.2: voided statements are not returned by queries
    if principal.reads_only_own_statements:
        conds.append(s.credential_id == principal.credential_id)
    if q.since:
        conds.append(s.stored > q.since)
    if q.until:
        conds.append(s.stored <= q.until)
    if q.after_seq is not None and seq_keyset:
        conds.append(s.seq > q.after_seq if q.ascending else s.seq < q.after_seq)
    return conds


def _page_query(session: Session, columns: tuple[Any, ...], conds: list[Any], order: Any, limit: int, *,
                time_only: bool) -> Any:
    """One page in ``seq`` order. Filtered by stored time only, SQLite would take the rows from the
    (tenant_id, stored, voided) index and sort them whole, statement JSON included (0.3 s at 86,500
    statements): there the page's ``seq`` numbers are chosen from that index alone (a covering scan,
    sorting integers) and only the page's rows are read. PostgreSQL picks from its statistics
    between walking ``seq`` and the same index, so its query is left alone. bench/statements.py."""
    s = Statement
    if time_only and session.get_bind().dialect.name == "sqlite":
        page = select(s.seq).where(*conds).order_by(order).limit(limit)
        return select(*columns).where(s.seq.in_(page.scalar_subquery())).order_by(order)
    return select(*columns).where(*conds).order_by(order).limit(limit)


_LONG_NUMBER: Final = re.compile(r"[0-9]{19}")


def full_text(s: Any) -> Any:
    """PostgreSQL: the statement as stored, as its JSON text, which _document parses with orjson. The
    driver's own jsonb loader is the standard library's, 3x slower (23 against 8 ms for 500 stored
    statements, load average 4.4): a registration's page, up to the page cap (500) statements, spent
    about a third of its time there."""
    return cast(s.full, Text).label("full")


def _document(full: Any) -> Any:
    """A page row's statement: parsed from full_text's JSON text, or already a dict (SQLite)."""
    if not isinstance(full, str):
        return full
    if _LONG_NUMBER.search(full) is None:
        try:
            return orjson.loads(full)
        except orjson.JSONDecodeError:
            pass
    # orjson turns an integer past 64 bits into a float (2**70 + 1 came back 1.18e21): with a run
    # of 19 digits or more anywhere (an integer from -2**63 - 1 or 2**64 on has one), parse as the
    # driver would, with json.
    return json.loads(full)


def _time_query(principal: Principal, q: Query, limit: int) -> Any:
    """A page filtered by stored time only, on PostgreSQL, in (stored, seq) order (the order Part Three
    §2.1.3 names; ``seq`` breaks ties within a batch, which shares one ``stored``), walked on
    ix_statements_tenant_stored_seq from the bound, so a page reads its own rows. In ``seq`` order no
    index says where the matches start (``seq`` is drawn moments after ``stored`` is set, so concurrent
    batches interleave): ``until`` walked the primary key from the newest statement past every one
    stored after the bound (400k index entries: 50-165 ms at 2M), ``since`` a whole partition's key
    when it held nothing newer (3.3 s at 6.5M). The two orders differ only where batches were stored
    concurrently. The `more` cursor carries the last row's (stored, seq); one issued before carries
    seq alone and is continued by it."""
    s = Statement
    desc = not q.ascending
    conds = [s.tenant_id == principal.tenant_id, *_common_conditions(s, principal, q, seq_keyset=False)]
    if q.after_seq is not None and q.after_stored is not None:
        key, anchor = tuple_(s.stored, s.seq), tuple_(q.after_stored, q.after_seq)
        # The plain bound on `stored` too: it prunes the partitions past the anchor.
        conds += [key < anchor, s.stored <= q.after_stored] if desc else [key > anchor, s.stored >= q.after_stored]
    elif q.after_seq is not None:
        conds.append(s.seq < q.after_seq if desc else s.seq > q.after_seq)
    order = (s.stored.desc(), s.seq.desc()) if desc else (s.stored.asc(), s.seq.asc())
    return select(s.seq, full_text(s), s.stored).where(*conds).order_by(*order).limit(limit)


# Planner settings for one page's queries on PostgreSQL (set for them only, then put back).
# Sorting priced out, for since/until pages: their one plan without a sort is the walk of
# ix_statements_tenant_stored_seq in the page's order, with the page's LIMIT. Left to its statistics,
# the planner sorted every match whenever it expected few, which it does with none (a fresh bulk
# load, autovacuum off: 3,500 rows read and sorted for a page of 26, tests/lrs/test_query_plans_time.py)
# and with stale ones (a `since` past the newest stored time it knows of, though 100k were stored since).
NO_SORT: Final = {"enable_sort": "off", "enable_incremental_sort": "off"}
# No parallel workers, for every page: a page reads tens of rows, and without statistics the planner
# expected thousands of StatementRefs and started two workers for the side query to find none
# (20 ms of a 23 ms query at 4.9M statements, where the page itself took 2 ms). No JIT either: the
# same overestimates crossed jit_above_cost and compiled the side query (26 of its 70 ms at 10M
# statements with no statistics, for a walk that touched a few index pages).
NO_PARALLEL: Final = {"max_parallel_workers_per_gather": "0", "jit": "off"}


@contextmanager
def _planner(session: Session, settings: Mapping[str, str]) -> Iterator[None]:
    """``settings`` for the queries run inside, in this transaction only (set_config is_local), and
    back to their defaults after. SELECTs, so a replay of a page's SELECTs (the plan tests) has them."""
    names = list(settings)
    values = [settings[n] for n in names]
    session.execute(text("SELECT set_config(n, v, true) FROM unnest(CAST(:n AS text[]), CAST(:v AS text[])) "
                         "AS s(n, v)"), {"n": names, "v": values})
    try:
        yield
    finally:
        session.execute(text("SELECT set_config(name, reset_val, true) FROM pg_settings "
                             "WHERE name = ANY(CAST(:n AS text[]))"), {"n": names})


def _driven_query(principal: Principal, q: Query, limit: int) -> Any:
    """A page for two filters or more, on PostgreSQL: walk the index of the filter that selects least
    (registration: one attempt; agent: one learner; else activity) in ``seq`` order, and check each
    statement and its other side-table filter by a LATERAL LIMIT 1 lookup on a unique key. The walk is
    the only table joined (the lookups, never flattened, must follow it), and the page's LIMIT lets
    the planner take its index in order rather than gather and sort. Left to itself, PostgreSQL
    without statistics joined the two filters' indexes with no key to probe by: verb with agent read
    every statement with the verb once per learner match (0.86 s at 60k statements), verb with a
    course's related activities 1.8M index entries (1.4 s). tests/lrs/test_query_plans.py bounds the rows touched."""
    s, tenant = Statement, principal.tenant_id

    def in_order(column: Any) -> Any:
        return column.asc() if q.ascending else column.desc()

    def after(column: Any) -> list[Any]:
        if q.after_seq is None:
            return []
        return [column > q.after_seq if q.ascending else column < q.after_seq]

    side: list[tuple[Any, Any, Any, bool]] = []
    if q.agent:
        side.append((StatementAgent, StatementAgent.agent_key, q.agent, q.related_agents))
    if q.activity:
        side.append((StatementActivity, StatementActivity.activity_id, q.activity, q.related_activities))
    probe_conds: list[Any] = [*_common_conditions(s, principal, q)]
    if q.verb:
        probe_conds.append(s.verb_id == q.verb)
    if q.registration:
        walk = (select(s.seq).where(s.tenant_id == tenant, s.registration == q.registration, *after(s.seq))
                .order_by(in_order(s.seq)).subquery("walk"))
    else:
        table, column, value, related = side.pop(0)
        walk_q = select(table.seq).where(table.tenant_id == tenant, column == value, *after(table.seq))
        walk_q = walk_q if related else walk_q.where(table.direct.is_(True))
        walk = walk_q.order_by(in_order(table.seq)).subquery("walk")
    found = select(s.seq, full_text(s), s.stored).where(s.tenant_id == tenant, s.seq == walk.c.seq, *probe_conds)
    found_l = found.limit(1).lateral("found")
    query = select(found_l.c.seq, found_l.c.full, found_l.c.stored).select_from(walk).join(found_l, true())
    for i, (table, column, value, related) in enumerate(side):
        hit = select(table.seq).where(table.seq == walk.c.seq, column == value, table.tenant_id == tenant)
        hit = hit if related else hit.where(table.direct.is_(True))
        query = query.join(hit.limit(1).lateral(f"also{i}"), true())
    return query.order_by(in_order(walk.c.seq)).limit(limit)


def _refs_query(session: Session, columns: tuple[Any, ...], principal: Principal, q: Query, order: Any,
                limit: int) -> Any:
    """The statements whose StatementRef object targets a statement meeting the filters, walked from
    the referring side only: the partial index over the few statements with a StatementRef object,
    newest (or oldest) first, each target found by its unique (tenant, id) key and its side-table
    rows by their primary keys. So the rows touched are bounded by the tenant's StatementRefs,
    whatever the statistics say. As a plain join, PostgreSQL without statistics (a bulk load,
    autovacuum off) walked every statement meeting the filter and probed ``ix_statements_tenant_ref``
    for each: 51 ms for 20k matches at 60k statements, seconds at 1M (bench/statements.py)."""
    s = Statement
    tenant = principal.tenant_id
    t = aliased(Statement)
    if session.get_bind().dialect.name != "postgresql":
        # SQLite runs a correlated EXISTS once per outer row, as written: never flattened into a join.
        base = [s.tenant_id == tenant, s.object_statement_id.is_not(None), *_common_conditions(s, principal, q)]
        match = [t.tenant_id == tenant, t.statement_id == s.object_statement_id, *_filter_conditions(t, tenant, q)]
        return select(*columns).where(*base, exists(select(t.seq).where(*match))).order_by(order).limit(limit)
    # PostgreSQL. The walk over the partial index is a subquery with OFFSET 0, which the planner
    # neither flattens nor pushes the other conditions into: without statistics it otherwise ANDed
    # the partial index with the (tenant, stored, voided) index for `voided IS false`, reading every
    # statement of the tenant. Each target and side-table row is then a LATERAL subquery with
    # LIMIT 1 (never flattened, never reordered), a lookup by a unique key of the row before it.
    walk_conds = [s.tenant_id == tenant, s.object_statement_id.is_not(None)]
    if q.after_seq is not None:
        walk_conds.append(s.seq > q.after_seq if q.ascending else s.seq < q.after_seq)
    w = (select(s.seq, full_text(s), s.stored, s.voided, s.credential_id, s.object_statement_id).where(*walk_conds)
         .order_by(s.seq.asc() if q.ascending else s.seq.desc()).offset(0).subquery("refs"))
    target = (select(t.seq, t.verb_id, t.registration)
              .where(t.tenant_id == tenant, t.statement_id == w.c.object_statement_id).limit(1).lateral("target"))
    query = select(w.c.seq, w.c.full, w.c.stored).select_from(w).join(target, true())
    conds: list[Any] = []
    if q.verb:
        conds.append(target.c.verb_id == q.verb)
    if q.registration:
        conds.append(target.c.registration == q.registration)
    side: list[tuple[Any, Any, Any, bool]] = []
    if q.agent:
        side.append((StatementAgent, StatementAgent.agent_key, q.agent, q.related_agents))
    if q.activity:
        side.append((StatementActivity, StatementActivity.activity_id, q.activity, q.related_activities))
    for i, (table, column, value, related) in enumerate(side):
        hit = select(table.seq).where(table.seq == target.c.seq, column == value, table.tenant_id == tenant)
        hit = hit if related else hit.where(table.direct.is_(True))
        query = query.join(hit.limit(1).lateral(f"side{i}"), true())
    return (query.where(*_common_conditions(w.c, principal, q), *conds)
            .order_by(w.c.seq.asc() if q.ascending else w.c.seq.desc()).limit(limit))


def run_query(session: Session, principal: Principal, q: Query, *, page_cap: int, cursor_secret: bytes,
              raw_params: Mapping[str, str]) -> Page:
    principal.require("statements/read", "statements/read/mine", "all/read")
    s = Statement
    tenant = principal.tenant_id
    limit = page_cap if q.limit == 0 else min(q.limit, page_cap)
    order = s.seq.asc() if q.ascending else s.seq.desc()
    postgresql = session.get_bind().dialect.name == "postgresql"
    columns = (s.seq, full_text(s) if postgresql else s.full, s.stored)
    filters = _filter_conditions(s, tenant, q)
    time_only = len(filters) == 1 and bool(q.since or q.until)
    if time_only and postgresql:
        page = _time_query(principal, q, limit + 1)
    elif len(filters) > 2 and postgresql:
        page = _driven_query(principal, q, limit + 1)
    else:
        page = _page_query(session, columns, [*filters, *_common_conditions(s, principal, q)], order, limit + 1,
                           time_only=time_only)
    # Pages with no filter (the latest, their `more`) walk the primary key whatever the statistics:
    # they spare the two round trips.
    settings = {**NO_PARALLEL, **NO_SORT} if time_only else NO_PARALLEL if len(filters) > 1 else {}
    with _planner(session, settings) if postgresql and settings else nullcontext():
        rows = list(session.execute(page).all())
        if len(filters) > 1:
            # Part Three §2.1.3 "Filter Conditions for StatementRefs": a statement whose object is a
            # StatementRef meets a filter when the statement it targets does. Asked separately (not
            # OR-ed into the query above, which would stop the filter's index from being used) and
            # driven by the partial index over the few statements that have a StatementRef object.
            refs = _refs_query(session, columns, principal, q, order, limit + 1)
            merged = {r.seq: r for r in [*rows, *session.execute(refs).all()]}  # a statement may match both ways
            rows = sorted(merged.values(), key=lambda r: r.seq, reverse=not q.ascending)[:limit + 1]
    more = None
    if len(rows) > limit:
        rows = rows[:limit]
        more = encode_cursor(cursor_secret, tenant, raw_params, rows[-1].seq,
                             rows[-1].stored if time_only and postgresql else None)
    last = max((r.stored for r in rows), default=None)
    return Page([_document(r.full) for r in rows], more, last)


def get_one(session: Session, principal: Principal, statement_id: str, *, voided: bool) -> Statement:
    """GET with statementId (a voided one is 404) or voidedStatementId (only voided ones)."""
    principal.require("statements/read", "statements/read/mine", "all/read")
    if not schemas.is_uuid(statement_id):
        raise BadRequest("parameter statementId/voidedStatementId must be a UUID")
    conds = [Statement.tenant_id == principal.tenant_id, Statement.statement_id == statement_id.lower()]
    if principal.reads_only_own_statements:
        conds.append(Statement.credential_id == principal.credential_id)
    row = session.scalar(select(Statement).where(*conds))
    if row is None or row.voided != voided:
        what = "voided statement" if voided else "statement"
        raise NotFound(f"no {what} with id {statement_id}{_archived(session, principal, statement_id, row)}")
    return row


def _archived(session: Session, principal: Principal, statement_id: str, row: Statement | None) -> str:
    """Where an archived statement went (xAPI has no answer but 404 for it), so an LMS's admin knows:
    a few index look-ups, on the 404 path only (lrs.audit.archived). Not told to a credential that
    reads only its own statements: it is not told whether others' ids exist either."""
    if row is not None or principal.reads_only_own_statements:
        return ""
    month = archived_months(session, principal.tenant_id, [statement_id]).get(statement_id.lower())
    return (f" in the LRS: it was archived with its month {month:%Y-%m} to the hub's lake (`hocvu lake archive`), "
            "where analysts and auditors read it") if month else ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_cursor(secret: bytes, tenant_id: int, params: Mapping[str, str], after_seq: int,
                  after_stored: datetime | None = None) -> str:
    """``after_stored``: the last row's `stored`, for pages in (stored, seq) order (_time_query)."""
    fields = {k: v for k, v in params.items() if k != AFTER_STORED}
    if after_stored is not None:
        fields[AFTER_STORED] = after_stored.isoformat()
    body = json.dumps({"t": tenant_id, "p": fields, "a": after_seq}, separators=(",", ":")).encode()
    mac = hmac.new(secret, body, hashlib.sha256).digest()[:16]
    return f"{_b64(body)}.{_b64(mac)}"


def decode_cursor(secret: bytes, tenant_id: int, token: str) -> tuple[dict[str, str], int]:
    try:
        body_b64, mac_b64 = token.split(".")
        body = base64.urlsafe_b64decode(body_b64 + "=" * (-len(body_b64) % 4))
        mac = base64.urlsafe_b64decode(mac_b64 + "=" * (-len(mac_b64) % 4))
        ok = hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()[:16])
        data = json.loads(body) if ok else None
    except (ValueError, TypeError):
        data = None
    if not data or data.get("t") != tenant_id:
        raise BadRequest("parameter more is not a cursor this LRS issued for this credential")
    return data["p"], int(data["a"])
