"""Launching an AU of an imported cmi5 course (cmi5 §8, §10) and the LMS's own statements (§9.3.1
launched, §9.3.6 abandoned, §9.3.7 waived, §9.3.9 satisfied). Flask-free; callers commit.

Order of a launch: every session of the registration still open is abandoned (its ``abandoned``
statement written), the new AU session opened in the LRS (``lrs.cmi5.sessions``) with its one-time
fetch token, ``LMS.LaunchData`` written to the AU's State (§10), ``launched`` written, and the
launch URL built with ``endpoint``, ``fetch``, ``actor``, ``registration`` and ``activityId``
(§8.1) merged into the AU url's own query (§8.1, 13.1.4.0-3).

Activity ids: the LMS gives each AU, block and course its own IRI (§8.1.4 activityId; 9.3.9.0-4/-8:
not the publisher's id), derived from the course IRI and the publisher's id so every launch finds
the same one; the publisher's id goes in ``contextActivities.grouping`` (§9.6.2.3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from lrs import documents
from lrs.cmi5 import sessions as lrs_sessions
from lrs.cmi5.storage import ABANDONED, Cmi5Session
from player.packages.cmi5 import model
from player.packages.cmi5.lms_statements import base, duration, lms_activity_id
from player.packages.cmi5.satisfaction import settle
from player.packages.cmi5.structure import Au, CourseStructure
from player.packages.errors import PackageError, PackageNotFound
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore
from player.statements import write
from schemas.cmi5 import (
    EXT_LAUNCH_MODE,
    EXT_LAUNCH_URL,
    EXT_MASTERY,
    EXT_MOVE_ON,
    EXT_SESSION,
)

LAUNCH_DATA_ID = "LMS.LaunchData"                       # cmi5 §10
LEARNER_PREFS_ID = "cmi5LearnerPreferences"             # cmi5 §11
EXT_LAUNCH_PARAMETERS = "https://w3id.org/xapi/cmi5/context/extensions/launchparameters"  # cmi5 §9.6.3.7
LAUNCH_MODES = ("Normal", "Browse", "Review")


@dataclass(frozen=True)
class LaunchRequest:
    tenant_id: int
    actor: dict[str, Any]
    registration: str
    package: ImportedPackage
    au_index: int
    hub_url: str                  # the hub's public address (endpoint, fetch)
    return_url: str               # where the AU sends the learner back (§10.2.6)
    now: datetime
    ttl: timedelta
    launch_mode: str = "Normal"
    opener: dict[str, Any] | None = None
    session_id: str | None = None  # a passed identity gate's (player.packages.gate): the AU session takes it


@dataclass(frozen=True)
class Launched:
    url: str
    session: Cmi5Session
    au: Au


def au_at(package: ImportedPackage, index: int) -> tuple[CourseStructure, Au]:
    course = model.from_json(package.structure)
    aus = course.aus()
    if not 0 <= index < len(aus):
        raise PackageNotFound(f"course {package.slug!r} has no AU number {index}")
    return course, aus[index]


def launch_au(db: Session, store: PackageStore, req: LaunchRequest) -> Launched:
    if req.launch_mode not in LAUNCH_MODES:
        raise PackageError(f"cmi5 §10.2.2: launchMode is Normal, Browse or Review, not {req.launch_mode!r}")
    course, au = au_at(req.package, req.au_index)
    abandon_open(db, req.tenant_id, req.registration, req.now)
    au_iri = lms_activity_id(course.id, au.id)
    row, token = lrs_sessions.open_session(
        db, tenant_id=req.tenant_id, actor=req.actor, registration=req.registration, course_iri=course.id,
        au_iri=au_iri, package_key=req.package.package_key, launch_mode=req.launch_mode, move_on=au.move_on,
        mastery_score=au.mastery_score, now=req.now, ttl=req.ttl, opener=req.opener or {}, session_id=req.session_id)
    settle(db, row, course, req.now)  # moveOn evaluated at registration, before launched (§9.6.1.1)
    base = au_base_url(store, req.package, au, req.hub_url)
    _launch_data(db, req, row, au)
    write(db, req.tenant_id, [_launched(req, row, au, base)])
    params = {"endpoint": req.hub_url.rstrip("/") + "/xapi",
              "fetch": f"{req.hub_url.rstrip('/')}/player/cmi5/fetch/{token}",
              "actor": json.dumps(req.actor, separators=(",", ":")), "registration": req.registration,
              "activityId": au_iri}
    return Launched(merge_query(base, params), row, au)


def au_base_url(store: PackageStore, package: ImportedPackage, au: Au, hub_url: str) -> str:
    """The AU url as the browser reaches it: absolute as given, or the package's file on the store."""
    parts = urlsplit(au.url)
    if parts.scheme:
        return au.url
    return store.url(package.package_key, parts.path, hub_url) + (f"?{parts.query}" if parts.query else "")


def merge_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def context_template(row: Cmi5Session, au: Au) -> dict[str, Any]:
    return {"contextActivities": {"grouping": [{"objectType": "Activity", "id": au.id}]},
            "extensions": {EXT_SESSION: row.session_id}}


def _launch_data(db: Session, req: LaunchRequest, row: Cmi5Session, au: Au) -> None:
    """LMS.LaunchData (cmi5 §10), written before the AU can ask for it."""
    data: dict[str, Any] = {"contextTemplate": context_template(row, au), "launchMode": req.launch_mode,
                            "launchMethod": au.launch_method, "moveOn": au.move_on, "returnURL": req.return_url}
    if au.launch_parameters is not None:
        data["launchParameters"] = au.launch_parameters
    if au.mastery_score is not None:
        data["masteryScore"] = au.mastery_score
    if au.entitlement_key is not None:
        data["entitlementKey"] = {"courseStructure": au.entitlement_key}
    scope = documents.Scope("state", row.au_iri, row.actor_key, req.registration)
    documents.put(db, req.tenant_id, "1.0.3", scope, LAUNCH_DATA_ID, json.dumps(data).encode(),
                  documents.JSON_TYPE, documents.Preconditions())


def _au_object(row: Cmi5Session, au: Au) -> dict[str, Any]:
    return {"objectType": "Activity", "id": row.au_iri,
            "definition": {"name": au.title or {"und": au.id}, "description": au.description or {"und": au.id}}}


def _launched(req: LaunchRequest, row: Cmi5Session, au: Au, base_url: str) -> dict[str, Any]:
    ext: dict[str, Any] = {EXT_LAUNCH_MODE: req.launch_mode, EXT_LAUNCH_URL: base_url, EXT_MOVE_ON: au.move_on}
    if au.mastery_score is not None:
        ext[EXT_MASTERY] = au.mastery_score
    if au.launch_parameters is not None:
        ext[EXT_LAUNCH_PARAMETERS] = au.launch_parameters
    return base(row, "launched", _au_object(row, au), req.now, grouping=[au.id], extensions=ext)


def abandon_open(db: Session, tenant_id: int, registration: str, now: datetime) -> list[Cmi5Session]:
    """cmi5 §9.3.6: a session of the registration still open when another starts is abandoned."""
    rows = lrs_sessions.open_sessions(db, tenant_id, registration)
    statements = []
    for row in rows:
        lrs_sessions.end(db, row, ABANDONED, now)
        statements.append(base(row, "abandoned", {"objectType": "Activity", "id": row.au_iri}, now,
                                result={"duration": duration(row.launched, now)}))
    write(db, tenant_id, statements)
    return rows


