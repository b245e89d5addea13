"""Statement exports for analysts: rows of ``hocvu.statements.v1`` streamed from the store.

Reading: tenant by tenant, in pages by the keyset (``stored``, ``seq``) over the
``(tenant_id, stored)`` index, never an offset, so an export of millions of rows keeps one page in
memory. Statements voided at export time are left out; voiding statements are rows (see
``export_schema``). Writers live in ``connectors.export_writers``.

Incremental: an export covers ``since < stored <= bound`` where ``bound`` is ``until`` or "now
minus a settling delay", and returns the cursor ``stored:<bound>``. The next export from that
cursor starts exactly where this one ended. The delay is there because ``stored`` is assigned
before the storing transaction commits: a statement stored at *t* may become visible a moment
after *t*, and an export that ran in between must not move the cursor past it.

Flask-free; the CLI and the reports blueprint call it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

import schemas
from lrs.errors import BadRequest, NotFound
from lrs.statements import format_time
from lrs.storage import Statement, Tenant, as_utc

# The identity package's stamp extension (identity.stamp.STAMP_IRI, documented there). Read here by
# its IRI, as any xAPI consumer would: connectors may import schemas and lrs only (DESIGN.md).
STAMP_IRI: Final = "https://hocvu.vn/xapi/extensions/identity-verification"
COURSE_TYPE: Final = "http://adlnet.gov/expapi/activities/course"
CURSOR_PREFIX: Final = "stored:"
DEFAULT_SETTLE: Final = timedelta(seconds=5)
PAGE_SIZE: Final = 5000
log = logging.getLogger(__name__)
Row = tuple[Any, ...]  # values in export_schema.NAMES order


def pseudonym_key(secret_key: str) -> bytes:
    """The pseudonymisation key, derived from the hub's secret (HOCVU_SECRET_KEY) for this one use,
    so every export of the hub gives a learner the same pseudonym and none reveals the secret."""
    return hashlib.sha256(b"hocvu/export-pseudonym/" + secret_key.encode()).digest()


class Pseudonymiser:
    """Keyed HMAC-SHA256 pseudonyms: stable (joins across exports work), not reversible without the
    key. 128 bits are kept: collisions stay negligible at any national learner count."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key
        self._cache: dict[str, str] = {}

    def _mac(self, label: bytes, value: str) -> bytes:
        return hmac.new(self._key, label + value.encode(), hashlib.sha256).digest()[:16]

    def agent(self, key: str) -> str:
        out = self._cache.get(key)
        if out is None:
            if len(self._cache) > 200_000:  # a bound on memory for exports over many learners
                self._cache.clear()
            out = self._cache[key] = "pseudo:" + self._mac(b"agent|", key).hex()
        return out

    def registration(self, registration: str) -> str:
        # Keyed, UUID-shaped: the column keeps its type and registrations still group attempts.
        return str(uuid.UUID(bytes=self._mac(b"registration|", registration), version=4))


# ISO 8601 durations as xAPI uses them (1.0.3 Part Two §4.6): PnYnMnDTnHnMnS or PnW.
_DURATION = re.compile(r"P(?:(?P<w>\d+(?:[.,]\d+)?)W|(?:(?P<y>\d+(?:[.,]\d+)?)Y)?(?:(?P<mo>\d+(?:[.,]\d+)?)M)?"
                       r"(?:(?P<d>\d+(?:[.,]\d+)?)D)?(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<mi>\d+(?:[.,]\d+)?)M)?"
                       r"(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?)")
_DURATION_UNITS: Final = {"w": 604800, "y": 365 * 86400, "mo": 30 * 86400, "d": 86400, "h": 3600, "mi": 60, "s": 1}


def duration_seconds(text: Any) -> float | None:
    """Seconds in an ISO 8601 duration; None when absent or not a duration (e.g. bare "P" or "PT")."""
    if not isinstance(text, str):
        return None
    m = _DURATION.fullmatch(text)
    if m is None or not any(m.groupdict().values()) or text.endswith("T"):
        return None
    total = sum(float(v.replace(",", ".")) * _DURATION_UNITS[k] for k, v in m.groupdict().items() if v)
    return round(total, 6)  # microseconds: float sums of decimal parts otherwise show 0.30000000000000004


