"""Profile documents at xAPI 1.0.3 with the ADL Python client `tincan` (issue 13, real clients).

xAPI 1.0.3 Part Three §3.1.s3.b1 is a *client* requirement: "A Client making a PUT request to either
the Agent Profile Resource or Activity Profile Resource MUST include the If-Match header or the
If-None-Match header"; the LRS requirements (§3.1.s4) say nothing of a header-less PUT of a new
document, so the specification would let the hub accept one. The ADL 1.0.3 conformance suite does
not: XAPI-00273 (agent profile) and XAPI-00287/00293 (activity profile, "fails without ETag header")
expect 400, and a hub that accepted it passed 1363 of 1365 (tried, issue 13). So the hub keeps the
400, and its message says what to send; `tincan`'s save_*_profile sends no header for a new
document (and, reading one back, drops its ETag), so such a client sends `If-None-Match: *` itself
and keeps the ETag by hand (README, "Profile documents at xAPI 1.0.3").
This test is that recipe, over real HTTP with the real client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tincan import Activity, ActivityProfileDocument, RemoteLRS
from tincan.http_request import HTTPRequest

from tests.gunicorn_support import Hub, gunicorn


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("tincan")
    with gunicorn(f"sqlite:///{folder / 'hocvu.db'}", folder) as h:
        yield h


def create_profile(lrs: RemoteLRS, activity_id: str, profile_id: str, content: dict[str, object]) -> int:
    """The README's recipe: tincan's own request, with the header a create needs."""
    request = HTTPRequest(method="PUT", resource="activities/profile", content=json.dumps(content),
                          headers={"Content-Type": "application/json", "If-None-Match": "*"})
    request.query_params = {"activityId": activity_id, "profileId": profile_id}
    return int(lrs._send_request(request).response.status)


def test_tincan_creates_and_updates_a_profile_at_1_0_3(hub: Hub) -> None:
    lrs = RemoteLRS(endpoint=f"{hub.base}/xapi/", username=hub.key, password=hub.secret, version="1.0.3")
    activity = Activity(id="https://hocvu.vn/courses/ky-nang-so")
    plain = ActivityProfileDocument(id="settings", activity=activity, content='{"level": 1}',
                                    content_type="application/json")
    refused = lrs.save_activity_profile(plain)  # no header: Part Three §3.1.s3.b1, the suite's 400
    assert refused.response.status == 400 and b"If-None-Match: *" in refused.data.encode()
    assert create_profile(lrs, activity.id, "settings", {"level": 1}) == 204
    got = lrs.retrieve_activity_profile(activity, "settings")
    assert got.success and json.loads(got.content.content) == {"level": 1}
    # tincan 1.0 looks for the ETag in getheaders() (a list of pairs) as if it were a dict, so it
    # never keeps it, and a save then has no If-Match (409, Part Three §3.1.s4.b13): set it by hand.
    assert got.content.etag is None
    got.content.etag = got.response.getheader("ETag")
    got.content.content = '{"level": 2}'
    assert lrs.save_activity_profile(got.content).success  # If-Match with the ETag it read
    assert json.loads(lrs.retrieve_activity_profile(activity, "settings").content.content) == {"level": 2}
