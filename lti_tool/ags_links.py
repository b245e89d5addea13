"""AGS 2.0 line items the tool looks after itself: when a launch offers ``lineitems`` but no
``lineitem`` (AGS 2.0 §3.1; Open edX's programmatic mode, and the columns tools create in Canvas
and Moodle), the tool finds its own line item for the resource link in that container, or creates
it (§3.2), and sends scores there.

- ``remember_link`` (at launch): the container URL and the scopes granted, per resource link
  (``LtiResourceLink``), since the player's session keeps only the launch's ``lineitem``.
- ``resolve_lineitem`` (at delivery): the link's line item, found by ``resourceLinkId`` (§3.2.5),
  else by our ``tag`` + ``resourceId`` (§3.2.6-§3.2.7), else created with all three; remembered, so
  the next score goes straight there. One sender at a time resolves a link (a claim on its row),
  so two learners finishing together never create two columns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from pylti1p3.assignments_grades import AssignmentsGradesService
from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.claims import AGS_ENDPOINT, DEPLOYMENT_ID, RESOURCE_LINK
from lti_tool.errors import LtiError
from lti_tool.storage import LtiResourceLink

log = logging.getLogger(__name__)

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM_SCOPE, LINEITEM_READ_SCOPE = AGS + "lineitem", AGS + "lineitem.readonly"
RESULT_SCOPE, SCORE_SCOPE = AGS + "result.readonly", AGS + "score"
LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
TOOL_TAG = "hocvu"          # §3.2.6 tag: marks the line items this tool made
CLAIM_SECONDS = 120
MAX_PAGES = 50              # a container this long is not a course's gradebook: stop, do not loop


class LineItemUnavailable(LtiError):
    """The platform holds no line item for the link and the tool may not create one (only the
    lineitem.readonly scope), or answered a creation with no line item: an operator has to act."""

    status, code = 409, "lineitem_unavailable"


def can_read(scopes: tuple[str, ...] | list[str]) -> bool:
    return LINEITEM_SCOPE in scopes or LINEITEM_READ_SCOPE in scopes


def remember_link(session: Session, tenant_id: int, registration_id: int, claims: Mapping[str, Any],
                  *, now: datetime | None = None) -> None:
    """Records (or refreshes) the resource link's ``lineitems`` container; nothing for a launch with
    a ``lineitem`` (declarative: scores go there) or without AGS. Writes only when something changed."""
    ags = claims.get(AGS_ENDPOINT) or {}
    container = ags.get("lineitems") if isinstance(ags, Mapping) else None
    if not isinstance(container, str) or not container or ags.get("lineitem"):
        return
    if urlsplit(container).scheme not in ("https", "http"):
        log.warning("AGS lineitems URL of registration %s is not http(s); not recorded", registration_id)
        return
    link = claims.get(RESOURCE_LINK) or {}
    deployment_id, link_id = str(claims.get(DEPLOYMENT_ID) or ""), str(link.get("id") or "")
    scopes = sorted(str(s) for s in ags.get("scope") or ())
    title = str(link.get("title") or "")[:255]
    row = link_of(session, tenant_id, registration_id, deployment_id, link_id)
    now = now or datetime.now(UTC)
    if row is None:
        session.add(LtiResourceLink(tenant_id=tenant_id, registration_id=registration_id, deployment_id=deployment_id,
                                    resource_link_id=link_id, title=title, lineitems_url=container, scopes=scopes,
                                    updated=now))
    elif (row.lineitems_url, list(row.scopes), row.title) != (container, scopes, title):
        if row.lineitems_url != container:
            row.lineitem_url = None   # another container (the link was copied): find the column again
        row.lineitems_url, row.scopes, row.title, row.updated = container, scopes, title, now
    else:
        return
    try:
        session.commit()
    except IntegrityError:
        session.rollback()   # the same link launched twice at once: the other launch recorded it


def link_of(session: Session, tenant_id: int, registration_id: int, deployment_id: str,
            resource_link_id: str) -> LtiResourceLink | None:
    # The tenant first, as in the unique key uq_lti_resource_links_link that answers it.
    return session.scalar(select(LtiResourceLink).where(
        LtiResourceLink.tenant_id == tenant_id, LtiResourceLink.registration_id == registration_id,
        LtiResourceLink.deployment_id == deployment_id, LtiResourceLink.resource_link_id == resource_link_id))


def lineitem_spec(link: LtiResourceLink, resource_id: str, score_max: float) -> dict[str, Any]:
    """The line item we create (§3.2): bound to the resource link, tagged as ours."""
    return {"label": link.title or resource_id, "scoreMaximum": float(score_max),
            "resourceLinkId": link.resource_link_id, "resourceId": resource_id, "tag": TOOL_TAG, "link": link.id}


def _matches(item: Mapping[str, Any], spec: Mapping[str, Any]) -> int:
    """2: bound to our resource link; 1: our tag and resource id on an unbound item; 0: not ours."""
    if item.get("resourceLinkId") == spec["resourceLinkId"]:
        return 2
    if not item.get("resourceLinkId") and item.get("tag") == TOOL_TAG and item.get("resourceId") == spec["resourceId"]:
        return 1
    return 0


def find_lineitem(service: AssignmentsGradesService, container: str, spec: Mapping[str, Any]) -> str | None:
    """Walks the container's pages (§3.2.7 rel="next") for our line item; its URL or None."""
    url: str | None = container
    fallback: str | None = None
    for _ in range(MAX_PAGES):
        if not url:
            break
        items, url = service.get_lineitems_page(url)
        for item in items:
            rank = _matches(item, spec) if isinstance(item, dict) else 0
            if rank == 2 and item.get("id"):
                return str(item["id"])
            if rank == 1 and item.get("id") and fallback is None:
                fallback = str(item["id"])
    return fallback


