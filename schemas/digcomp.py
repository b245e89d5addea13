"""DigComp 2.2, the European Digital Competence Framework for Citizens (Vuorikari, Kluzer and Punie,
JRC, 2022, JRC128415): its 5 areas and 21 competences, by code, with their names in English (the
framework's own) and Vietnamese (ours). Course files name the competences a course builds
(``schemas.course.CompetenceSchema``); credentials align their achievement to them (Open Badges 3.0
``Alignment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FRAMEWORK_ID: Final = "digcomp-2.2"
FRAMEWORK_NAME: Final = "DigComp 2.2"
# The framework's publication: the one stable public address of DigComp 2.2.
FRAMEWORK_URL: Final = "https://publications.jrc.ec.europa.eu/repository/handle/JRC128415"


@dataclass(frozen=True)
class Competence:
    code: str
    en: str
    vi: str

    @property
    def area(self) -> str:
        return self.code.split(".")[0]


AREAS: Final = {
    "1": ("Information and data literacy", "Kỹ năng thông tin và dữ liệu"),
    "2": ("Communication and collaboration", "Giao tiếp và hợp tác"),
    "3": ("Digital content creation", "Sáng tạo nội dung số"),
    "4": ("Safety", "An toàn"),
    "5": ("Problem solving", "Giải quyết vấn đề"),
}

COMPETENCES: Final = {c.code: c for c in (
    Competence("1.1", "Browsing, searching and filtering data, information and digital content",
               "Duyệt, tìm kiếm và lọc dữ liệu, thông tin và nội dung số"),
    Competence("1.2", "Evaluating data, information and digital content",
               "Đánh giá dữ liệu, thông tin và nội dung số"),
    Competence("1.3", "Managing data, information and digital content", "Quản lý dữ liệu, thông tin và nội dung số"),
    Competence("2.1", "Interacting through digital technologies", "Tương tác qua công nghệ số"),
    Competence("2.2", "Sharing through digital technologies", "Chia sẻ qua công nghệ số"),
    Competence("2.3", "Engaging citizenship through digital technologies",
               "Tham gia hoạt động công dân qua công nghệ số"),
    Competence("2.4", "Collaborating through digital technologies", "Hợp tác qua công nghệ số"),
    Competence("2.5", "Netiquette", "Quy tắc ứng xử trên mạng"),
    Competence("2.6", "Managing digital identity", "Quản lý danh tính số"),
    Competence("3.1", "Developing digital content", "Phát triển nội dung số"),
    Competence("3.2", "Integrating and re-elaborating digital content", "Tích hợp và biên tập lại nội dung số"),
    Competence("3.3", "Copyright and licences", "Bản quyền và giấy phép"),
    Competence("3.4", "Programming", "Lập trình"),
    Competence("4.1", "Protecting devices", "Bảo vệ thiết bị"),
    Competence("4.2", "Protecting personal data and privacy", "Bảo vệ dữ liệu cá nhân và quyền riêng tư"),
    Competence("4.3", "Protecting health and well-being", "Bảo vệ sức khoẻ và an sinh"),
    Competence("4.4", "Protecting the environment", "Bảo vệ môi trường"),
    Competence("5.1", "Solving technical problems", "Giải quyết các vấn đề kỹ thuật"),
    Competence("5.2", "Identifying needs and technological responses", "Xác định nhu cầu và giải pháp công nghệ"),
    Competence("5.3", "Creatively using digital technologies", "Sử dụng sáng tạo công nghệ số"),
    Competence("5.4", "Identifying digital competence gaps", "Xác định những thiếu hụt về năng lực số"),
)}
