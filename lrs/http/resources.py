"""The small resources: About, Agents and Activities
(xAPI 1.0.3 Part Three §2.4, §2.5, §2.8 / IEEE 9274.1.1 §4.1.6.3, §4.1.6.4, §4.1.6.7)."""

from __future__ import annotations

import logging

from flask import Response, request

from lrs import query_params as qp
from lrs.errors import BadRequest
from lrs.http.frame import bp, call, json_response
from lrs.identifiers import IFIS
from lrs.readable import readable
from lrs.storage import Activity
from lrs.versions import ABOUT_VERSIONS

log = logging.getLogger(__name__)


@bp.route("/about", methods=["GET"])
def about() -> Response:
    # Part Three §2.8: no authentication, no version header needed; lists every version served.
    return json_response({"version": ABOUT_VERSIONS, "extensions": {
        "https://hocvu.vn/xapi/extensions/lrs": {"name": "hocvu", "tenancy": "per-credential"}}})


def _only(*allowed: str) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown parameter(s) for this resource: {', '.join(unknown)}")


@bp.route("/agents", methods=["GET"])
def agents() -> Response:
    _only("agent")
    c = call()
    c.principal.require("statements/read", "statements/read/mine", "all/read", "state", "profile")
    if "agent" not in request.args:
        raise BadRequest("GET /agents needs the agent parameter")  # Part Three §2.4
    agent = qp.parse_agent(request.args["agent"], c.version, allow_group=False)
    # Part Three §2.4 "Person Object": every property is an array; we know the one identity asked for.
    person: dict[str, object] = {"objectType": "Person"}
    if "name" in agent:
        person["name"] = [agent["name"]]
    for ifi in IFIS:
        if ifi in agent:
            person[ifi] = [agent[ifi]]
    return json_response(person)


@bp.route("/activities", methods=["GET"])
def activities() -> Response:
    _only("activityId")
    c = call()
    c.principal.require("statements/read", "statements/read/mine", "all/read", "state", "profile", "define")
    activity_id = request.args.get("activityId")
    if activity_id is None:
        raise BadRequest("GET /activities needs the activityId parameter")  # Part Three §2.5
    qp.check_iri_param("activityId", activity_id)
    row = c.session.get(Activity, (c.principal.tenant_id, activity_id))
    # Part Three §2.5: return an Activity Object even when the LRS holds no definition for it.
    activity: dict[str, object] = {"objectType": "Activity", "id": activity_id}
    if row is not None and row.definition:
        activity["definition"] = row.definition
    try:
        return json_response(activity)
    except (ValueError, RecursionError):  # a legacy definition no JSON writer takes (lrs.readable)
        activity["definition"], notes = readable(row.definition if row is not None else None)
        log.warning("tenant %s, Activity %s: definition cannot be read as stored; served with %s",
                    c.principal.tenant_id, activity_id, "; ".join(notes[:5]))
        return json_response(activity)
