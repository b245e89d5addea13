"""The credential pages' words: Vietnamese first, English on request (``?lang=en``). Plain language:
an employer reads them on a phone, in seconds."""

from __future__ import annotations

from typing import Any, Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "verify.title": {"vi": "Kiểm tra chứng chỉ số", "en": "Check a digital credential"},
    "verify.intro": {"vi": "Dán nội dung chứng chỉ (tệp .json) hoặc tải tệp lên. Quét mã QR trên bản in sẽ mở "
                           "thẳng trang kết quả.",
                     "en": "Paste the credential (its .json file) or upload the file. Scanning the QR code on a "
                           "printed credential opens the result directly."},
    "verify.paste": {"vi": "Dán chứng chỉ (JSON)", "en": "Paste the credential (JSON)"},
    "verify.upload": {"vi": "hoặc chọn tệp", "en": "or choose a file"},
    "verify.submit": {"vi": "Kiểm tra", "en": "Check"},
    "verify.again": {"vi": "Kiểm tra chứng chỉ khác", "en": "Check another credential"},
    "outcome.valid": {"vi": "Chứng chỉ hợp lệ", "en": "Valid credential"},
    "outcome.valid.text": {"vi": "Chữ ký số đúng, do {issuer} cấp, chưa bị thu hồi.",
                           "en": "The digital signature is correct; issued by {issuer}; not revoked."},
    "outcome.revoked": {"vi": "Chứng chỉ đã bị thu hồi", "en": "This credential has been revoked"},
    "outcome.revoked.text": {"vi": "Đơn vị cấp đã thu hồi chứng chỉ này. Không nên công nhận.",
                             "en": "The issuer has revoked it. Do not accept it."},
    "outcome.expired": {"vi": "Chứng chỉ đã hết hạn", "en": "This credential has expired"},
    "outcome.expired.text": {"vi": "Thời hạn hiệu lực đã qua.", "en": "Its validity period is over."},
    "outcome.not_yet_valid": {"vi": "Chứng chỉ chưa có hiệu lực", "en": "This credential is not yet valid"},
    "outcome.not_yet_valid.text": {"vi": "Ngày bắt đầu hiệu lực chưa tới.", "en": "Its start date has not come."},
    "outcome.invalid": {"vi": "Chứng chỉ KHÔNG hợp lệ", "en": "This credential is NOT valid"},
    "outcome.invalid.text": {"vi": "Chữ ký số không khớp: chứng chỉ đã bị sửa, hoặc không phải do hệ thống cấp.",
                             "en": "The digital signature does not match: it was altered, or not issued by the hub."},
    "outcome.unknown_issuer": {"vi": "Không phải chứng chỉ của hệ thống", "en": "Not a credential of this hub"},
    "outcome.unknown_issuer.text": {"vi": "Trang này chỉ kiểm tra chứng chỉ do Bình dân học vụ số cấp.",
                                    "en": "This page checks credentials issued by this hub only."},
    "outcome.malformed": {"vi": "Không đọc được chứng chỉ", "en": "This is not a readable credential"},
    "outcome.malformed.text": {"vi": "Nội dung không phải chứng chỉ số Open Badges 3.0 của hệ thống.",
                               "en": "The content is not one of the hub's Open Badges 3.0 credentials."},
    "field.course": {"vi": "Khoá học đã hoàn thành", "en": "Course completed"},
    "field.holder": {"vi": "Người học", "en": "Learner"},
    "field.holder.none": {"vi": "(người học không hiển thị tên)", "en": "(the learner chose not to show a name)"},
    "field.issuer": {"vi": "Đơn vị cấp", "en": "Issued by"},
    "field.on_behalf": {"vi": "thay mặt", "en": "on behalf of"},
    "field.issued": {"vi": "Ngày cấp", "en": "Issued on"},
    "field.completed": {"vi": "Hoàn thành bài kiểm tra cuối", "en": "Last assessment passed on"},
    "field.valid_until": {"vi": "Hiệu lực đến", "en": "Valid until"},
    "field.criteria": {"vi": "Tiêu chí", "en": "Criteria"},
    "field.identity": {"vi": "Xác minh danh tính khi làm bài", "en": "Identity checked during the assessments"},
    "identity.verified": {"vi": "Có — đăng nhập VNeID mức {level} và kiểm tra khuôn mặt đạt",
                          "en": "Yes — VNeID level {level} sign-in and a matching face check"},
    "identity.not_required": {"vi": "Khoá học không yêu cầu", "en": "Not required by this course"},
    "field.competences": {"vi": "Năng lực số (DigComp 2.2)", "en": "Digital competences (DigComp 2.2)"},
    "field.evidence": {"vi": "Bằng chứng", "en": "Evidence"},
    "field.evidence.count": {"vi": "{n} bài kiểm tra đạt, ghi trong hệ thống học tập (xAPI)",
                             "en": "{n} assessment(s) passed, recorded in the learning record store (xAPI)"},
    "field.checks": {"vi": "Các bước kiểm tra", "en": "Checks made"},
    "check.shape": {"vi": "Đúng định dạng Open Badges 3.0", "en": "Open Badges 3.0 format"},
    "check.issuer": {"vi": "Đơn vị cấp thuộc hệ thống", "en": "Issuer belongs to the hub"},
    "check.proof": {"vi": "Chữ ký số (Ed25519) và khoá của đơn vị cấp", "en": "Digital signature and issuer key"},
    "check.validity": {"vi": "Thời hạn hiệu lực", "en": "Validity period"},
    "check.status": {"vi": "Chưa bị thu hồi", "en": "Not revoked"},
    "lang.other": {"vi": "English", "en": "Tiếng Việt"},
    "print.title": {"vi": "Chứng nhận hoàn thành khoá học", "en": "Certificate of course completion"},
    "print.scan": {"vi": "Quét mã để kiểm tra chứng chỉ", "en": "Scan to check this credential"},
    "print.button": {"vi": "In", "en": "Print"},
    "print.download": {"vi": "Tải tệp chứng chỉ (.json)", "en": "Download the credential (.json)"},
    "print.verify": {"vi": "Mở trang kiểm tra", "en": "Open the check page"},
    "error.title": {"vi": "Không thực hiện được", "en": "Could not do that"},
}


def t(key: str, locale: str, **params: Any) -> str:
    entry = TEXTS.get(key)
    text = (entry.get(locale) or entry["vi"]) if entry else key
    return text.format(**params) if params else text
