"""Realistic statements for benchmarks: VNeID-style account actors with Vietnamese names,
national digital-skills courses → modules → lessons/quizzes, registrations, scores, durations."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

HO = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
DEM = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Đức", "Thu", "Quang", "Hải"]
TEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phúc", "Quân", "Thảo",
       "Trang", "Tuấn", "Việt", "Yến"]
COURSES = {
    "ky-nang-so-co-ban": ("Kỹ năng số cơ bản", "Basic digital skills"),
    "an-toan-mang": ("An toàn trên không gian mạng", "Staying safe online"),
    "tro-ly-ai": ("Dùng trợ lý AI trong công việc hành chính", "AI assistants for administrative work"),
}
VERBS = {
    "http://adlnet.gov/expapi/verbs/launched": ("đã khởi chạy", "launched"),
    "http://adlnet.gov/expapi/verbs/initialized": ("đã bắt đầu", "initialized"),
    "http://adlnet.gov/expapi/verbs/progressed": ("đã tiến triển", "progressed"),
    "http://adlnet.gov/expapi/verbs/completed": ("đã hoàn thành", "completed"),
    "http://adlnet.gov/expapi/verbs/answered": ("đã trả lời", "answered"),
    "http://adlnet.gov/expapi/verbs/passed": ("đã đạt", "passed"),
    "http://adlnet.gov/expapi/verbs/failed": ("chưa đạt", "failed"),
    "http://adlnet.gov/expapi/verbs/terminated": ("đã kết thúc", "terminated"),
}
BASE = "https://hocvu.vn/courses"


class Generator:
    def __init__(self, seed: int = 7, learners: int = 20000) -> None:
        self.rng = random.Random(seed)
        self.learners = [
            (f"{self.rng.choice(HO)} {self.rng.choice(DEM)} {self.rng.choice(TEN)}",
             uuid.UUID(int=self.rng.getrandbits(128)))
            for _ in range(learners)
        ]
        self.registrations: dict[tuple[int, str], str] = {}
        self.start = datetime(2026, 9, 1, tzinfo=UTC)

    def actor(self, i: int) -> dict[str, Any]:
        name, sub = self.learners[i]
        # VNeID subjects are pseudonymous account names, never citizen ID numbers.
        return {"objectType": "Agent", "name": name, "account": {"homePage": "https://vneid.gov.vn", "name": str(sub)}}

    def statement(self) -> dict[str, Any]:
        rng = self.rng
        learner = rng.randrange(len(self.learners))
        course = rng.choice(list(COURSES))
        module, lesson = rng.randint(1, 4), rng.randint(1, 5)
        quiz = rng.random() < 0.3
        verb = rng.choice(list(VERBS))
        vi, en = VERBS[verb]
        reg = self.registrations.setdefault((learner, course), str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        obj_id = f"{BASE}/{course}/module-{module}/{'quiz' if quiz else 'lesson-' + str(lesson)}"
        kind = "http://adlnet.gov/expapi/activities/assessment" if quiz else "http://adlnet.gov/expapi/activities/lesson"
        cvi, cen = COURSES[course]
        st: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "actor": self.actor(learner),
            "verb": {"id": verb, "display": {"vi-VN": vi, "en-US": en}},
            "object": {"objectType": "Activity", "id": obj_id, "definition": {
                "type": kind,
                "name": {"vi-VN": f"{cvi} — Chương {module}, {'Bài kiểm tra' if quiz else f'Bài {lesson}'}",
                         "en-US": f"{cen} — Module {module}, {'Quiz' if quiz else f'Lesson {lesson}'}"}}},
            "context": {"registration": reg, "language": "vi-VN", "platform": "hocvu",
                        "contextActivities": {"parent": [{"id": f"{BASE}/{course}/module-{module}"}],
                                              "grouping": [{"id": f"{BASE}/{course}"}]}},
            "timestamp": (self.start + timedelta(seconds=rng.randrange(90 * 86400))).isoformat(),
        }
        if verb in ("http://adlnet.gov/expapi/verbs/passed", "http://adlnet.gov/expapi/verbs/failed",
                    "http://adlnet.gov/expapi/verbs/completed"):
            raw = rng.randint(0, 10)
            st["result"] = {"score": {"raw": raw, "min": 0, "max": 10, "scaled": raw / 10},
                            "success": verb.endswith("passed"), "completion": True,
                            "duration": f"PT{rng.randint(1, 59)}M{rng.randint(0, 59)}S"}
        return st
