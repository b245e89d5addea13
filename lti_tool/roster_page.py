"""The instructor's class view at /player/roster (NRPS 2.0), in the player's look (``player.pages``):
every member of the LMS course and their progress on the launched link (``lti_tool.roster``).
A learner's launch gets 403, a launch without the NRPS claim a notice, a platform that does not
answer a 502 page; a session no LTI launch opened has no roster (the same notice)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, url_for

from lti_tool.ags import score_refusal
from lti_tool.launch_context import LaunchContext
from lti_tool.roster import RosterNotOffered, roster_progress
from lti_tool.score_delivery import link_delivery_states
from player import pages
from player.domain import PlayerError, resolve_in_launch
from player.http import register_staff_page
from player.packages.units import is_package_target, package_root

bp = Blueprint("lti_roster", __name__, template_folder="templates")

TEXT: dict[str, tuple[str, str]] = {  # key: (vi, en)
    "roster.title": ("Tiến độ của lớp", "Class progress"),
    "roster.summary": ("{learners} học viên, {started} đã bắt đầu", "{learners} learners, {started} started"),
    "roster.learners": ("Học viên", "Learners"),
    "roster.staff": ("Giảng viên và trợ giảng", "Instructors and assistants"),
    "roster.staff_badge": ("Giảng viên", "Staff"),
    "roster.you": ("Bạn", "You"),
    "roster.empty": ("Lớp chưa có học viên nào.", "The class has no learners yet."),
    "roster.not_started": ("Chưa bắt đầu", "Not started"),
    "roster.last_activity": ("Hoạt động gần nhất", "Last activity"),
    "roster.lessons": ("Bài học đã hoàn thành: {done}/{total}", "Lessons completed: {done}/{total}"),
    "roster.quiz_none": ("Chưa làm", "Not attempted"),
    "roster.passed": ("Đạt", "Passed"),
    "roster.failed": ("Chưa đạt", "Not passed"),
    "roster.best": ("Điểm cao nhất: {percent}%", "Best score: {percent}%"),
    "roster.attempts": ("Số lần làm: {n}", "Attempts: {n}"),
    "roster.user_id": ("Mã trên LMS", "LMS user ID"),
    "roster.roles": ("Vai trò", "Roles"),
    "roster.status.Inactive": ("Không còn hoạt động trong lớp", "Inactive in the course"),
    "roster.status.Deleted": ("Đã bị xoá khỏi lớp", "Removed from the course"),
    "roster.grade.delivered": ("Điểm đã được gửi về LMS", "Grade delivered to the LMS"),
    "roster.grade.pending": ("Điểm đang chờ gửi về LMS (sẽ thử lại)", "Grade waiting to reach the LMS (retried)"),
    "roster.grade.failed": ("LMS đã từ chối điểm này", "The LMS refused this grade"),
    "roster.grade.reason": ("Lý do", "Reason"),
    "roster.grade.not_granted": ("Điểm của liên kết này không được gửi về LMS: LMS không cấp cho công cụ quyền gửi "
                                 "điểm (dịch vụ điểm AGS, quyền “score”). Hãy bật quyền này cho công cụ trong LMS; "
                                 "các bài làm sau đó sẽ được gửi điểm.",
                                 "Grades of this link are not sent to the LMS: the LMS does not let the tool send "
                                 "scores (the AGS “score” scope). Grant it to the tool in the LMS; attempts made "
                                 "after that are sent."),
    "roster.times": ("Giờ theo UTC (giờ Việt Nam = UTC + 7).", "Times are UTC (Vietnam time = UTC + 7)."),
    "roster.forbidden_title": ("Không được phép", "Not allowed"),
    "roster.forbidden": ("Chỉ giảng viên của lớp mới xem được tiến độ của cả lớp.",
                         "Only the course's instructors can see the class's progress."),
    "roster.no_nrps": ("Hệ thống học tập (LMS) không chia sẻ danh sách lớp cho liên kết này, nên chưa hiển thị được "
                       "tiến độ của lớp. Hãy bật dịch vụ Tên và Vai trò (Names and Role Provisioning Services) cho "
                       "công cụ này trong LMS, rồi mở lại liên kết.",
                       "Your learning system (LMS) does not share the class list for this link, so the class's "
                       "progress cannot be shown. Turn on Names and Role Provisioning Services for this tool in the "
                       "LMS, then open the link again."),
    "roster.unavailable_title": ("Không lấy được danh sách lớp", "The class list could not be fetched"),
    "roster.unavailable": ("Hệ thống học tập (LMS) không trả lời khi được hỏi danh sách lớp. Kết quả học tập đã ghi "
                           "vẫn an toàn; hãy thử lại sau ít phút.",
                           "Your learning system (LMS) did not answer the request for the class list. The recorded "
                           "progress is safe; please try again in a few minutes."),
}


def texts(key: str, locale: str, **params: Any) -> str | None:
    """The roster's own text, or None for a key of the player's (``player.pages.render``)."""
    pair = TEXT.get(key)
    if pair is None:
        return None
    text = pair[1] if locale == "en" else pair[0]
    return text.format(**params) if params else text


@bp.get("/roster")
def roster() -> Response:
    opened = pages.current_launch()
    launch = LaunchContext.of_player(opened)
    if launch is None:
        raise RosterNotOffered("this course was not opened from an LMS")
    cat = pages.catalogue()
    with pages.db() as db:
        rows = roster_progress(db, launch, cat)
        # What became of each learner's grade on its way to the LMS (AGS): delivered, waiting, refused.
        deliveries = link_delivery_states(db, launch.tenant_id, launch.registration_id, launch.resource_link_id)
        package = package_root(db, opened.target) if is_package_target(opened.target) else None
    # A gradebook column the platform granted no score scope for (AGS 2.0 §3.1): no grade of this
    # link is queued, so no card shows a delivery state; the page says why instead.
    not_granted = bool(launch.ags_lineitem or launch.ags_lineitems) and score_refusal(launch) is not None
    # An imported course's link has no catalogue item: its root names the course and the unit.
    root: Any = package or resolve_in_launch(cat, opened, opened.target)
    back = url_for("player.open") if package is not None else pages.view_url(root.target)
    learners = [p for p in rows if not p.staff]
    return pages.render("lti/roster.html", texts=texts, r=root, launch=launch, learners=learners,
                        staff=[p for p in rows if p.staff], started=sum(1 for p in learners if p.started),
                        deliveries=deliveries, not_granted=not_granted, back_url=back)


@bp.errorhandler(PlayerError)
def _roster_error(err: PlayerError) -> Response:
    return pages.render("player/message.html", err.status, texts=texts, title_key=err.title_key, text_key=err.key)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # the page shows the class's names and results
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/player")
    register_staff_page(app, "lti_roster.roster")
