"""Deep Linking 2.0 round trip: the instructor's picker, the signed LtiDeepLinkingResponse the
platform verifies against our JWKS, and a launch of the link it created."""

from __future__ import annotations

import re

import requests

from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Lms, StubItem, error_message, form
from tests.lti.lti_platform import LEARNER, LTI

QUIZ = "course/ky-nang-so-co-ban/quiz/final"
COURSE = "course/ky-nang-so-co-ban"


def _picker(browser: Browser, lms: Lms, **kw: object) -> tuple[str, dict[str, str], str]:
    hint = lms.env.platform.deep_linking(lms.client, **kw)  # type: ignore[arg-type]
    page = browser.launch(hint, "teacher-1")
    assert page.status_code == 200, page.get_data(as_text=True)
    action, fields = form(page.get_data(as_text=True))
    return action, fields, page.get_data(as_text=True)


def _answer_platform(page: str) -> requests.Response:
    """The browser auto-submits the tool's answer to the platform's deep_link_return_url."""
    action, fields = form(page)
    return requests.post(action, data=fields, timeout=10)


def test_round_trip_creates_links_and_a_line_item(browser: Browser, lms: Lms, catalogue: list[StubItem]) -> None:
    platform = lms.env.platform
    action, fields, page = _picker(browser, lms)
    assert action == "/lti/deep-link"
    assert all(item.title in page for item in catalogue)
    assert 'type="checkbox"' in page

    answer = browser.client.post(action, data={"launch_id": fields["launch_id"], "target": [QUIZ, COURSE]})
    assert answer.status_code == 200
    return_action, jwt_fields = form(answer.get_data(as_text=True))
    assert return_action == platform.return_url and set(jwt_fields) == {"JWT"}
    accepted = _answer_platform(answer.get_data(as_text=True))
    assert accepted.status_code == 200, accepted.text

    links = [link for link in platform.links if link["client_id"] == lms.client.client_id]
    assert [(link["title"], link["custom"]) for link in links] == [
        ("Kỹ năng số cơ bản", {"target": COURSE}), ("Bài kiểm tra cuối khoá", {"target": QUIZ})]
    assert all(link["url"] == lms.env.tool_url + "/lti/launch" for link in links)
    assert links[0]["lineitem"] is None
    line_item = platform.line_items[links[1]["lineitem"].rsplit("/", 1)[1]]
    assert line_item["scoreMaximum"] == 10.0 and line_item["resourceId"] == QUIZ

    # The link the platform created launches into the picked quiz.
    launch_hint = platform.resource_link(lms.client, target=None, lineitem=links[1]["lineitem"],
                                         overrides={LTI + "custom": links[1]["custom"]})
    assert browser.launch(launch_hint).status_code == 303
    assert browser.lti_launch().target == QUIZ

    # One answer per deep-linking launch.
    again = browser.client.post(action, data={"launch_id": fields["launch_id"], "target": [QUIZ]})
    assert again.status_code == 400
    assert "expired or was already used" in error_message(again)


def test_single_choice_platform_and_cancel(browser: Browser, lms: Lms, catalogue: list[StubItem]) -> None:
    action, fields, page = _picker(browser, lms, accept_multiple=False)
    assert 'type="radio"' in page
    two = browser.client.post(action, data={"launch_id": fields["launch_id"], "target": [QUIZ, COURSE]})
    assert two.status_code == 400

    cancel = browser.client.post(action, data={"launch_id": fields["launch_id"], "cancel": "1"})
    assert cancel.status_code == 200
    assert _answer_platform(cancel.get_data(as_text=True)).status_code == 200


def test_unknown_target_is_refused(browser: Browser, lms: Lms, catalogue: list[StubItem]) -> None:
    action, fields, _ = _picker(browser, lms)
    response = browser.client.post(action, data={"launch_id": fields["launch_id"], "target": ["course/nope"]})
    assert response.status_code == 400
    assert "course/nope" in error_message(response)


def test_learners_cannot_open_the_picker(browser: Browser, lms: Lms, catalogue: list[StubItem]) -> None:
    hint = lms.env.platform.deep_linking(lms.client, user="learner-9", roles=LEARNER)
    response = browser.launch(hint, "learner-9")
    assert response.status_code == 403
    assert PLAYER_SESSION not in browser.session()


def test_forged_launch_id_is_refused(browser: Browser) -> None:
    response = browser.client.post("/lti/deep-link", data={"launch_id": "lti1p3-launch-forged", "target": [QUIZ]})
    assert response.status_code == 400


def test_the_vietnamese_picker_names_each_kind_in_vietnamese(browser: Browser, lms: Lms,
                                                              catalogue: list[StubItem]) -> None:
    """A launch whose ``launch_presentation.locale`` is vi (LTI 1.3 §5.4.1) gets a picker with no English
    kind words: khoá học, chương, bài học, bài kiểm tra (issue 14: texts reviewed for Vietnamese)."""
    _, _, page = _picker(browser, lms)
    kinds = {kind.split(" · ")[0] for kind in re.findall(r'<span class="kind">([^<]*)</span>', page)}
    assert kinds and kinds <= {"khoá học", "chương", "bài học", "bài kiểm tra", "khoá học nhập", "học phần"}, kinds
    assert "có chấm điểm" in page and "graded" not in page
