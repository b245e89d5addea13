"""The learner's own credentials, for the player's "my learning" page (and a wallet-minded learner):

  GET  /credentials/mine                                  JSON: the learner's credentials, newest first
  POST /credentials/mine/<course>/issue                   issue now if the course is complete (idempotent);
                                                          optional ``name``: the name to show ("" shows none)
  POST /credentials/mine/<slug>/<id>/name                 re-issue showing another name ("" shows none)

Who the learner is comes from ``CredentialsConfig.current_holder`` (the composition root reads the
player's session): nothing a browser sends names the learner. POSTs carry the page's form token
(``csrf``, ``identity.web``), like the player's own forms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from flask import Response, jsonify, request, url_for

from credentials.config import Holder
from credentials.errors import BadCredentialInput, CredentialNotFound, NotSignedIn
from credentials.issuing import credential_url, find, issue, mine
from credentials.jsonld import clean_text
from credentials.revocation import rename
from credentials.storage import IssuedCredential
from credentials.web import bp, config, db
from identity import web
from lrs.identifiers import actor_key
from lrs.storage import Tenant

MAX_NAME: Final = 120


def _name() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    return clean_text(str((body or request.form).get("name", "")))[:MAX_NAME]


def _holder() -> Holder:
    holder = config().current_holder()
    if holder is None:
        raise NotSignedIn("open your course first: your credentials are listed for the learner of that session")
    return holder


def _csrf() -> None:
    body = request.get_json(silent=True) if request.is_json else None
    sent = body.get("csrf") if isinstance(body, dict) else request.form.get("csrf")
    if not web.csrf_ok(sent):
        raise BadCredentialInput("missing or wrong form token")


def item(row: IssuedCredential, slug: str) -> dict[str, Any]:
    """One credential as "my learning" lists it."""
    doc = row.document or {}
    keys = {"slug": slug, "public_id": row.public_id}
    return {"id": credential_url(config(), slug, row.public_id), "public_id": row.public_id,
            "course_id": row.course_id, "title": doc.get("name", ""), "issued": row.issued.isoformat(),
            "status": "live" if row.revoked is None else "revoked", "revoked_reason": row.revoked_reason,
            "replaced_by": row.replaced_by, "display_name": row.display_name or "",
            "identity_level": row.identity_level,
            "links": {"verify": credential_url(config(), slug, row.public_id),
                      "json": url_for("credentials.download", **keys, _external=True),
                      "print": url_for("credentials.printable", **keys, _external=True),
                      "qr": url_for("credentials.qr_code", **keys, _external=True)}}


@bp.get("/credentials/mine")
def my_credentials() -> Response:
    holder = _holder()
    with db() as s:
        tenant = s.get(Tenant, holder.tenant_id)
        slug = tenant.slug if tenant is not None else ""
        return jsonify(credentials=[item(r, slug) for r in mine(s, holder)])


@bp.post("/credentials/mine/<course_id>/issue")
def issue_mine(course_id: str) -> Response:
    holder = _holder()
    _csrf()
    holder = Holder(holder.tenant_id, holder.home_page, holder.account, _name())
    with db() as s:
        now = datetime.now(UTC)
        issued = issue(s, config(), holder, course_id, now)
        row, new = issued.row, issued.new
        if not new and holder.name and holder.name != (row.display_name or ""):
            # Issued when the course was completed, with no name: the learner now chooses the one
            # to show, so it is issued again under it (the old copy revoked, as a rename does).
            row, new = rename(s, config(), row, holder, now), True
        tenant = s.get(Tenant, holder.tenant_id)
        out = item(row, tenant.slug if tenant is not None else "")
    res = jsonify(out)
    res.status_code = 201 if new else 200
    return res


@bp.post("/credentials/mine/<slug>/<public_id>/name")
def rename_mine(slug: str, public_id: str) -> Response:
    holder = _holder()
    _csrf()
    name = _name()
    with db() as s:
        tenant, row = find(s, slug, public_id)
        # Only the learner's own live credential: the id in the URL never names someone else's.
        if row.tenant_id != holder.tenant_id or row.agent_key != actor_key(holder.actor):
            raise CredentialNotFound("no such credential")
        new = rename(s, config(), row, Holder(holder.tenant_id, holder.home_page, holder.account, name),
                     datetime.now(UTC))
        out = item(new, tenant.slug)
    return jsonify(out)
