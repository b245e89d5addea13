"""The player's interface text in Vietnamese (the default) and English. Course content carries its
own translations (``schemas.course``); this is only the chrome around it."""

from __future__ import annotations

from typing import Any

from identity.web import normalise
from player.i18n_citizen import TEXT as CITIZEN_TEXT

TEXT: dict[str, tuple[str, str]] = {  # key: (vi, en)
    "app.name": ("Bình dân học vụ số", "Bình dân học vụ số"),  # the movement's name, in both
    "lang.switch": ("English", "Tiếng Việt"),
    "lang.switch_label": ("Chuyển sang tiếng Anh", "Switch to Vietnamese"),
    "nav.outline": ("Mục lục khoá học", "Course outline"),
    "nav.next": ("Tiếp theo", "Next"),
    "nav.back": ("Quay lại", "Back"),
    "nav.exit": ("Kết thúc bài học", "Finish this session"),
    "outline.lessons": ("Bài học", "Lessons"),
    "outline.quiz": ("Bài kiểm tra", "Quiz"),
    "outline.start": ("Bắt đầu học", "Start learning"),
    "status.done": ("Đã hoàn thành", "Completed"),
    "status.progress": ("Đã học {progress}%", "{progress}% done"),
    "status.passed": ("Đạt ({raw}/{max})", "Passed ({raw}/{max})"),
    "status.failed": ("Chưa đạt ({raw}/{max})", "Not passed ({raw}/{max})"),
    "status.in_progress": ("Đang làm bài", "In progress"),
    "lesson.minutes": ("{minutes} phút", "{minutes} min"),
    "lesson.video": ("Video bài giảng", "Video lecture"),
    "lesson.video_placeholder": ("Video của bài này đang được sản xuất. Toàn bộ nội dung có trong lời giảng bên dưới.",
                                 "The video for this lesson is still being produced. The full content is in the "
                                 "transcript below."),
    "lesson.video_failed": ("Không tải được video. Bạn vẫn học đầy đủ bằng lời giảng bên dưới.",
                            "The video could not be loaded. The transcript below has the full lesson."),
    "lesson.show_video": ("Xem video (nếu có mạng tốt)", "Watch the video (on a good connection)"),
    "lesson.transcript": ("Lời giảng", "Transcript"),
    "lesson.transcript_vi_only": ("Lời giảng bài này hiện chỉ có bằng tiếng Việt.",
                                  "This lesson's transcript is available in Vietnamese only."),
    "lesson.resume": ("Đọc tiếp từ đoạn {n}", "Continue from paragraph {n}"),
    "lesson.key_points": ("Ghi nhớ", "Key points"),
    "lesson.complete": ("Tôi đã học xong bài này", "I have finished this lesson"),
    "lesson.completed": ("Bạn đã hoàn thành bài học này.", "You have completed this lesson."),
    "quiz.questions": ("{n} câu hỏi", "{n} questions"),
    "quiz.passing": ("Cần đạt {percent}% để qua", "{percent}% needed to pass"),
    "quiz.time_limit": ("Thời gian làm bài: {minutes} phút", "Time limit: {minutes} minutes"),
    "quiz.no_time_limit": ("Không giới hạn thời gian", "No time limit"),
    "quiz.graded": ("Điểm được gửi về hệ thống học tập (LMS) của bạn.",
                    "Your score is sent to your learning system (LMS)."),
    "quiz.practice": ("Bài luyện tập, không tính điểm.", "Practice quiz, not graded."),
    "quiz.start": ("Bắt đầu làm bài", "Start the quiz"),
    "quiz.retry": ("Làm lại", "Try again"),
    "quiz.continue": ("Bạn đang làm dở bài này; câu trả lời đã chọn được lưu.",
                      "You have an attempt in progress; your chosen answers are saved."),
    "quiz.time_left": ("Thời gian còn lại", "Time left"),
    "quiz.choose_one": ("Chọn một đáp án", "Choose one answer"),
    "quiz.choose_many": ("Chọn tất cả đáp án đúng", "Choose all correct answers"),
    "quiz.submit": ("Nộp bài", "Submit"),
    "quiz.question_n": ("Câu {n}", "Question {n}"),
    "quiz.result": ("Kết quả lần làm bài thứ {number}", "Result of attempt {number}"),
    "quiz.score": ("Điểm: {raw}/{max} ({percent}%)", "Score: {raw}/{max} ({percent}%)"),
    "quiz.passed": ("Chúc mừng, bạn đã đạt!", "Congratulations, you passed!"),
    "quiz.failed": ("Bạn chưa đạt. Hãy xem lại bài học rồi làm lại.",
                    "You did not pass this time. Review the lessons and try again."),
    "quiz.timed_out": ("Hết giờ: chỉ những câu trả lời đã lưu trước khi hết giờ được tính.",
                       "Time ran out: only answers saved before the deadline were counted."),
    "quiz.right": ("Đúng", "Correct"),
    "quiz.wrong": ("Chưa đúng", "Incorrect"),
    "quiz.your_answer": ("Bạn chọn", "Your answer"),
    "quiz.no_answer": ("(không trả lời)", "(no answer)"),
    "quiz.correct_answer": ("Đáp án đúng", "Correct answer"),
    "quiz.other_open": ("Bạn đang làm dở một bài kiểm tra khác. Hãy hoàn thành bài đó trước.",
                        "You have another quiz in progress. Please finish it first."),
    "quiz.go_open": ("Đến bài đang làm dở", "Go to the attempt in progress"),
    "roster.link": ("Xem tiến độ của cả lớp", "View the class's progress"),
    "ended.title": ("Đã kết thúc", "Session finished"),
    "ended.text": ("Bạn có thể đóng trang này hoặc quay lại hệ thống học tập.",
                   "You can close this page or go back to your learning system."),
    "error.title": ("Không thực hiện được", "Something went wrong"),
    "error.no_launch_title": ("Mở khoá học từ hệ thống học tập", "Open the course from your learning system"),
    "error.no_launch": ("Hãy mở khoá học từ hệ thống học tập (LMS) của bạn, hoặc từ trang chủ bằng tài khoản VNeID. "
                        "Phiên học không có hoặc đã hết hạn, nên trang này không biết bạn là ai.",
                        "Please open the course from your learning system (LMS), or from the home page with VNeID. "
                        "There is no learning session here, or it has expired, so this page does not know who you "
                        "are."),
    "error.not_in_catalogue": ("Liên kết này trỏ tới nội dung không còn trong danh mục khoá học. Hãy báo giảng viên.",
                               "This link points to content that is no longer in the course catalogue. Please tell "
                               "your instructor."),
    "error.outside_launch": ("Nội dung này không thuộc liên kết bạn đã mở từ hệ thống học tập.",
                             "This content is not part of the link you opened from your learning system."),
    "error.not_found": ("Không tìm thấy trang này.", "This page does not exist."),
    "error.attempt_in_progress": ("Bạn đang làm dở một bài kiểm tra. Mỗi lúc chỉ làm một bài.",
                                  "You already have a quiz attempt in progress. One attempt at a time."),
    "error.attempt_closed": ("Lần làm bài này đã kết thúc.", "This attempt has already ended."),
    "error.time_up": ("Đã hết thời gian làm bài.", "The time limit has passed."),
    "error.bad_request": ("Yêu cầu không hợp lệ. Hãy tải lại trang và thử lại.",
                          "The request was not valid. Please reload the page and try again."),
    "error.server": ("Hệ thống gặp lỗi khi lưu kết quả học tập. Lỗi đã được ghi lại; hãy thử lại sau.",
                     "The system failed to save your learning record. The error has been logged; please try again "
                     "later."),
}
TEXT.update(CITIZEN_TEXT)


def t(key: str, locale: str, **params: Any) -> str:
    vi, en = TEXT[key]
    text = en if normalise(locale) == "en" else vi
    return text.format(**params) if params else text
