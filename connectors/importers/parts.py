"""Building blocks the importers share: derived ids, agents, activities, times and durations.

Agents: every importer identifies a learner by an xAPI account (xAPI 1.0.3 Part Two §2.4.2.4)
whose ``homePage`` is the source system's URL and whose ``name`` is the learner's id there, the
form the xAPI SCORM Profile §3.2 "Actor" recommends because it exposes no personal data. Names
are left out of statements: statements are immutable and may be forwarded to other stores,
while the roster (``connectors.storage.LearnerRecord``) keeps the name under the same agent key.
"""

from __future__ import annotations

import uuid
from datetime import datetime, tzinfo
from typing import Any, Final
from urllib.parse import urlsplit

from connectors.importers import Rejected, SourceError
from connectors.vocabulary import ACTIVITY_TYPES
from schemas import scorm_xapi

# uuid5 namespace for everything the importers derive (statement ids, registrations, attempts).
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://hocvu.vn/xapi/imports")
# Context extension naming where an imported statement came from (format, and the source's own
# id when it has one), so an auditor can trace it back; extension keys are IRIs (Part Two §2.4.6).
SOURCE_EXT: Final = "https://hocvu.vn/xapi/extensions/import-source"
# xAPI SCORM Profile §3.2 "Context Activities", category: every statement of the profile.
SCORM_PROFILE_ACTIVITY: Final = {"id": "https://w3id.org/xapi/scorm",
                                 "definition": {"type": ACTIVITY_TYPES["profile"]}}


def derived_id(*parts: str) -> str:
    """A UUID (version 5) determined by ``parts``: the same source line always gives the same
    statement id, which is what makes re-imports no-ops (xAPI 1.0.3 Part Three §2.1.2)."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def account_agent(home_page: str, name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": home_page, "name": name}}


def activity(iri: str, kind: str | None = None, name: str | None = None, language: str = "vi",
             **definition: Any) -> dict[str, Any]:
    """An Activity; a definition only with what the source said (type, name, interaction data)."""
    out: dict[str, Any] = {"objectType": "Activity", "id": iri}
    body: dict[str, Any] = {}
    if kind:
        body["type"] = ACTIVITY_TYPES[kind]
    if name and name.strip():
        body["name"] = {language: name.strip()}
    body.update({k: v for k, v in definition.items() if v not in (None, [], {})})
    if body:
        out["definition"] = body
    return out


def lms_url(value: str | None, option: str = "--lms-url") -> str:
    """The tenant's LMS address, used as account homePage and as the base of activity IRIs."""
    if not value:
        raise SourceError(f"this import needs {option} (the LMS's address, e.g. https://lms.bo-gddt.gov.vn)")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SourceError(f"{option} must be an http(s) address without query or fragment, not {value!r}")
    return value.strip().rstrip("/")


def web_origin(iri: str) -> str | None:
    parts = urlsplit(iri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def instant(value: Any, what: str, *, default_tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 date-time with a UTC offset (or ``default_tz`` when it has none)."""
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Rejected(f"{what} {value!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        if default_tz is None:
            raise Rejected(f"{what} {value!r} has no UTC offset (e.g. 2026-11-22T09:15:00+07:00 or ...Z)")
        moment = moment.replace(tzinfo=default_tz)
    return moment


def number(value: Any, what: str) -> float | None:
    """A decimal from JSON (number or numeric text); None for absent/blank (SCORM's CMIBlank): the
    SCORM mapping's own rule (schemas.scorm_xapi), refused as an importer refuses a line."""
    try:
        return scorm_xapi.number(value, what)
    except scorm_xapi.Invalid as err:
        raise Rejected(err.reason) from None


def source(fmt: str, source_id: str | None = None) -> dict[str, Any]:
    return {SOURCE_EXT: {"format": fmt, **({"id": source_id} if source_id else {})}}