def parse_time(text: str, name: str) -> datetime:
    """A bound given by a person: an ISO 8601 date (midnight UTC) or date-time (UTC when no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return schemas.parse_timestamp(text).astimezone(UTC)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time, not {text!r}") from None


def parse_until(text: str) -> datetime:
    """An upper bound: a date means the whole of that day (up to the next midnight UTC)."""
    moment = parse_time(text, "until")
    return moment + timedelta(days=1) if len(text.strip()) == 10 else moment


def encode_cursor(bound: datetime) -> str:
    return CURSOR_PREFIX + format_time(bound)


def decode_cursor(cursor: str) -> datetime:
    if not cursor.startswith(CURSOR_PREFIX):
        raise BadRequest(f"an export cursor looks like 'stored:2025-01-31T00:00:00.000000Z', not {cursor!r}")
    return parse_time(cursor.removeprefix(CURSOR_PREFIX), "the cursor")


@dataclass(frozen=True)
class ExportQuery:
    """Which statements: tenants by slug (None: every tenant), ``since < stored <= until``."""

    tenants: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_cursor: str | None = None
    settle: timedelta = DEFAULT_SETTLE
    pseudonymise: bool = False


@dataclass(frozen=True)
class Plan:
    """A query resolved against the database at one moment: what one export reads."""

    tenants: tuple[tuple[int, str], ...]
    since: datetime | None
    bound: datetime
    pseudonymiser: Pseudonymiser | None = field(default=None, compare=False)

    @property
    def cursor(self) -> str:
        # Never behind where the caller started, even when the bound is (an until in the past).
        return encode_cursor(max(self.bound, self.since) if self.since else self.bound)


def plan(session: Session, query: ExportQuery, *, pseudonym_key: bytes | None = None,
         now: datetime | None = None) -> Plan:
    """Resolve tenants and time bounds; unknown tenants are a 404, a missing key a 400."""
    rows = session.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.slug)).all()
    by_slug = {slug: tid for tid, slug in rows}
    if query.tenants is None:
        tenants = tuple((tid, slug) for tid, slug in rows)
    else:
        missing = [s for s in query.tenants if s not in by_slug]
        if missing:
            raise NotFound(f"no tenant {missing[0]!r}")
        tenants = tuple((by_slug[s], s) for s in sorted(set(query.tenants)))
    since = as_utc(query.since) if query.since else None
    if query.after_cursor:
        after = decode_cursor(query.after_cursor)
        since = max(since, after) if since else after
    bound = (now or datetime.now(UTC)) - query.settle
    if query.until is not None:
        bound = min(bound, as_utc(query.until))
    pseudo = None
    if query.pseudonymise:
        if pseudonym_key is None:
            raise BadRequest("a pseudonymised export needs the hub's pseudonymisation key")
        pseudo = Pseudonymiser(pseudonym_key)
    return Plan(tenants, since, bound, pseudo)


def _conditions(p: Plan, tenant_id: int) -> list[Any]:
    s = Statement
    conds = [s.tenant_id == tenant_id, s.voided.is_(False), s.stored <= _db_time(p.bound)]
    if p.since is not None:
        conds.append(s.stored > _db_time(p.since))
    return conds


def _db_time(value: datetime) -> datetime:
    # The store keeps UTC; SQLite drops the zone, so compare in UTC whatever zone the caller used.
    return value.astimezone(UTC)


def count(session: Session, p: Plan) -> int:
    """Rows the plan will export (for the progress bar)."""
    return sum(session.scalar(select(func.count()).select_from(Statement).where(*_conditions(p, tid))) or 0
               for tid, _ in p.tenants)


def iter_rows(session: Session, p: Plan, *, page_size: int = PAGE_SIZE) -> Iterator[list[Row]]:
    """Pages of rows in (tenant slug, stored, seq) order."""
    s = Statement
    columns = (s.seq, s.statement_id, s.stored, s.actor_key, s.verb_id, s.object_type, s.object_activity_id,
               s.object_agent_key, s.object_statement_id, s.registration, s.full)
    conn = session.connection()
    for tenant_id, slug in p.tenants:
        last: tuple[datetime, int] | None = None
        while True:
            conds = _conditions(p, tenant_id)
            if last is not None:
                # Keyset (stored, seq) > last, spelled so the (tenant_id, stored) index bounds the scan.
                conds += [s.stored >= last[0], or_(s.stored > last[0], and_(s.stored == last[0], s.seq > last[1]))]
            # Core, not the ORM: no identity map or entity loading per row on the hot path.
            page = conn.execute(select(*columns).where(*conds).order_by(s.stored, s.seq).limit(page_size)).all()
            if not page:
                break
            yield [flatten(r, slug, p.pseudonymiser) for r in page]
            if len(page) < page_size:
                break
            last = (page[-1].stored, page[-1].seq)


def _ids(activities: Any) -> list[str]:
    if isinstance(activities, dict):  # 1.0.3 allowed a single object; the store normalises, be lenient
        activities = [activities]
    return [a["id"] for a in activities or [] if isinstance(a, dict) and isinstance(a.get("id"), str)]


def course_of(obj: dict[str, Any], ctx_acts: dict[str, Any]) -> str | None:
    candidates = [a for key in ("grouping", "parent") for a in (ctx_acts.get(key) or [])
                  if isinstance(a, dict)]
    for a in candidates:
        if (a.get("definition") or {}).get("type") == COURSE_TYPE:
            return str(a["id"])
    if obj.get("objectType", "Activity") == "Activity" and (obj.get("definition") or {}).get("type") == COURSE_TYPE:
        return str(obj["id"])
    grouping = _ids(ctx_acts.get("grouping"))
    if grouping:
        return grouping[0]
    return str(obj["id"]) if obj.get("objectType", "Activity") == "Activity" and "id" in obj else None


def timestamp_of(text: Any, fallback: datetime) -> datetime:
    if not isinstance(text, str):
        return fallback
    try:
        value = datetime.fromisoformat(text)  # fast path; the store validated it already
    except ValueError:
        try:
            value = schemas.parse_timestamp(text)
        except ValueError:
            return fallback
    # xAPI 1.0.3 §4.5: a timestamp without an offset is read as UTC (as schemas.parse_timestamp does).
    return as_utc(value)


class Unrepresentable(ValueError):
    """A stored value no export column can hold (a legacy row: the store refuses these now)."""


def number_of(value: Any) -> float | None:
    """A float64 column's value: absent for anything but a finite number. A non-finite or
    overflowing one (legacy rows: SQLite kept 1e400 as Infinity, 10**309 as an integer) raises,
    for ``flatten`` to drop and log, since a clamped score would skew every rate built on it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        raise Unrepresentable(f"the number {str(value)[:12]}... is beyond a double") from None
    if not math.isfinite(number):
        raise Unrepresentable(f"the number {value!r} is not finite")
    return number


