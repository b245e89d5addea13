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


def test_pages_return_statements_as_stored_big_integers_included(xapi: Xapi) -> None:
    """Part Two §2.4.1 / Part Three §2.1.3: a page returns each statement as stored, an extension's
    integer past 64 bits included (PostgreSQL pages parse with orjson, which would make those floats,
    unless the text has a long run of digits: lrs.statement_query._document)."""
    big, low = 2**70 + 1, -(2**63) - 1
    ext = {"https://hocvu.vn/ext/n": big, "https://hocvu.vn/ext/m": low, "https://hocvu.vn/ext/x": 0.1}
    sent = statement(result={"extensions": ext})
    [sid] = xapi.post("statements", json_body=[sent, statement()]).get_json()[:1]
    got = {s["id"]: s for s in xapi.get("statements", limit="5").get_json()["statements"]}
    assert got[sid]["result"]["extensions"] == ext
    assert type(got[sid]["result"]["extensions"]["https://hocvu.vn/ext/n"]) is int
