"""`more` cursors of since/until pages (xAPI 1.0.3 Part Three §2.1.3, issue 17 item 2): on
PostgreSQL they continue a (stored, seq) order and carry the last row's stored time, signed with
the rest of the query; a client can never send that key itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Xapi, statement


def _pages(x: Xapi, **params: str) -> list[str]:
    out: list[str] = []
    page = x.get("statements", **params).get_json()
    while True:
        out += [s["id"] for s in page["statements"]]
        if not page["more"]:
            return out
        page = x.client.get(page["more"], headers=x.headers()).get_json()


def test_time_pages_through_more_return_each_statement_once_in_stored_order(xapi: Xapi) -> None:
    """Part Three §2.1.3: since/until pages, newest first (ascending=true: oldest first), batches
    included (a batch shares one stored time), every statement once through `more`. Both databases."""
    start = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    ids: list[str] = []
    for n in range(3):
        ids += xapi.post("statements", json_body=[statement() for _ in range(3 + n)]).get_json()
    end = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert _pages(xapi, since=start, limit="2") == list(reversed(ids))
    assert _pages(xapi, since=start, until=end, limit="4", ascending="true") == ids
    assert _pages(xapi, until=end, limit="5")[:len(ids)] == list(reversed(ids))


def test_a_client_cannot_send_the_cursor_stored_key(xapi: Xapi) -> None:
    """Part Three §2.1.3: only the LRS's own `more` carries where a page ends; as a query
    parameter the key is unknown (400)."""
    res = xapi.get("statements", **{"since": "2026-01-01T00:00:00Z", "~after_stored": "2999-01-01T00:00:00+00:00"})
    assert res.status_code == 400
