"""The identity gate's interface text, Vietnamese (the default) and English: its pages, the panel it
shows on a consumer's page, and its errors' messages."""

from __future__ import annotations

from typing import Any

from identity.web import normalise

TEXT: dict[str, tuple[str, str]] = {  # key: (vi, en)
    "app.name": ("Bình dân học vụ số", "Bình dân học vụ số"),  # the movement's name, in both
    "lang.switch": ("English", "Tiếng Việt"),
    "lang.switch_label": ("Chuyển sang tiếng Anh", "Switch to Vietnamese"),
    "identity.title": ("Xác thực danh tính", "Identity verification"),
    "identity.required": ("Bài kiểm tra này yêu cầu xác thực danh tính: đăng nhập VNeID (mức {level} trở lên) và kiểm "
                          "tra khuôn mặt trước khi làm bài.",
                          "This quiz requires identity verification: sign in with VNeID (level {level} or above) and "
                          "pass a face check before you start."),
    "identity.rechecks": ("Trong khi làm bài, hệ thống sẽ yêu cầu kiểm tra lại khuôn mặt vào những thời điểm ngẫu "
                          "nhiên.", "While you take the quiz, you will be asked for another face check at random "
                          "moments."),
    "identity.verify": ("Xác thực danh tính", "Verify my identity"),
    "identity.passed": ("Đã xác thực danh tính. Hãy bắt đầu làm bài trong vòng {minutes} phút.",
                        "Identity verified. Start the quiz within {minutes} minutes."),
    "identity.step.sign_in": ("Đăng nhập VNeID", "Sign in with VNeID"),
    "identity.step.bind": ("Liên kết tài khoản", "Link your accounts"),
    "identity.step.enrol": ("Đăng ký khuôn mặt", "Enrol your face"),
    "identity.step.check": ("Kiểm tra khuôn mặt", "Face check"),
    "identity.sign_in_text": ("Đăng nhập bằng tài khoản định danh điện tử VNeID của bạn. Khi trang học nằm trong hệ "
                              "thống học tập (LMS), việc đăng nhập mở trong cửa sổ mới; trang này tự cập nhật khi bạn "
                              "đăng nhập xong.",
                              "Sign in with your VNeID electronic identity account. When the course is shown inside "
                              "your learning system (LMS), sign-in opens in a new window; this page updates itself "
                              "once you have signed in."),
    "identity.sign_in_again": ("Để liên kết tài khoản hoặc đăng ký khuôn mặt, bạn cần đăng nhập VNeID lại (lần đăng "
                               "nhập trước đã quá 15 phút).",
                               "To link your accounts or enrol your face, please sign in with VNeID again (your "
                               "last sign-in was more than 15 minutes ago)."),
    "identity.sign_in": ("Đăng nhập bằng VNeID", "Sign in with VNeID"),
    "identity.waiting": ("Đang chờ bạn đăng nhập trong cửa sổ VNeID…", "Waiting for you to sign in in the VNeID "
                         "window…"),
    "identity.signed_in_as": ("Đã đăng nhập VNeID: {name} (mức định danh {level})",
                              "Signed in with VNeID: {name} (identification level {level})"),
    "identity.level_text": ("Bài kiểm tra này cần tài khoản định danh điện tử mức {level}. Hãy kích hoạt tài khoản "
                            "mức {level} (tại cơ quan công an nơi cư trú), rồi đăng nhập lại.",
                            "This quiz needs a level {level} electronic identity account. Activate level {level} "
                            "(at your local police office), then sign in again."),
    "identity.sign_out": ("Đăng xuất VNeID", "Sign out of VNeID"),
    "identity.bind_text": ("Liên kết tài khoản học tập của bạn trên hệ thống học tập (LMS) với tài khoản VNeID này. "
                           "Việc liên kết chỉ làm một lần và không đổi sang tài khoản khác được. Nếu đây không phải "
                           "tài khoản VNeID của bạn, hãy đăng xuất.",
                           "Link your learner account in the learning system (LMS) to this VNeID account. This is "
                           "done once and cannot be moved to another account. If this is not your VNeID account, "
                           "sign out."),
    "identity.bind": ("Đây là tôi — liên kết tài khoản", "This is me — link the accounts"),
    "identity.consent_title": ("Đồng ý lưu dữ liệu khuôn mặt", "Consent to keep face data"),
    # Consent (Decree 13/2023/NĐ-CP Art. 11, 13; Personal Data Protection Law 2025, 91/2025/QH15): who
    # controls the data, why, what is kept and for how long, how to withdraw, and the way without it.
    "identity.consent_text": ("Để kiểm tra khuôn mặt khi làm bài, hệ thống cần một mẫu khuôn mặt của bạn. Trước khi "
                              "đồng ý, xin đọc:",
                              "To check your face during quizzes, the system needs a reference of your face. Before "
                              "you agree, please read:"),
    "identity.consent.controller": ("Bên kiểm soát dữ liệu: {controller}.", "Data controller: {controller}."),
    "identity.consent.controller_default": ("đơn vị vận hành hệ thống hocvu tại {host}",
                                            "the operator of the hocvu hub at {host}"),
    "identity.consent.contact": (" Liên hệ: {contact}.", " Contact: {contact}."),
    "identity.consent.purpose": ("Mục đích: chỉ để xác thực rằng chính bạn làm các bài kiểm tra có yêu cầu xác thực "
                                 "danh tính, và để người kiểm tra (kiểm toán viên) phát hiện gian lận. Không dùng cho "
                                 "việc gì khác.",
                                 "Purpose: only to verify that it is you who takes the quizzes that require identity "
                                 "verification, and to let auditors detect cheating. Nothing else."),
    "identity.consent.data": ("Dữ liệu được lưu: từ vài giây camera ghi khi bạn làm theo các động tác, chỉ một dãy số "
                              "đặc trưng khuôn mặt (embedding) đã được mã hoá — đây là dữ liệu sinh trắc học, dữ liệu "
                              "cá nhân nhạy cảm; không lưu ảnh hay đoạn ghi nào. Khi một lần kiểm tra không khớp, "
                              "khuôn mặt trong đoạn ghi được so (trong bộ nhớ, không lưu) với mẫu của những người học "
                              "khác trong cùng đơn vị để phát hiện làm bài hộ.",
                              "What is kept: from the few seconds the camera records while you make the moves asked, "
                              "only an encrypted list of numbers describing your face (an embedding) — biometric data, "
                              "sensitive personal data. No photo or recording is kept. When a check does not match, "
                              "the face in it is compared (in memory, not kept) with the references of other learners "
                              "of the same organisation, to detect someone sitting the quiz for another."),
    "identity.consent.retention": ("Thời hạn lưu: {days} ngày kể từ khi bạn đồng ý; sau đó mẫu tự động bị xoá và bạn "
                                   "đăng ký lại nếu cần.",
                                   "Kept for: {days} days from your consent; then the reference is deleted "
                                   "automatically and you enrol again if needed."),
    "identity.consent.withdraw": ("Rút lại đồng ý: bất cứ lúc nào, bằng nút «Rút lại đồng ý và xoá dữ liệu khuôn mặt» "
                                  "trên trang này; mẫu bị xoá ngay.{contact}",
                                  "Withdrawing: at any time, with the button \u201cWithdraw consent and delete my face "
                                  "data\u201d on this page; the reference is deleted at once.{contact}"),
    "identity.consent.refuse": ("Nếu bạn không đồng ý: bạn không phải đăng ký khuôn mặt. Hãy đề nghị cơ sở đào tạo cho "
                                "kiểm tra danh tính trực tiếp có giám sát — giảng viên hoặc quản trị viên đối chiếu "
                                "giấy tờ tùy thân của bạn và ghi nhận; lượt làm bài khi đó được ghi là «có giám sát», "
                                "ở mức bảo đảm thấp hơn, không phải «đã xác thực» bằng khuôn mặt.",
                                "If you do not agree: you do not have to enrol your face. Ask your training "
                                "organisation for a supervised in-person check — an instructor or administrator "
                                "checks your identity document and records it; the attempt is then recorded as "
                                "\u201csupervised\u201d, at a lower assurance level, not \u201cverified\u201d by "
                                "face."),
    "identity.consent.law": ("Căn cứ: Nghị định 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân; Luật Bảo vệ dữ liệu cá nhân "
                             "2025 (số 91/2025/QH15).",
                             "Under: Decree 13/2023/NĐ-CP on personal data protection; the Personal Data Protection "
                             "Law 2025 (No. 91/2025/QH15)."),
    # What a "verified" attempt proves, said to the learner before the check (issue 12, item 3).
    "identity.proves_title": ("«Đã xác thực» nghĩa là gì?", "What does \u201cverified\u201d mean?"),
    "identity.proves": ("Khi bạn qua kiểm tra, lượt làm bài được hệ thống ký và ghi là «đã xác thực». Mỗi lần kiểm "
                        "tra, bạn làm theo vài động tác ngẫu nhiên trước camera (quay đầu, ngước lên, chớp mắt) theo "
                        "đúng thứ tự và thời gian hệ thống yêu cầu. Điều đó chứng minh: người đã đăng nhập VNeID của "
                        "bạn có mặt trước camera, là người thật cử động theo yêu cầu (một ảnh, một ảnh in hay ảnh trên "
                        "màn hình không qua được), và khuôn mặt khớp với mẫu bạn đã đăng ký, vào đúng những thời điểm "
                        "kiểm tra. Nó không chứng minh rằng bạn làm bài một mình: hệ thống không thấy ai ngồi cạnh "
                        "bạn hay điều gì xảy ra giữa các lần kiểm tra, và không chặn được một video giả mạo tinh vi. "
                        "Khi đơn vị cho phép gửi ảnh thay camera (vì lý do tiếp cận), lượt làm bài chỉ được ghi "
                        "«chỉ bằng ảnh», ở mức bảo đảm thấp hơn, không phải «đã xác thực». Mỗi lần kiểm tra (cả lần "
                        "không đạt) đều được ghi lại cho kiểm toán viên.",
                        "When you pass, the attempt is signed by the system and recorded as \u201cverified\u201d. At "
                        "each check you make a few random moves in front of the camera (turn your head, look up, "
                        "blink) in the order and at the times the system asks. That proves: whoever signed in with "
                        "your VNeID was in front of the camera, a live person moving as asked (a photo, a print or a "
                        "picture on a screen does not pass), and the face matches the reference you enrolled, at the "
                        "moments of the checks. It does not prove that you worked alone: the system does not see who "
                        "sits beside you or what happens between checks, and it cannot stop an elaborate fake video. "
                        "Where your organisation allows a photo instead of the camera (for accessibility), the attempt "
                        "is recorded as \u201cphoto only\u201d, at a lower assurance level, not \u201cverified\u201d. "
                        "Every check (failed ones too) is recorded for auditors."),
    "identity.consent_agree": ("Tôi đồng ý cho hệ thống lưu dữ liệu khuôn mặt đã mã hoá của tôi cho mục đích trên.",
                               "I agree that the system keeps my encrypted face data for this purpose."),
    "identity.enrol": ("Đăng ký khuôn mặt", "Enrol my face"),
    "identity.check_text": ("Nhìn thẳng vào camera, đủ ánh sáng, chỉ một mình bạn trong khung hình.",
                            "Look straight at the camera, in good light, alone in the picture."),
    "identity.check": ("Kiểm tra khuôn mặt", "Check my face"),
    "identity.camera_start": ("Bật camera", "Turn on the camera"),
    "identity.camera_capture": ("Chụp ảnh và gửi", "Take the photo and send it"),
    "identity.camera_denied": ("Không dùng được camera. Hãy chọn hoặc chụp ảnh chân dung bằng nút bên dưới.",
                               "The camera cannot be used. Choose or take a portrait photo with the button below."),
    "identity.upload": ("Hoặc chọn / chụp ảnh chân dung", "Or choose / take a portrait photo"),
    "identity.send": ("Gửi ảnh", "Send the photo"),
    "identity.sending": ("Đang kiểm tra…", "Checking…"),
    "identity.withdraw_text": ("Bạn đã đồng ý lưu dữ liệu khuôn mặt đã mã hoá (không lưu ảnh).",
                               "You agreed to keep your encrypted face data (no photo is kept)."),
    "identity.withdraw": ("Rút lại đồng ý và xoá dữ liệu khuôn mặt", "Withdraw consent and delete my face data"),
    "identity.withdrawn": ("Đã xoá dữ liệu khuôn mặt của bạn.", "Your face data has been deleted."),
    "identity.outcome.match": ("Khuôn mặt khớp.", "Your face matches."),
    "identity.outcome.no_match": ("Khuôn mặt không khớp với mẫu đã đăng ký.",
                                  "The face does not match the enrolled reference."),
    "identity.outcome.no_face": ("Không thấy khuôn mặt nào trong ảnh. Hãy nhìn thẳng vào camera, đủ ánh sáng.",
                                 "No face was found in the picture. Look straight at the camera, in good light."),
    "identity.outcome.several_faces": ("Ảnh có nhiều hơn một khuôn mặt. Chỉ một mình bạn trong khung hình.",
                                       "There is more than one face in the picture. Be alone in the picture."),
    "identity.outcome.unreadable": ("Không đọc được ảnh (chỉ nhận JPEG hoặc PNG, tối đa 10 MB).",
                                    "The picture cannot be read (JPEG or PNG only, up to 10 MB)."),
    "identity.recheck_title": ("Kiểm tra khuôn mặt định kỳ", "Face check"),
    "identity.recheck_due": ("Đã đến lúc kiểm tra lại khuôn mặt. Hãy chụp ảnh để tiếp tục làm bài.",
                             "It is time for another face check. Take a photo to go on with the quiz."),
    "identity.unverified": ("Một lần kiểm tra khuôn mặt không đạt: phần còn lại của lần làm bài này được ghi là chưa "
                            "xác thực.", "A face check failed: the rest of this attempt is recorded as unverified."),
    "identity.signed_in_done": ("Đã đăng nhập. Bạn có thể đóng cửa sổ này và quay lại bài học.",
                                "Signed in. You can close this window and go back to the course."),
    "identity.back": ("Quay lại", "Back"),
    "identity.manage": ("Dữ liệu khuôn mặt của tôi", "My face data"),
    "identity.error.bad_request": ("Yêu cầu không hợp lệ.", "The request is not valid."),
    "identity.error.not_opened": ("Chưa có bài học hay bài thi nào được mở trong trình duyệt này. Hãy mở lại từ "
                                  "nơi bạn bắt đầu (hệ thống học tập của bạn).",
                                  "Nothing was opened in this browser for this check. Open it again from where you "
                                  "started (your learning platform)."),
    "identity.error_title": ("Cần xác thực danh tính", "Identity verification needed"),
    "identity.error.sign_in_required": ("Bài kiểm tra này yêu cầu đăng nhập VNeID trước khi làm bài.",
                                        "This quiz requires you to sign in with VNeID first."),
    "identity.error.level_too_low": ("Tài khoản VNeID của bạn chưa đạt mức định danh mà bài kiểm tra này yêu cầu.",
                                     "Your VNeID account is below the identification level this quiz requires."),
    "identity.error.bind_required": ("Hãy xác nhận liên kết tài khoản học tập với tài khoản VNeID trước.",
                                     "Please confirm the link between your learner account and VNeID first."),
    "identity.error.enrolment_required": ("Hãy đăng ký khuôn mặt (có sự đồng ý của bạn) trước khi làm bài.",
                                          "Please enrol your face (with your consent) before the quiz."),
    "identity.error.check_required": ("Hãy kiểm tra khuôn mặt ngay trước khi làm bài.",
                                      "Please pass a face check just before the quiz."),
    "identity.error.recheck_overdue": ("Đã quá hạn kiểm tra lại khuôn mặt. Hãy kiểm tra khuôn mặt để tiếp tục.",
                                       "A face check is overdue. Take it to go on with the quiz."),
    "identity.error.account_mismatch": ("Tài khoản học tập của bạn đã được liên kết với một tài khoản VNeID khác. Hãy "
                                        "đăng xuất và đăng nhập bằng tài khoản đó.",
                                        "Your learner account is linked to another VNeID account. Sign out and sign "
                                        "in with that one."),
    "identity.error.unavailable": ("Hệ thống chưa được cấu hình đăng nhập VNeID, nên chưa mở được bài kiểm tra này.",
                                   "VNeID sign-in is not configured on this system, so this quiz cannot be opened."),
    "identity.error.face_unavailable": ("Chức năng kiểm tra khuôn mặt chưa sẵn sàng trên hệ thống (thiếu mô hình "
                                        "nhận diện). Hãy báo quản trị viên; không có bài nào được mở khi thiếu nó.",
                                        "The face check is not available on this system (the face model is "
                                        "missing). Please tell the administrator; no quiz opens without it."),
    "identity.error.unusable_photo": ("Không dùng được ảnh này để đăng ký: cần một ảnh rõ, có đúng một khuôn mặt.",
                                      "This photo cannot be used for enrolment: it needs exactly one clear face."),
    "identity.error.consent_required": ("Hãy đánh dấu ô đồng ý trước khi đăng ký khuôn mặt.",
                                        "Please tick the consent box before enrolling your face."),
    "identity.error.photo_missing": ("Chưa có ảnh nào được gửi.", "No photo was sent."),
    # The liveness challenge (issue 12): the prompts shown one after another while the camera records.
    "identity.action.turn_left": ("Quay đầu sang TRÁI của bạn", "Turn your head to YOUR LEFT"),
    "identity.action.turn_right": ("Quay đầu sang PHẢI của bạn", "Turn your head to YOUR RIGHT"),
    "identity.action.look_up": ("Ngước mặt LÊN", "Look UP"),
    "identity.action.blink": ("CHỚP MẮT một lần", "BLINK once"),
    "identity.challenge_text": ("Khi bấm nút, camera ghi vài giây. Nhìn thẳng vào camera, rồi làm theo từng yêu cầu "
                                "hiện trên màn hình (và được đọc cho trình đọc màn hình), sau mỗi động tác nhìn thẳng "
                                "lại. Chỉ một mình bạn trong khung hình, đủ ánh sáng.",
                                "When you press the button, the camera records for a few seconds. Look straight at "
                                "the camera, then do each move shown on the screen (and read out to screen readers), "
                                "looking straight again after each. Be alone in the picture, in good light."),
    "identity.challenge_start": ("Bắt đầu (bật camera)", "Start (turn on the camera)"),
    "identity.challenge_look": ("Nhìn thẳng vào camera", "Look straight at the camera"),
    "identity.challenge_done": ("Xong. Đang gửi để kiểm tra…", "Done. Sending for the check…"),
    "identity.challenge_step": ("Bước {n}/{total}: {prompt}", "Step {n} of {total}: {prompt}"),
    "identity.camera_needed": ("Cần camera và JavaScript để kiểm tra khuôn mặt (hệ thống không nhận ảnh tải lên cho "
                               "bài kiểm tra). Nếu bạn không dùng được camera, hãy đề nghị kiểm tra trực tiếp có "
                               "giám sát.",
                               "The face check needs a camera and JavaScript (no uploaded photo is accepted for a "
                               "quiz). If you cannot use a camera, ask for a supervised in-person check."),
    "identity.fallback_title": ("Không dùng được camera? Gửi ảnh chân dung (mức bảo đảm thấp hơn)",
                                "Cannot use the camera? Send a portrait photo (lower assurance)"),
    "identity.fallback_text": ("Đơn vị của bạn cho phép gửi ảnh thay cho camera vì lý do tiếp cận. Ảnh không chứng "
                               "minh bạn có mặt trực tiếp: lượt làm bài sẽ được ghi «chỉ bằng ảnh», không phải «đã "
                               "xác thực».",
                               "Your organisation allows a photo instead of the camera, for accessibility. A photo "
                               "does not show that you are there in person: the attempt is recorded as \u201cphoto "
                               "only\u201d, not \u201cverified\u201d."),
    "identity.outcome.retry": ("Chưa đủ chắc chắn để quyết định. Hãy thử lại, nhìn thẳng, đủ ánh sáng.",
                               "Not sure enough to decide. Please try again, looking straight, in good light."),
    "identity.outcome.not_live": ("Không xác nhận được người thật làm đúng các động tác yêu cầu (đúng thứ tự, đúng "
                                  "lúc). Hãy thử lại và làm theo từng yêu cầu trên màn hình.",
                                  "The moves asked for were not seen from a live person (in order, on time). Please "
                                  "try again and follow each prompt on the screen."),
    "identity.error.challenge_invalid": ("Yêu cầu kiểm tra này đã được dùng, đã hết hạn hoặc không phải của bạn. "
                                         "Hãy bắt đầu lại.",
                                         "This check request was already used, has expired or is not yours. Please "
                                         "start again."),
    "identity.error.burst_refused": ("Không đăng ký được: hệ thống không xác nhận được một người thật, một mình, làm "
                                     "đúng các động tác yêu cầu. Hãy thử lại.",
                                     "Enrolment failed: the system could not confirm one live person doing the moves "
                                     "asked for. Please try again."),
    "identity.error.burst_missing": ("Chưa nhận được đoạn ghi từ camera.", "No camera recording was received."),
    "identity.error.photo_not_allowed": ("Không nhận ảnh tải lên: hãy dùng camera và làm theo các yêu cầu.",
                                         "Uploaded photos are not accepted: please use the camera and follow the "
                                         "prompts."),
    "identity.error.enrolment_unreadable": ("Không đọc được mẫu khuôn mặt đã đăng ký. Hãy xoá và đăng ký lại.",
                                            "The enrolled face reference cannot be read. Delete it and enrol "
                                            "again."),
}


def t(key: str, locale: str, **params: Any) -> str:
    vi, en = TEXT[key]
    text = en if normalise(locale) == "en" else vi
    return text.format(**params) if params else text
