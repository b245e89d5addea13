"""The parameters of GET /statements (xAPI 1.0.3 Part Three §2.1.3 / IEEE 9274.1.1 §4.1.6.1): what
may be sent, and each one parsed and checked into a ``Query`` before anything reads the store
(``lrs.statement_query`` runs it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

import schemas
from lrs.errors import BadRequest
from lrs.identifiers import agent_key
from lrs.json_text import loads_strict
from lrs.versions import XapiVersion

FILTERS = ("agent", "verb", "activity", "registration", "related_activities", "related_agents",
           "since", "until", "limit", "format", "attachments", "ascending")
SINGLE = ("statementId", "voidedStatementId")
# Part Three §2.1.3: with statementId/voidedStatementId only `attachments` and `format` may be sent.
SINGLE_COMPANIONS = ("attachments", "format")
# The key a `more` cursor's parameters carry the last row's `stored` under (never a client's
# parameter: a request naming it without a cursor is refused as unknown, lrs.http.statements).
AFTER_STORED = "~after_stored"


@dataclass(frozen=True)
class Query:
    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 0
    ascending: bool = False
    after_seq: int | None = None
    # The `stored` of the row a `more` cursor continues after, for pages in (stored, seq) order
    # (PostgreSQL, since/until only: _time_query); set only from a cursor this LRS signed.
    after_stored: datetime | None = None



def parse_bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in ("true", "false"):
        raise BadRequest(f"parameter {name} must be true or false, not {value!r}")
    return value == "true"


def parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return schemas.parse_timestamp(value)
    except ValueError:
        raise BadRequest(f"parameter {name} must be an ISO 8601 timestamp, not {value!r}") from None


def check_iri_param(name: str, value: str) -> None:
    """An IRI parameter: the format, and no longer than the store keeps (schemas.IRI_MAX_BYTES), so
    a query never sends the database a value it cannot compare (an IRI has no NUL by its grammar)."""
    if not schemas.validate_iri(value):
        raise BadRequest(f"parameter {name} must be an IRI")
    if len(value.encode("utf-8", "surrogatepass")) > schemas.IRI_MAX_BYTES:
        raise BadRequest(f"parameter {name} is longer than this LRS keeps ({schemas.IRI_MAX_BYTES} bytes of UTF-8)")


def parse_agent(value: str, version: XapiVersion, *, allow_group: bool = True) -> dict[str, Any]:
    agent: dict[str, Any] = loads_strict(value, "parameter agent")
    try:
        schemas.validate_agent(agent, version, allow_group=allow_group)
    except ValidationError as err:
        raise BadRequest(f"parameter agent is not a valid Agent: {err.messages}") from None
    return agent


def parse_filters(args: Mapping[str, str], version: XapiVersion) -> Query:
    agent = args.get("agent")
    key = agent_key(parse_agent(agent, version)) if agent is not None else None
    for iri_param in ("verb", "activity"):
        if iri_param in args:
            check_iri_param(iri_param, args[iri_param])
    registration = args.get("registration")
    if registration is not None and not schemas.is_uuid(registration):
        raise BadRequest("parameter registration must be a UUID")
    limit_text = args.get("limit", "0")
    if not limit_text.isdigit():
        raise BadRequest("parameter limit must be a non-negative integer")
    return Query(
        agent=key,
        verb=args.get("verb"),
        activity=args.get("activity"),
        registration=registration.lower() if registration else None,
        related_activities=parse_bool("related_activities", args.get("related_activities")),
        related_agents=parse_bool("related_agents", args.get("related_agents")),
        since=parse_time("since", args.get("since")),
        until=parse_time("until", args.get("until")),
        limit=int(limit_text),
        ascending=parse_bool("ascending", args.get("ascending")),
        after_stored=datetime.fromisoformat(args[AFTER_STORED]) if AFTER_STORED in args else None,
    )
