"""What the learner is told (issue 12, item 3), on the real gate pages, in Vietnamese and English.

Consent before enrolment names the data controller, the purpose, what is kept, the retention period,
how to withdraw and the alternative when the learner refuses (Decree 13/2023/NĐ-CP Art. 11: consent is
valid only when the subject knows the data, the purpose, who processes it and their rights; Art. 13:
notification before processing; Art. 9: the rights to withdraw consent and to deletion; Personal Data
Protection Law 2025, 91/2025/QH15). What a "verified" attempt does and does not prove is said before
the check and after it. The pages fit a 360 px phone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from identity.gate.texts import TEXT
from identity.storage import IdentityAccount
from player.session import KEY
from tests.identity.gate.gate_support import QUIZ, IdentityEnv, Learner, account_key
from tests.player.player_support import CSRF

CITIZEN = "demo-0002"  # level 2; this file links and shows the enrolment page, it never enrols


@pytest.fixture
def at_enrolment(identity_env: IdentityEnv) -> Iterator[Learner]:
    learner = identity_env.learner()
    learner.ready(CITIZEN)
    yield learner


def _page(learner: Learner, lang: str) -> str:
    with learner.client.session_transaction() as s:
        s["locale"] = lang
    res = learner.gate()
    assert res.status_code == 200
    text = res.get_data(as_text=True)
    assert 'data-step="enrol"' in text
    return text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_consent_names_controller_purpose_retention_withdrawal_and_the_alternative(
        identity_env: IdentityEnv, at_enrolment: Learner, lang: str) -> None:
    """Decree 13/2023/NĐ-CP Art. 11, 13: the terms before the consent box, from the hub's settings."""
    cfg = identity_env.cfg
    policy = cfg.policy
    cfg.policy = replace(policy, controller="Bộ Nội vụ — Trung tâm Thông tin", controller_contact="dpo@moha.gov.vn",
                         face_retention_days=180)
    try:
        page = _page(at_enrolment, lang)
    finally:
        cfg.policy = policy
    i = 1 if lang == "en" else 0
    terms = page[page.index('id="identity-consent-terms"'):page.index('id="identity-enrol"')]
    for term in ("controller", "purpose", "data", "retention", "withdraw", "refuse"):
        assert f'data-term="{term}"' in terms
    assert "Bộ Nội vụ — Trung tâm Thông tin" in terms and "dpo@moha.gov.vn" in terms
    assert ("180 ngày" if lang == "vi" else "180 days") in terms
    assert TEXT["identity.consent.purpose"][i] in terms and TEXT["identity.consent.refuse"][i].split(":")[0] in terms
    assert ("có giám sát" if lang == "vi" else "supervised") in terms
    assert "13/2023/NĐ-CP" in page and "91/2025/QH15" in page
    assert page.index('id="identity-consent-terms"') < page.index('name="consent"')  # read before ticking


def test_the_default_controller_is_the_hubs_operator(identity_env: IdentityEnv, at_enrolment: Learner) -> None:
    """Without HOCVU_DATA_CONTROLLER the text names the operator of this hub by its public host (that of its
    VNeID callback, ``HOCVU_PUBLIC_URL``), and the default retention (365 days)."""
    page = _page(at_enrolment, "vi")
    host = urlsplit(identity_env.app.extensions["identity"].settings.redirect_uri).netloc
    assert f"đơn vị vận hành hệ thống hocvu tại {host}" in page and "365 ngày" in page


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_what_verified_proves_is_said_before_the_check(identity_env: IdentityEnv, lang: str) -> None:
    """Before the check and on the quiz's panel: what "verified" proves, and that it does not prove the
    learner worked alone."""
    learner = identity_env.learner()
    learner.ready()  # demo-0001, enrolled by the session fixture
    with learner.client.session_transaction() as s:
        s["locale"] = lang
    page = learner.gate().get_data(as_text=True)
    assert 'data-step="check"' in page and 'id="identity-proves"' in page
    assert TEXT["identity.proves"][1 if lang == "en" else 0] in page
    assert ("không chứng minh rằng bạn làm bài một mình" if lang == "vi" else "does not prove that you worked alone"
            ) in page
    quiz = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="identity-proves"' in quiz


def test_the_enrolment_page_fits_a_phone(identity_env: IdentityEnv, at_enrolment: Learner) -> None:
    """A 360 px wide phone: the consent terms and the form need no sideways scrolling."""
    from tests.browser_support import CHROMEDRIVER, CHROMIUM, chromium

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (make browser)")
    pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By

    env = identity_env
    with env.db.session() as s:
        account = s.scalar(select(IdentityAccount).where(IdentityAccount.subject_hmac == account_key(env, CITIZEN)))
        assert account is not None
        account_id = account.id
    cookie = env.app.session_interface.get_signing_serializer(env.app).dumps({  # type: ignore[attr-defined]
        KEY: at_enrolment.launch.to_session(), "csrf": CSRF, "identity.account": account_id,
        "identity.signed_in_at": int(time.time()), "locale": "vi"})
    phone: dict[str, Any] = {"width": 360, "height": 740, "pixelRatio": 3.0}
    with chromium(phone=phone) as browser:
        browser.get(f"{env.base}/player/")
        browser.add_cookie({"name": env.app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{env.base}/player/identity/gate?target={QUIZ}")
        assert browser.find_element(By.ID, "identity-consent-terms").is_displayed()
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width} px wide on a 360 px phone"
