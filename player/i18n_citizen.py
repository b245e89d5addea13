"""Interface text of the front door, "my learning", erasure, the offline layer and lesson video, in
Vietnamese (the default) and English; merged into ``player.i18n.TEXT``. Reviewed for Vietnamese
first: plain words a citizen uses, "bạn" throughout, no English left in the Vietnamese texts."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {  # key: (vi, en)
    "app.short_name": ("Học vụ số", "Học vụ số"),
    "front.title": ("Học kỹ năng số miễn phí, cho mọi người", "Free digital skills, for everyone"),
    "front.what": ("Bình dân học vụ số là phong trào toàn dân học kỹ năng số: dùng điện thoại an toàn, định danh "
                   "điện tử VNeID, dịch vụ công trực tuyến, phòng tránh lừa đảo. Không ai bị bỏ lại phía sau.",
                   "Bình dân học vụ số is the national movement for digital skills: using a phone safely, the VNeID "
                   "electronic identity, online public services, avoiding scams. No one is left behind."),
    "front.how": ("Đăng nhập bằng tài khoản định danh điện tử VNeID, chọn khoá học và học ngay trên điện thoại, kể cả "
                  "khi mạng yếu hay mất mạng: bài đã mở được lưu trên máy, kết quả tự gửi đi khi có mạng trở lại.",
                  "Sign in with your VNeID electronic identity, pick a course and learn on your phone, even on a weak "
                  "or absent network: the lessons you opened stay on your phone and your results are sent when the "
                  "network is back."),
    "front.sign_in": ("Đăng nhập bằng VNeID", "Sign in with VNeID"),
    "front.sign_in_unavailable": ("Máy chủ này chưa cấu hình đăng nhập VNeID.",
                                  "VNeID sign-in is not configured on this server."),
    "front.hello": ("Xin chào {name}", "Hello, {name}"),
    "front.hello_anonymous": ("Bạn đã đăng nhập bằng VNeID", "You are signed in with VNeID"),
    "front.my_learning": ("Việc học của tôi", "My learning"),
    "front.resume": ("Học tiếp khoá đang mở", "Continue the open course"),
    "front.courses": ("Các khoá học", "Courses"),
    "front.course_facts": ("{lessons} bài học, khoảng {minutes} phút", "{lessons} lessons, about {minutes} minutes"),
    "front.open_course": ("Vào học", "Start"),
    "front.sign_out": ("Đăng xuất", "Sign out"),
    "front.signed_out": ("Bạn đã đăng xuất. Các trang lưu trên máy này đã được xoá.",
                         "You have signed out. The pages kept on this device have been removed."),
    "front.unsynced": ("Còn {n} mục chưa gửi được lên hệ thống. Nếu đăng xuất bây giờ, các mục này sẽ bị mất. "
                       "Vẫn đăng xuất?", "{n} item(s) have not reached the server yet and will be lost if you sign out "
                       "now. Sign out anyway?"),
    "front.lms_note": ("Nếu cơ quan của bạn có hệ thống học tập (LMS) riêng, hãy mở khoá học từ đó để kết quả về thẳng "
                       "cơ quan.", "If your organisation has its own learning system (LMS), open the course from "
                       "there so your results go straight to it."),
    "front.privacy": ("Hệ thống không lưu số định danh cá nhân của bạn, chỉ lưu một mã bí danh.",
                      "Your personal ID number is never stored, only a pseudonymous code."),
    "learning.progress": ("Hoàn thành {percent}%", "{percent}% complete"),
    "learning.lessons": ("Bài học đã xong: {done}/{total}", "Lessons done: {done} of {total}"),
    "learning.not_started": ("Chưa bắt đầu", "Not started"),
    "learning.quiz_best": ("điểm cao nhất {raw}/{max}", "best score {raw}/{max}"),
    "learning.quiz_none": ("chưa làm", "not taken yet"),
    "learning.quiz_attempts": ("{n} lần làm", "{n} attempt(s)"),
    "learning.verified": ("{n} lần có xác minh danh tính", "{n} identity-verified attempt(s)"),
    "learning.passed": ("đạt", "passed"),
    "learning.continue": ("Học tiếp", "Continue"),
    "learning.start": ("Bắt đầu học", "Start learning"),
    "learning.certificates": ("Chứng chỉ", "Certificates"),
    "learning.no_certificates": ("Bạn chưa có chứng chỉ nào. Chứng chỉ số sẽ hiện ở đây khi được cấp.",
                                 "No certificates yet. Digital certificates will appear here once issued."),
    "learning.records": ("Dữ liệu học tập của tôi", "My learning records"),
    "learning.records_text": ("Tải về toàn bộ bản ghi học tập của bạn được lưu ở hệ thống quốc gia.",
                              "Download every learning record of yours kept by the national system."),
    "learning.download_json": ("Tải về dạng xAPI (JSON)", "Download as xAPI (JSON)"),
    "learning.download_csv": ("Tải về dạng bảng tính (CSV)", "Download as a spreadsheet (CSV)"),
    "learning.erase_link": ("Yêu cầu xoá dữ liệu học tập", "Ask to erase my learning records"),
    "learning.erased": ("Đã xoá {n} bản ghi học tập của bạn.", "{n} of your learning records were erased."),
    "erase.title": ("Xoá dữ liệu học tập", "Erase my learning records"),
    "erase.what": ("Mọi bản ghi học tập của bạn ở hệ thống quốc gia sẽ bị xoá: tiến độ bài học, các lần làm bài kiểm "
                   "tra, điểm số và kết quả xác minh danh tính. Việc xoá không thể hoàn tác.",
                   "Every learning record of yours in the national system will be erased: lesson progress, quiz "
                   "attempts, scores and identity checks. Erasure cannot be undone."),
    "erase.keeps": ("Nhật ký kiểm toán chỉ giữ mã băm của các bản ghi đã xoá và ghi nhận việc xoá này, không giữ nội "
                    "dung, để ai cũng kiểm chứng được rằng dữ liệu không bị sửa lén. Tài khoản VNeID và mẫu khuôn mặt "
                    "đã đăng ký (nếu có) không bị xoá; bạn có thể rút lại sự đồng ý dùng khuôn mặt ở trang xác minh "
                    "danh tính.", "The audit log keeps only the hashes of the erased records and a note of this "
                    "erasure, never their content, so anyone can check that no record was secretly changed. Your "
                    "VNeID account and your enrolled face reference (if any) are not erased; you can withdraw your "
                    "consent to face checks on the identity check page."),
    "erase.lms": ("Kết quả học qua hệ thống học tập (LMS) của một cơ quan thuộc về cơ quan đó: hãy liên hệ cơ quan "
                  "để yêu cầu xoá.", "Results from an organisation's learning system (LMS) belong to that "
                  "organisation: ask it for their erasure."),
    "erase.download_first": ("Bạn nên tải dữ liệu về trước khi xoá.", "You may want to download your records first."),
    "erase.confirm": ("Tôi hiểu rằng dữ liệu học tập của tôi sẽ bị xoá vĩnh viễn.",
                      "I understand that my learning records will be erased for good."),
    "erase.button": ("Xoá dữ liệu học tập", "Erase my learning records"),
    "erase.reauth": ("Để bảo vệ bạn, hãy đăng nhập lại bằng VNeID trước khi xoá: lần đăng nhập phải trong vòng "
                     "15 phút.",
                     "To protect you, sign in again with VNeID before erasing: the sign-in must be less than 15 "
                     "minutes old."),
    "erase.reauth_button": ("Đăng nhập lại bằng VNeID", "Sign in again with VNeID"),
    "nav.back_learning": ("Về trang việc học của tôi", "Back to my learning"),
    "nav.front": ("Về trang chủ", "Go to the home page"),
    "sync.synced": ("Đã đồng bộ: kết quả học tập đã được lưu lên hệ thống.",
                    "Synced: your work is saved on the server."),
    "sync.waiting": ("Đã lưu trên máy {n} mục, đang chờ đồng bộ.",
                     "{n} item(s) saved on this device, waiting to sync."),
    "sync.offline": ("Mất kết nối: sẽ tự gửi khi có mạng.", "Offline: they will be sent when the network is back."),
    "sync.refused": ("{n} mục không được hệ thống nhận.", "{n} item(s) were not accepted by the server."),
    "sync.signin": ("Hãy mở lại khoá học (hoặc đăng nhập lại) để gửi các mục này.",
                    "Open the course again (or sign in again) to send them."),
    "sync.reason.error.time_up": ("đã hết giờ làm bài", "the time limit had passed"),
    "sync.reason.error.attempt_closed": ("lần làm bài đó đã kết thúc", "that attempt had ended"),
    "sync.reason.other": ("dữ liệu không hợp lệ", "invalid data"),
    "quiz.needs_connection": ("Bài kiểm tra này có xác minh danh tính và tính giờ trên máy chủ nên cần kết nối mạng. "
                              "Nếu mất mạng giữa chừng, bài làm vẫn được giữ khi bạn kết nối lại trước khi hết giờ.",
                              "This quiz checks your identity and is timed by the server, so it needs a network "
                              "connection. If the network drops, your attempt is kept if you reconnect before the "
                              "time is up."),
    "quiz.timed_offline": ("Thời gian làm bài do máy chủ tính: khi mất mạng, câu trả lời chỉ được tính nếu gửi được "
                           "trước khi hết giờ.", "The server keeps the time: answers chosen offline count only if "
                           "they reach it before the time is up."),
    "quiz.offline_hold": ("Đang mất kết nối nên chưa nộp được bài. Các câu đã chọn được lưu trên máy; hãy kết nối lại "
                          "trước khi hết giờ.", "You are offline, so the quiz cannot be submitted yet. Your answers "
                          "are saved on this device; reconnect before the time is up."),
    "quiz.submitted_offline": ("Bài làm đã được lưu trên máy và sẽ tự động nộp khi có mạng.",
                               "Your answers are saved on this device and will be submitted when you are back online."),
    "outline.resume": ("Học tiếp", "Continue"),
    "lesson.video_low": ("Xem video bản nhẹ ({size} KB)", "Watch the light video ({size} KB)"),
    "lesson.video_save": ("Lưu video vào máy để xem khi không có mạng",
                          "Keep the video on this device for offline use"),
    "lesson.video_saved": ("Video đã được lưu trên máy.", "The video is kept on this device."),
    "lesson.video_full": ("Bản đầy đủ (cần mạng tốt)", "Full quality (needs a good connection)"),
    "lang.vi": ("Tiếng Việt", "Vietnamese"),
    "lang.en": ("Tiếng Anh", "English"),
    "offline.title": ("Không có kết nối mạng", "You are offline"),
    "offline.text": ("Trang này chưa được lưu trên máy. Các bài bạn đã mở vẫn học được khi không có mạng; kết quả sẽ "
                     "tự gửi khi có mạng trở lại.", "This page was not kept on this device. The lessons you opened "
                     "still work offline; your results are sent when the network is back."),
}
