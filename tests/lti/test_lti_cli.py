"""``hocvu lti``: registrations, keys, registration URLs and score retries from the command line."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from hocvu.cli_lti import lti
from lrs import credentials
from tests.lti.conftest import Env


@pytest.fixture
def run(lti_env: Env) -> object:
    env = {"HOCVU_DATABASE_URL": lti_env.db.url, "HOCVU_SECRET_KEY": "test-secret",
           "HOCVU_PUBLIC_URL": lti_env.tool_url, "HOCVU_REDIS_URL": ""}

    def invoke(*args: str) -> object:
        result = CliRunner().invoke(lti, list(args), env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.output) if "--json" in args else result.output

    invoke.raw = lambda *args: CliRunner().invoke(lti, list(args), env=env)  # type: ignore[attr-defined]
    return invoke


def test_platform_add_and_list(run: object, lti_env: Env) -> None:
    invoke = run
    with lti_env.db.session() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        credentials.create_tenant(session, slug, "Bộ Giáo dục và Đào tạo")
        session.commit()
    base = ["platform", "add", "--tenant", slug, "--issuer", "https://lms.moet.example.vn", "--client-id", "abc",
            "--auth-login-url", "https://lms.moet.example.vn/auth", "--token-url", "https://lms.moet.example.vn/token",
            "--keyset-url", "https://lms.moet.example.vn/jwks"]
    added = invoke(*base, "--deployment-id", "d1", "--json")  # type: ignore[operator]
    assert added["tenant"] == slug and added["deployment_ids"] == ["d1"]
    assert added["tool"]["jwks_url"] == lti_env.tool_url + "/lti/jwks"
    again = invoke(*base, "--deployment-id", "d2", "--deployment-id", "d1", "--json")  # type: ignore[operator]
    assert again["id"] == added["id"] and again["deployment_ids"] == ["d1", "d2"]
    listed = invoke("platform", "list", "--tenant", slug, "--json")  # type: ignore[operator]
    assert [(r["issuer"], r["client_id"]) for r in listed] == [("https://lms.moet.example.vn", "abc")]

    bad = invoke.raw("platform", "add", *base[2:4], "--issuer", "http://lms.example.vn", "--client-id", "x",  # type: ignore[attr-defined]
                     "--deployment-id", "1", "--auth-login-url", "https://a", "--token-url", "https://a",
                     "--keyset-url", "https://a")
    assert bad.exit_code != 0 and "https" in bad.output


def test_keys_rotate_and_retire(run: object) -> None:
    invoke = run
    new = invoke("rotate-key", "--json")  # type: ignore[operator]
    listed = invoke("keys", "--json")  # type: ignore[operator]
    signing = [k for k in listed if k["signing"]]
    assert [k["kid"] for k in signing] == [new["kid"]]
    older = [k["kid"] for k in listed if not k["retired"] and not k["signing"]]
    if older:
        # `--` ends the options: a base64url kid may start with "-" (1 in 64), as an operator would type it.
        assert invoke("retire-key", "--json", "--", older[0])["kid"] == older[0]  # type: ignore[operator]
    refused = invoke.raw("retire-key", "no-such-kid")  # type: ignore[attr-defined]
    assert refused.exit_code != 0 and "no tool key" in refused.output


def test_register_url_and_retry_scores(run: object, lti_env: Env) -> None:
    invoke = run
    with lti_env.db.session() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        credentials.create_tenant(session, slug, "Sở Thông tin")
        session.commit()
    made = invoke("register-url", "--tenant", slug, "--json")  # type: ignore[operator]
    assert made["url"].startswith(f"{lti_env.tool_url}/lti/register/{slug}?invite=")
    # The LMS appends its parameters to the pasted URL (DR 1.0 §3.3).
    pasted = made["url"].removeprefix(lti_env.tool_url)
    page = lti_env.app.test_client().get(f"{pasted}&openid_configuration={lti_env.platform.openid_configuration_url}")
    assert page.status_code == 200
    report = invoke("retry-scores", "--json")  # type: ignore[operator]
    assert set(report) == {"requeued", "delivered", "pending", "failed"}
