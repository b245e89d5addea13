"""``/player/sync``: where a learner's device sends the ops it queued (``player.offline.ops``).

- ``GET /player/sync``: a fresh form token (a page kept by the service worker may carry an old one),
  ``{"csrf": ..., "max_ops": ...}``; never cached.
- ``POST /player/sync``: authenticated by the browser's player session cookie (``NoLaunch``: 403)
  and the form token in the body (400 otherwise), at most ``MAX_BODY_BYTES`` (413) and ``MAX_OPS``
  ops (413). The ops are applied in the order sent, each in its own transaction, so an op stored
  stays stored whatever happens to a later one; the answer lists each op's outcome::

      {"results": [{"id": ..., "status": "stored" | "duplicate" | "refused", "code": ...,
                    "statements": [...]}, ...]}

  ``stored`` and ``duplicate`` ops are done; ``refused`` ones will never be stored (the device drops
  them and tells the learner why); an op missing from the answer (a server error stopped the
  request) is sent again later. The session cookie is never written here: a sync racing the next
  page's request must not overwrite what that page sets.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from identity import web
from player import pages
from player.domain import BadInput
from player.grades import hand_off_grade
from player.offline import tickets
from player.offline.apply import REFUSED, Result, apply_op
from player.offline.ops import MAX_BODY_BYTES, MAX_OPS, BadOp, TooMany, parse_envelope, parse_op

bp = Blueprint("player_offline", __name__)


def init_offline(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/player")


def _json_error(code: str, message: str, status: int) -> Response:
    return Response(jsonify(error={"code": code, "message": message}).get_data(), status=status,
                    content_type="application/json")


@bp.get("/sync")
def token() -> Response:
    return jsonify(csrf=web.csrf_token(), max_ops=MAX_OPS)


@bp.post("/sync")
def sync() -> Response:
    request.max_content_length = MAX_BODY_BYTES
    current = pages.current_launch()   # NoLaunch: 403 (player.http's handler answers JSON)
    try:
        body = pages.json_body()       # the form token too: BadInput, 400
        device, raw_ops = parse_envelope(body)
    except TooMany as err:
        return _json_error(err.code, str(err), 413)
    except BadOp as err:
        return _json_error(err.code, str(err), 400)
    secret = current_app.secret_key
    assert isinstance(secret, str)
    results: list[dict[str, Any]] = []
    for raw in raw_ops:
        result = _sync_one(current, raw, device, lambda token: tickets.read(secret, token))
        results.append({k: v for k, v in {"id": result.id, "status": result.status, "code": result.code,
                                          "statements": result.statements}.items() if v is not None})
        if result.graded is not None:
            with pages.db() as db:   # after the op's commit: the reporter keeps its own outbox
                hand_off_grade(db, pages.catalogue(), result.graded, pages.reporters())
    return jsonify(results=results)


def _sync_one(current: Any, raw: Any, device: str, ticket_of: Any) -> Result:
    now = pages.now()
    op_id = str(raw["id"]) if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ""
    try:
        op = parse_op(raw, now)
    except BadOp as err:
        return Result(op_id, REFUSED, err.code)
    for _ in range(2):   # a concurrent sync of the same op (another tab) may win the ledger row
        try:
            with pages.db() as db:
                result = apply_op(db, pages.catalogue(), current, ticket_of, op, device, now,
                                  lambda target: url_for("player.view", target=target, _external=True))
                if result.status == REFUSED:
                    db.rollback()     # nothing of a refused op is kept
                return result
        except IntegrityError:
            continue                  # judged again: now a duplicate (or out of order)
    raise BadInput("the op could not be applied")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_err: RequestEntityTooLarge) -> Response:
    return _json_error("too_large", f"a sync request holds at most {MAX_BODY_BYTES} bytes", 413)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"   # one learner's state
    return response
