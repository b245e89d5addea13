"""``hocvu identity supervised-check``: an instructor's or administrator's record of a supervised in-person
identity check (``identity.gate.supervised``), the alternative for a learner who refuses face enrolment.
Joined to the ``hocvu identity`` group by ``register``, called from ``hocvu.cli``.

The statement is stamped ``method: supervised`` (outcome "supervised", never "verified"), signed with the
hub's key and stored in the tenant's LRS through the same stamp guard and audit chain as the gate's own.
The command prints the statement id and the learner's pseudonym: never a name or a document number.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import click

from identity.stamp import DOCUMENTS


@click.command("supervised-check")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--learner-home-page", required=True, help="The learner's LMS (xAPI account homePage / LTI issuer).")
@click.option("--learner-account", required=True, help="The learner's account name at that LMS (its LTI sub).")
@click.option("--activity", required=True, help="IRI of the assessed activity (the quiz or assessment).")
@click.option("--registration", default=None, help="The attempt's registration (default: a new one).")
@click.option("--session", "session_id", default=None, help="The attempt's cmi5 session id (default: a new one).")
@click.option("--supervisor", required=True, help="Who checked: a staff name or id (never a citizen ID).")
@click.option("--document", type=click.Choice(DOCUMENTS), default="cccd", show_default=True,
              help="The kind of identity document shown (its number is never recorded).")
def supervised_check(tenant_slug: str, learner_home_page: str, learner_account: str, activity: str,
                     registration: str | None, session_id: str | None, supervisor: str, document: str) -> None:
    """Record a supervised in-person identity check for a learner's attempt: a signed statement at a
    lower assurance level ("supervised"), for a learner who did not consent to face enrolment."""
    from hocvu import configs
    from hocvu.app import audit_policy
    from hocvu.cli_session import cli_session
    from hocvu.settings import Settings
    from identity.errors import IdentityError
    from identity.gate.supervised import SupervisedCheck, supervised_statement
    from identity.signing import sign_statement
    from identity.stamp import STAMP_IRI, stamp_of
    from identity.stamp_guard import stamp_guard
    from lrs import credentials
    from lrs import statements as lrs_statements
    from lrs.audit import chain as audit_chain
    from lrs.reserved_extensions import RESERVED_KEY
    from player.statements import system_principal

    settings = Settings.from_env()
    ids = configs.identity_settings(settings)
    if len(ids.pepper) < 16:
        raise click.ClickException("VNeID is not configured (HOCVU_VNEID_ISSUER or HOCVU_DEMO_IDP): no pepper "
                                   "for the learner's pseudonym")
    hub = configs.hub_key(settings)
    certificates = [hub.material().cert_pem, *configs.trusted_certificates(settings)]
    info = {audit_chain.POLICY_KEY: audit_policy(settings, hub.material),
            RESERVED_KEY: {STAMP_IRI: stamp_guard(lambda: certificates)}}
    with cli_session(info=info, errors=(IdentityError, ValueError)) as session:
        tenant = credentials.get_tenant(session, tenant_slug)
        check = SupervisedCheck(tenant.id, learner_home_page, learner_account, activity,
                                registration or str(uuid.uuid4()), session_id or str(uuid.uuid4()), supervisor,
                                document, datetime.now(UTC))
        statement = supervised_statement(session, ids.pepper, check)
        material = hub.material()
        signed, part = sign_statement(statement, material.key, material.cert)
        [stored] = lrs_statements.store(session, system_principal(tenant.id), "2.0.0", [signed], [part])
    subject = (stamp_of(statement) or {}).get("subject")
    click.echo(f"recorded supervised check {stored} for {subject} (registration {check.registration}, "
               f"session {check.session_id}); outcome: supervised")


def register(group: click.Group) -> None:
    group.add_command(supervised_check)
