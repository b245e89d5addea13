"""The tool's keys: kept sealed in the database, published at /lti/jwks, rotated without
breaking what the old key signed until it is retired."""

from __future__ import annotations

import uuid

import pytest
from joserfc.errors import JoseError

from lti_tool import keys
from lti_tool.ags import post_score
from lti_tool.errors import ToolKeyError
from lti_tool.nrps import roster
from lti_tool.storage import LtiToolKey
from tests.lti.conftest import Browser, Env, Lms
from tests.lti.lti_platform import INSTRUCTOR, _unverified_header


def _published(env: Env) -> list[str]:
    return [k["kid"] for k in env.app.test_client().get("/lti/jwks").get_json()["keys"]]


def test_rotation_keeps_the_old_key_until_retired(browser: Browser, lms: Lms, lti_env: Env) -> None:
    platform, tool = lti_env.platform, lti_env.tool
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lineitem = platform.add_line_item(context_id, "Quiz", 10)
    hint = platform.resource_link(lms.client, user="teacher-1", roles=INSTRUCTOR, context_id=context_id,
                                  lineitem=lineitem)
    assert browser.launch(hint, "teacher-1").status_code == 303
    context = browser.lti_launch()

    assert post_score(context, 9, 10, "Completed", "FullyGraded", "teacher-1", tool=tool).status == "delivered"
    old_assertion = platform.assertions[-1]
    old_kid = _unverified_header(old_assertion)["kid"]
    assert old_kid in _published(lti_env)

    with tool.session() as session:
        new_kid = keys.rotate_key(session, tool.ring).kid
        session.commit()
    assert {old_kid, new_kid} <= set(_published(lti_env))
    assert platform.verify_tool_jwt(lms.client, old_assertion)["sub"] == lms.client.client_id

    roster(context, tool=tool)  # a new token request, signed with the new key
    assert _unverified_header(platform.assertions[-1])["kid"] == new_kid

    with tool.session() as session:
        for kid in [k.kid for k in keys.active_keys(session)][1:]:
            keys.retire_key(session, kid)   # everything but the newest, old_kid included
        session.commit()
    assert _published(lti_env) == [new_kid]
    with pytest.raises(JoseError):
        platform.verify_tool_jwt(lms.client, old_assertion)


def test_retire_rules_and_sealing(lti_env: Env) -> None:
    tool = lti_env.tool
    with tool.session() as session:
        only = keys.active_keys(session)
        for row in only[1:]:
            keys.retire_key(session, row.kid)
        with pytest.raises(ToolKeyError, match="only published key"):
            keys.retire_key(session, only[0].kid)
        with pytest.raises(ToolKeyError, match="no tool key"):
            keys.retire_key(session, "missing")
        row = session.get(LtiToolKey, only[0].id)
        assert row is not None
        assert b"PRIVATE KEY" not in row.private_key_sealed          # sealed at rest
        assert tool.ring.open(row.kid, row.private_key_sealed).startswith(b"-----BEGIN PRIVATE KEY")
        with pytest.raises(ToolKeyError, match="cannot be opened"):
            keys.KeyRing.from_secret("another-secret").open(row.kid, row.private_key_sealed)
        assert "test-secret" not in repr(tool.ring) and "PRIVATE" not in repr(keys.signing_key(session, tool.ring))
        session.rollback()
