"""The statements the LMS itself writes for an imported cmi5 course (cmi5 §9.3.1, §9.3.6, §9.3.7,
§9.3.9): their common shape, and the LMS's Activity ids for AUs, blocks and courses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from lrs.cmi5.rules import VERB
from lrs.cmi5.storage import Cmi5Session
from lrs.storage import as_utc
from schemas.cmi5 import CMI5_CATEGORY, EXT_SESSION

EXT_REASON = "https://w3id.org/xapi/cmi5/result/extensions/reason"
ACTIVITY_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://hocvu.vn/xapi/activities/cmi5")
TYPE_COURSE = "https://w3id.org/xapi/cmi5/activitytype/course"
TYPE_BLOCK = "https://w3id.org/xapi/cmi5/activitytype/block"


def lms_activity_id(course_iri: str, publisher_id: str) -> str:
    """The LMS's IRI for an AU, block or course of an imported course."""
    return f"https://hocvu.vn/xapi/activities/cmi5/{uuid.uuid5(ACTIVITY_NS, course_iri + ' ' + publisher_id)}"


def base(row: Cmi5Session, verb: str, obj: dict[str, Any], now: datetime, *,
          grouping: list[str] | None = None, extensions: dict[str, Any] | None = None,
          result: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"registration": row.registration,
                           "contextActivities": {"category": [{"objectType": "Activity", "id": CMI5_CATEGORY}]},
                           "extensions": {EXT_SESSION: row.session_id, **(extensions or {})}}
    if grouping:
        ctx["contextActivities"]["grouping"] = [{"objectType": "Activity", "id": g} for g in grouping]
    st: dict[str, Any] = {"id": str(uuid.uuid4()), "actor": row.actor,
                          "verb": {"id": VERB[verb], "display": {"en-US": verb}}, "object": obj,
                          "context": ctx, "timestamp": now.isoformat()}
    if result:
        st["result"] = result
    return st


def duration(start: datetime, end: datetime) -> str:
    seconds = max(0.0, (as_utc(end) - as_utc(start)).total_seconds())
    return f"PT{seconds:.2f}S"
