"""Where the rest of the hub calls the credentials package: plain callables the composition root
(``hocvu/app.py``) hands to the player, the LTI tool and the LRS, none of which may import it.

- ``quiz_finished``: the player, after a quiz attempt's statements are committed (beside
  ``player.grades.hand_off_grade``, and before it, so the grade's comment can carry the link).
  Issues the learner's credential for the course when the course is now complete under its rules.
- ``credential_link`` / ``ags_comment``: the LTI tool's score reporter, to send the credential's
  link with the grade (AGS 2.0 §3.4 Score ``comment``).
- ``erased``: ``lrs.audit.erasure`` (``ERASURE_HOOKS_KEY`` in the session's info), inside the erasure's
  transaction: the learner's credentials are revoked and emptied.

Issuing runs in its own transaction and never raises into the caller: a credential that cannot be
issued now is logged, and the learner can ask again from "my learning" (``POST /credentials/mine/
<course>/issue``); an attempt is never lost to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig, Holder
from credentials.errors import NotComplete
from credentials.issuing import credential_url, issue, live_credential
from credentials.revocation import erase_learner
from lrs.storage import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialHooks:
    cfg: CredentialsConfig

    def quiz_finished(self, tenant_id: int, home_page: str, account: str, course_id: str,
                      name: str = "") -> str | None:
        """The learner's credential URL when they now hold a live one for ``course_id``; None when the
        course is not complete (or cannot be issued now: logged)."""
        holder = Holder(tenant_id, home_page, account, name)
        with self.cfg.db.session() as s:
            try:
                issued = issue(s, self.cfg, holder, course_id, datetime.now(UTC))
                tenant = s.get(Tenant, tenant_id)
                url = credential_url(self.cfg, tenant.slug, issued.row.public_id) if tenant is not None else None
                s.commit()
            except NotComplete:
                return None
            except Exception:  # CredentialError or the database's: the attempt is already safe; log it
                s.rollback()
                log.exception("credential for course %s (tenant %s) not issued now", course_id, tenant_id)
                return None
        if issued.new:
            log.info("credential %s issued for course %s in tenant %s", issued.row.public_id, course_id, tenant_id)
        return url

    def credential_link(self, tenant_id: int, home_page: str, account: str, course_id: str) -> str | None:
        """The URL of the learner's live credential for the course (its verification page), or None."""
        with self.cfg.db.session() as s:
            row = live_credential(s, Holder(tenant_id, home_page, account), course_id)
            tenant = s.get(Tenant, tenant_id) if row is not None else None
            return credential_url(self.cfg, tenant.slug, row.public_id) if row is not None and tenant else None

    def ags_comment(self, tenant_id: int, home_page: str, account: str, course_id: str) -> str | None:
        """The AGS Score ``comment`` (AGS 2.0 §3.4: plain text the platform shows with the grade): the
        credential's link in both languages, or None when there is no live credential."""
        link = self.credential_link(tenant_id, home_page, account, course_id)
        return f"Chứng chỉ số / Digital credential: {link}" if link else None

    def erased(self, session: Session, tenant_id: int, agent_key: str, statement_ids: list[str]) -> None:
        """``lrs.audit.erasure``'s hook: in the erasure's own transaction, so both commit or neither."""
        count = erase_learner(session, self.cfg, tenant_id, agent_key, statement_ids, datetime.now(UTC))
        if count:
            log.info("erasure in tenant %s revoked %d credential(s)", tenant_id, count)