def create_lineitem(service: AssignmentsGradesService, container: str, spec: Mapping[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k != "link"}
    answer = service._service_connector.make_service_request(
        service._service_data["scope"], container, is_post=True, data=json.dumps(body),
        content_type=LINEITEM_MEDIA, accept=LINEITEM_MEDIA)
    created = answer["body"]
    if not isinstance(created, dict) or not created.get("id"):
        raise LineItemUnavailable("the platform created the line item but did not say its id")
    return str(created["id"])


def _claim(session: Session, tenant_id: int, link_id: int, now: datetime) -> bool:
    result = cast("CursorResult[Any]", session.execute(update(LtiResourceLink).where(
        LtiResourceLink.tenant_id == tenant_id, LtiResourceLink.id == link_id,
        or_(LtiResourceLink.claimed_until.is_(None), LtiResourceLink.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))))
    session.commit()
    return bool(result.rowcount)


def resolve_lineitem(session: Session, service: AssignmentsGradesService, tenant_id: int, container: str,
                     spec: Mapping[str, Any], *, create: bool, now: datetime) -> str | None:
    """The link's line item URL: remembered, found, or (with ``create``) created. None while
    another sender is resolving the same link (the caller retries shortly). ``tenant_id`` is the
    score's, which is its link's (the spec names the link by id only)."""
    link = session.get(LtiResourceLink, (tenant_id, int(spec["link"])), populate_existing=True)
    if link is not None and link.lineitem_url and link.lineitems_url == container:
        return link.lineitem_url
    if link is not None and not _claim(session, link.tenant_id, link.id, now):
        return None
    try:
        url = find_lineitem(service, container, spec)
        if url is None:
            if not create:
                raise LineItemUnavailable("the platform has no line item for this link, and granted only "
                                          "lineitem.readonly, so the tool may not create one")
            url = create_lineitem(service, container, spec)
            log.info("AGS line item created for resource link %s: %s", spec["resourceLinkId"], url)
        if link is not None:
            link.lineitem_url = url
        return url
    finally:
        if link is not None:
            link.claimed_until = None
            session.commit()


def forget_lineitem(session: Session, tenant_id: int, spec: Mapping[str, Any] | None) -> None:
    """The remembered line item is gone (404 on its scores): the next score looks for it again."""
    if spec and spec.get("link"):
        session.execute(update(LtiResourceLink)
                        .where(LtiResourceLink.tenant_id == tenant_id, LtiResourceLink.id == int(spec["link"]))
                        .values(lineitem_url=None))
        session.commit()
