"""Well-known xAPI verbs and activity types the importers use, with display names in en and vi.

Sources, so a reader can check each IRI where it is defined:
- ADL verbs (``http://adlnet.gov/expapi/verbs/...``): the ADL vocabulary that the xAPI SCORM
  Profile §3.2 "Verb" requires ("shall use the verbs maintained by ADL") and cmi5 reuses.
- cmi5 (AICC/ADL "cmi5 Specification Profile for xAPI", §9.3 "Verbs"): launched, initialized,
  completed, passed, failed, terminated (ADL IRIs) plus abandoned, waived and satisfied, which
  cmi5 defined under ``https://w3id.org/xapi/adl/verbs/``.
- xAPI SCORM Profile §3.2 table "Some verbs have special meaning when related to SCORM":
  initialized, terminated, suspended, resumed, passed, failed, scored, completed, responded.
- ADL's w3id vocabulary for sessions (logged-in, logged-out) and the public xAPI registry
  (``http://id.tincanapi.com/verb/...``) for viewed and skipped, which ADL does not define.

Display names: ``en-US`` as the ADL vocabulary writes them, ``vi`` as the hub's course player
shows them (player.statements.VERBS uses the same words for the verbs both know).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

ADL: Final = "http://adlnet.gov/expapi/verbs/"
ADL_W3ID: Final = "https://w3id.org/xapi/adl/verbs/"
REGISTRY: Final = "http://id.tincanapi.com/verb/"


@dataclass(frozen=True)
class Verb:
    """One verb: its IRI, display names and where it is defined."""

    iri: str
    en: str
    vi: str
    source: str

    def as_xapi(self) -> dict[str, Any]:
        """The Verb object of a statement (xAPI 1.0.3 Part Two §2.4.3)."""
        return {"id": self.iri, "display": {"en-US": self.en, "vi": self.vi}}


def _v(base: str, name: str, vi: str, source: str, en: str | None = None) -> Verb:
    return Verb(base + name, en or name, vi, source)


VERBS: Final[dict[str, Verb]] = {
    # cmi5 §9.3.1–§9.3.9 (ADL IRIs unless noted).
    "launched": _v(ADL, "launched", "đã mở", "cmi5 §9.3.1"),
    "initialized": _v(ADL, "initialized", "đã bắt đầu", "cmi5 §9.3.2; SCORM Profile §3.2"),
    "completed": _v(ADL, "completed", "đã hoàn thành", "cmi5 §9.3.3; SCORM Profile §3.2"),
    "passed": _v(ADL, "passed", "đã đạt", "cmi5 §9.3.4; SCORM Profile §3.2"),
    "failed": _v(ADL, "failed", "chưa đạt", "cmi5 §9.3.5; SCORM Profile §3.2"),
    "abandoned": _v(ADL_W3ID, "abandoned", "đã bỏ dở", "cmi5 §9.3.6"),
    "waived": _v(ADL_W3ID, "waived", "được miễn", "cmi5 §9.3.7"),
    "terminated": _v(ADL, "terminated", "đã kết thúc", "cmi5 §9.3.8; SCORM Profile §3.2"),
    "satisfied": _v(ADL_W3ID, "satisfied", "đã đáp ứng", "cmi5 §9.3.9"),
    # xAPI SCORM Profile §3.2 (besides the cmi5 ones above).
    "suspended": _v(ADL, "suspended", "đã tạm dừng", "SCORM Profile §3.2"),
    "resumed": _v(ADL, "resumed", "đã tiếp tục", "SCORM Profile §3.2"),
    "scored": _v(ADL, "scored", "đã ghi điểm", "SCORM Profile §3.2"),
    "responded": _v(ADL, "responded", "đã phản hồi", "SCORM Profile §3.2, §6 Interactions"),
    # Other ADL verbs.
    "answered": _v(ADL, "answered", "đã trả lời", "ADL"),
    "attempted": _v(ADL, "attempted", "đã làm bài", "ADL"),
    "experienced": _v(ADL, "experienced", "đã xem qua", "ADL"),
    "progressed": _v(ADL, "progressed", "đã học tiếp", "ADL"),
    "registered": _v(ADL, "registered", "đã ghi danh", "ADL"),
    "commented": _v(ADL, "commented", "đã bình luận", "ADL"),
    "interacted": _v(ADL, "interacted", "đã tương tác", "ADL"),
    "mastered": _v(ADL, "mastered", "đã thành thạo", "ADL"),
    "voided": _v(ADL, "voided", "đã huỷ", "ADL; xAPI 1.0.3 Part Two §2.3.2"),
    "logged-in": _v(ADL_W3ID, "logged-in", "đã đăng nhập", "ADL (w3id)", en="logged in"),
    "logged-out": _v(ADL_W3ID, "logged-out", "đã đăng xuất", "ADL (w3id)", en="logged out"),
    # The public xAPI registry: ADL has no verb for these.
    "viewed": _v(REGISTRY, "viewed", "đã xem", "xAPI registry"),
    "skipped": _v(REGISTRY, "skipped", "đã bỏ qua", "xAPI registry"),
}

# Activity types: ADL's (xAPI SCORM Profile §3.2 "Activity Types" table for course, module, SCO
# (lesson), assessment, interaction, objective, attempt and profile; the ADL vocabulary for the
# rest) and Activity Streams' application, for the LMS itself as the object of a log-in.
ACTIVITY_TYPES: Final[dict[str, str]] = {
    "course": "http://adlnet.gov/expapi/activities/course",
    "module": "http://adlnet.gov/expapi/activities/module",
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "assessment": "http://adlnet.gov/expapi/activities/assessment",
    "question": "http://adlnet.gov/expapi/activities/question",
    "interaction": "http://adlnet.gov/expapi/activities/interaction",
    # xAPI 1.0.3 Part Two §2.4.4.1: the type of an Activity carrying an interactionType.
    "cmi.interaction": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "objective": "http://adlnet.gov/expapi/activities/objective",
    "attempt": "http://adlnet.gov/expapi/activities/attempt",
    "profile": "http://adlnet.gov/expapi/activities/profile",
    "link": "http://adlnet.gov/expapi/activities/link",
    "file": "http://adlnet.gov/expapi/activities/file",
    "media": "http://adlnet.gov/expapi/activities/media",
    "meeting": "http://adlnet.gov/expapi/activities/meeting",
    "application": "http://activitystrea.ms/schema/1.0/application",
}


def verb(name: str) -> dict[str, Any]:
    """The xAPI Verb object for a well-known verb, by short name (KeyError if unknown)."""
    return VERBS[name].as_xapi()


def activity_type(name: str) -> str:
    return ACTIVITY_TYPES[name]