def bool_of(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def str_of(value: Any) -> str | None:
    """A string column's value from the statement's JSON: None unless a string; a lone surrogate
    (no UTF-8 file can hold it) raises for ``flatten`` to replace and log."""
    if not isinstance(value, str):
        return None
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Unrepresentable("a string holds a lone surrogate") from None
    return value


INT64: Final = 2**63 - 1


def flatten(r: Any, tenant_slug: str, pseudo: Pseudonymiser | None = None) -> Row:
    """One store row (indexed columns + the statement as stored) as a row of export_schema.COLUMNS.

    A row whose statement has a value no column can hold, or a shape the store no longer accepts
    (legacy data), is still exported: the values taken from its JSON are made representable (each
    unrepresentable one left empty), the indexed columns kept, and a warning logged, so one row
    never fails an export, a report or the national dashboard (issue 13)."""
    try:
        return _flatten(r, tenant_slug, pseudo)
    except (Unrepresentable, TypeError, KeyError, AttributeError) as err:
        log.warning("statement %s (tenant %s) exported without the values its JSON holds that no column can "
                    "represent: %s", r.statement_id, tenant_slug, err)
        return _flatten(r, tenant_slug, pseudo, lenient=True)


def object_of(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _flatten(r: Any, tenant_slug: str, pseudo: Pseudonymiser | None, *, lenient: bool = False) -> Row:
    full: dict[str, Any] = r.full if isinstance(r.full, dict) else {}
    obj, ctx = object_of(full, "object"), object_of(full, "context")
    ctx_acts, result = object_of(ctx, "contextActivities"), object_of(full, "result")
    score = object_of(result, "score")
    stamp = object_of(object_of(ctx, "extensions"), STAMP_IRI)
    stored = as_utc(r.stored)
    kind = r.object_type
    object_id = r.object_activity_id or r.object_agent_key or r.object_statement_id
    actor, registration = r.actor_key, r.registration
    if pseudo is not None:
        actor = pseudo.agent(actor)
        if kind in ("Agent", "Group") and object_id:
            object_id = pseudo.agent(object_id)
        if registration:
            registration = pseudo.registration(registration)
    level = stamp.get("level")
    definition = obj.get("definition") if kind == "Activity" else None
    keep = kept_of if lenient else _plain
    return (
        r.seq, r.statement_id, tenant_slug, stored, stored.date().isoformat(),
        timestamp_of(full.get("timestamp"), stored), actor, r.verb_id, kind, object_id,
        keep(str_of, definition.get("type") if isinstance(definition, dict) else None),
        keep(str_of, lambda: course_of(obj, ctx_acts)), registration,
        keep(str_of, " ".join(_ids(ctx_acts.get("parent"))) or None),
        keep(str_of, " ".join(_ids(ctx_acts.get("grouping"))) or None),
        *(keep(number_of, score.get(k)) for k in ("scaled", "raw", "min", "max")),
        bool_of(result.get("success")), bool_of(result.get("completion")),
        keep(number_of, duration_seconds(result.get("duration"))),
        level if isinstance(level, int) and not isinstance(level, bool) and -INT64 <= level <= INT64 else None,
        keep(str_of, stamp.get("outcome")), keep(str_of, stamp.get("faceOutcome")),
    )


def _plain(convert: Callable[[Any], Any], value: Any) -> Any:
    return convert(value() if callable(value) else value)


def kept_of(convert: Callable[[Any], Any], value: Any) -> Any:
    """``convert(value)``, or None when the value cannot be represented (the lenient pass)."""
    try:
        return convert(value() if callable(value) else value)
    except (Unrepresentable, TypeError, KeyError, AttributeError, ValueError):
        return None

