"""Import rate of the four importers (hocvu import ...), in lines per second, on generated files.

    .venv/bin/python -m bench.imports                       # 2,000 lines each, SQLite and PostgreSQL
    BENCH_IMPORT_LINES=100000 BENCH_BACKENDS=postgresql .venv/bin/python -m bench.imports

Each importer runs twice on the same file: the first run stores everything, the second finds it
all already present (the idempotent path a re-run or an overlapping export takes). Files are
generated like real exports (Vietnamese names, course/quiz activities, a few interactions per
SCORM session) with about 2% malformed lines, which are rejected and reported as usual. Runs
in-process through the same code as the CLI (connectors.importers.*.import_file).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.data import DEM, HO, TEN
from bench.databases import scratch_databases
from connectors.importers import Report, caliper, moodle_log, roster, scorm
from hocvu import db as dbops
from lrs import credentials
from lrs.storage import Database

LINES = int(os.environ.get("BENCH_IMPORT_LINES", "2000"))
BATCH = int(os.environ.get("BENCH_IMPORT_BATCH", "500"))
LMS = "https://lms.example.gov.vn"
CALIPER = "https://hoc.example.edu.vn"
START = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)


def _bad(rng: random.Random) -> bool:
    return rng.random() < 0.02


def caliper_file(path: Path, rng: random.Random) -> None:
    kinds = [("NavigationEvent", "NavigatedTo", "WebPage"), ("ViewEvent", "Viewed", "Document"),
             ("AssessmentItemEvent", "Completed", "AssessmentItem"), ("AssessmentEvent", "Submitted", "Assessment")]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(LINES):
            kind, action, entity = rng.choice(kinds)
            when = START + timedelta(seconds=i * 7)
            event: dict[str, Any] = {
                "id": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}", "type": kind, "action": action,
                "actor": {"id": f"{CALIPER}/users/{rng.randrange(5000)}", "type": "Person"},
                "object": {"id": f"{CALIPER}/courses/ky-nang-so/module-{rng.randint(1, 4)}/muc-{rng.randint(1, 9)}",
                           "type": entity, "name": f"Mục {rng.randint(1, 9)}"},
                "eventTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "group": {"id": f"{CALIPER}/courses/ky-nang-so/sections/{rng.choice(['hn', 'hp', 'dn'])}-2026",
                          "type": "CourseSection"},
                "edApp": {"id": f"{CALIPER}/", "type": "SoftwareApplication"}}
            if kind == "AssessmentItemEvent":
                event["generated"] = {"id": f"{event['id']}/response", "type": "MultipleChoiceResponse",
                                      "value": rng.choice("abcd")}
            if _bad(rng):
                event["eventTime"] = "hôm qua"
            envelope = {"sensor": f"{CALIPER}/sensor", "sendTime": event["eventTime"],
                        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2", "data": [event]}
            fh.write(json.dumps(envelope, ensure_ascii=False) + "\n")


def scorm_file(path: Path, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(LINES):
            start = START + timedelta(minutes=i)
            version = rng.choice(["1.2", "2004"])
            score = rng.randint(30, 100)
            cmi: dict[str, str] = {}
            if version == "1.2":
                cmi.update({"cmi.core.lesson_status": "passed" if score >= 50 else "failed",
                            "cmi.core.score.raw": str(score), "cmi.core.session_time": "0000:21:14.50"})
            else:
                cmi.update({"cmi.completion_status": "completed", "cmi.success_status": "passed" if score >= 50
                            else "failed", "cmi.score.scaled": str(score / 100), "cmi.session_time": "PT21M14.5S"})
            for n in range(rng.randint(2, 4)):
                cmi[f"cmi.interactions.{n}.id"] = f"cau-{n + 1}"
                cmi[f"cmi.interactions.{n}.type"] = "choice"
                cmi[f"cmi.interactions.{n}.{'student' if version == '1.2' else 'learner'}_response"] = rng.choice("abc")
                cmi[f"cmi.interactions.{n}.result"] = rng.choice(["correct", "wrong" if version == "1.2" else
                                                                  "incorrect"])
            if _bad(rng):
                cmi[f"cmi.{'core.' if version == '1.2' else ''}score.raw"] = "150"
            line = {"learner_id": str(rng.randrange(5000)), "course_id": "ky-nang-so-co-ban",
                    "sco_id": f"bai-{rng.randint(1, 8)}", "attempt": 1, "version": version,
                    "started_at": start.isoformat(), "ended_at": (start + timedelta(minutes=21)).isoformat(),
                    "cmi": cmi}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def moodle_file(path: Path, rng: random.Random) -> None:
    rows = [",".join(moodle_log.COLUMNS)]
    for i in range(LINES):
        when = (START + timedelta(minutes=i // 3)).astimezone(ZoneInfo(moodle_log.TIMEZONE))
        user = rng.randrange(5000)
        cmid = rng.randint(400, 480)
        description, event, context = rng.choice([
            (f"The user with id '{user}' viewed the 'page' activity with course module id '{cmid}'.",
             "Course module viewed", f"Page: Bài {cmid - 399}"),
            (f"The user with id '{user}' viewed the course with id '12'.", "Course viewed",
             "Course: Kỹ năng số cơ bản"),
            (f"The user with id '{user}' has submitted the attempt with id '{i}' for the quiz with course module "
             f"id '{cmid}'.", "Quiz attempt submitted", f"Quiz: Kiểm tra {cmid - 399}"),
            (f"The user with id '{user}' has logged in.", "User has logged in", "System")])
        time_text = "hôm qua" if _bad(rng) else when.strftime(moodle_log.TIME_FORMAT)
        name = f"{rng.choice(HO)} {rng.choice(DEM)} {rng.choice(TEN)}"
        rows.append(",".join(f'"{c}"' for c in (time_text, name, "-", context, "System", event, description, "web",
                                                 "113.160.12.45")))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")


def roster_file(path: Path, rng: random.Random) -> None:
    rows = ["Mã học viên,Họ và tên,Email,Tỉnh/Thành phố,Đơn vị,Chức vụ"]
    for i in range(LINES):
        name = f"{rng.choice(HO)} {rng.choice(DEM)} {rng.choice(TEN)}"
        email = "sai-dia-chi" if _bad(rng) else f"hv{i}@example.vn"
        rows.append(f"{i},{name},{email},{rng.choice(['Hà Nội', 'Hải Phòng', 'Đà Nẵng', 'Cần Thơ'])},"
                    f"UBND xã số {rng.randrange(300)},Chuyên viên")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


IMPORTERS: list[tuple[str, Callable[[Path, random.Random], None], Callable[..., Report], dict[str, Any]]] = [
    ("caliper", caliper_file, caliper.import_file, {}),
    ("scorm", scorm_file, scorm.import_file, {"lms_url": LMS}),
    ("moodle-log", moodle_file, moodle_log.import_file, {"lms_url": LMS}),
    ("roster", roster_file, roster.import_file, {"lms_url": LMS}),
]


def run(label: str, url: str, workdir: Path) -> None:
    database = Database(url)
    dbops.upgrade(database)
    with database.session() as session:
        tenant = credentials.create_tenant(session, f"bench-{uuid.uuid4().hex[:8]}", "Benchmark")
        session.commit()
    print(f"\n== {label}: {LINES:,} lines per file, batches of {BATCH}")
    print(f"{'importer':<12}{'first run':>14}{'stored':>10}{'rejected':>10}{'re-run':>14}{'present':>10}")
    for name, generate, importer, options in IMPORTERS:
        path = workdir / f"{name}.txt"
        generate(path, random.Random(7))
        rates = []
        reports = []
        for _ in range(2):
            started = time.perf_counter()
            with database.session() as session:
                reports.append(importer(session, tenant.id, path, progress=False, batch_size=BATCH, **options))
            rates.append(LINES / (time.perf_counter() - started))
        first, second = reports
        print(f"{name:<12}{rates[0]:>9,.0f} l/s{first.stored:>10,}{len(first.rejected):>10,}"
              f"{rates[1]:>9,.0f} l/s{second.already_present:>10,}")
    database.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in scratch_databases("imports"):
            run(name, url, Path(tmp))


if __name__ == "__main__":
    main()
