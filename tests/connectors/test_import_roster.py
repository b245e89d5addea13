"""Roster importer on tests/data/roster.csv (connectors.importers.roster): learner records keyed like
statements' actors, upserts, and citizen IDs (CCCD) never stored in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.importers import SourceError, moodle_log, roster
from lrs.storage import Statement
from tests.connectors.import_support import DATA, LMS, Target, rejections

FILE = DATA / "roster.csv"
CCCD = "hocvu never stores citizen IDs in clear: remove it from the roster"
EXPECTED_REJECTIONS = [
    (6, None, "no learner_id and no email: the row names nobody"),
    (7, None, f"column 'Mã học viên' holds a 12-digit number that looks like a citizen ID (CCCD); {CCCD}"),
    (8, None, "email 'phuc@example' is not an e-mail address"),
    (9, None, "the same learner as line 2"),
    (11, None, f"column 'Ghi chú' holds a 12-digit number that looks like a citizen ID (CCCD); {CCCD}"),
    (12, None, "has 4 columns, the header has 7"),
]


def key(name: str) -> str:
    return f'agent|account:["{LMS}", "{name}"]'


def test_roster_rows_become_learner_records(import_tenant: Target) -> None:
    report = import_tenant.run(roster.import_file, FILE, lms_url=LMS)
    assert (report.read, report.stored, report.already_present) == (11, 5, 0)
    assert rejections(report) == EXPECTED_REJECTIONS
    records = import_tenant.learners()
    assert sorted(records) == sorted([key("27"), key("31"), key("45"), key("53"),
                                      "agent|mbox:mailto:nam.pv@example.vn"])
    lan = records[key("27")]
    assert (lan.agent, lan.display_name, lan.province, lan.unit, lan.attributes) == (
        {"objectType": "Agent", "account": {"homePage": LMS, "name": "27"}, "name": "Nguyễn Thị Lan"},
        "Nguyễn Thị Lan", "Hà Nội", "UBND phường Dịch Vọng",
        {"Email": "lan.nt@hanoi.example.gov.vn", "Chức vụ": "Cán bộ bộ phận một cửa"})
    # No learner id: the e-mail address (lower-cased) is the agent's IFI (xAPI 1.0.3 Part Two §2.4.2.3).
    nam = records["agent|mbox:mailto:nam.pv@example.vn"]
    assert nam.agent == {"objectType": "Agent", "mbox": "mailto:nam.pv@example.vn", "name": "Phạm Văn Nam"}
    assert nam.attributes == {"Chức vụ": "Chuyên viên"}
    # A quoted cell with a comma stays one cell.
    assert records[key("53")].unit == "Sở Giáo dục và Đào tạo, phòng Tổ chức cán bộ"
    everything = repr([(r.agent, r.attributes) for r in records.values()])
    assert "001095012345" not in everything and "036 188 001 234" not in everything


def test_records_join_the_statements_of_the_same_learners(import_tenant: Target) -> None:
    # The roster builds agents as the importers do, so learner_key = the statements' actor key.
    import_tenant.run(moodle_log.import_file, DATA / "moodle_log.csv", lms_url=LMS)
    import_tenant.run(roster.import_file, FILE, lms_url=LMS)
    with import_tenant.session() as session:
        actors = set(session.scalars(select(Statement.actor_key).where(Statement.tenant_id == import_tenant.id)))
    assert actors == {key("27"), key("31")}
    assert actors <= set(import_tenant.learners())


def test_reimport_and_upsert(import_tenant: Target, tmp_path: Path) -> None:
    import_tenant.run(roster.import_file, FILE, lms_url=LMS)
    again = import_tenant.run(roster.import_file, FILE, lms_url=LMS)
    assert (again.stored, again.already_present) == (0, 5)
    before = import_tenant.learners()[key("31")]
    changed = tmp_path / "roster.csv"
    changed.write_text(FILE.read_text(encoding="utf-8-sig").replace("UBND phường Mai Dịch", "UBND quận Cầu Giấy"),
                       encoding="utf-8")
    report = import_tenant.run(roster.import_file, changed, lms_url=LMS)
    assert (report.stored, report.already_present) == (1, 4)
    after = import_tenant.learners()[key("31")]
    assert after.unit == "UBND quận Cầu Giấy" and after.id == before.id
    assert after.created == before.created and after.updated >= before.updated


@pytest.mark.parametrize("header", ["Số CCCD", "CMND/CCCD", "Căn cước công dân", "citizen_id"])
def test_a_citizen_id_column_stops_the_import(import_tenant: Target, tmp_path: Path, header: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(f"Mã học viên,Họ và tên,{header}\n27,Nguyễn Thị Lan,001195001234\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        import_tenant.run(roster.import_file, path, lms_url=LMS)
    assert str(caught.value) == (f"column {header!r} holds citizen ID numbers, which hocvu never stores in clear: "
                                 "remove the column and import again")
    assert import_tenant.learners() == {}


def test_file_level_problems(import_tenant: Target, tmp_path: Path) -> None:
    nobody = tmp_path / "nobody.csv"
    nobody.write_text("Họ và tên,Tỉnh\nNguyễn Thị Lan,Hà Nội\n", encoding="utf-8")
    with pytest.raises(SourceError, match="needs a learner_id"):
        import_tenant.run(roster.import_file, nobody, lms_url=LMS)
    with pytest.raises(SourceError, match="needs --lms-url"):
        import_tenant.run(roster.import_file, FILE, lms_url=None)
    emails = tmp_path / "emails.csv"
    emails.write_text("email,ho_ten\nAn@Example.vn,Nguyễn Văn An\n", encoding="utf-8")
    report = import_tenant.run(roster.import_file, emails, lms_url=None)  # no learner ids: no LMS needed
    assert report.stored == 1 and list(import_tenant.learners()) == ["agent|mbox:mailto:an@example.vn"]


def test_header_names_are_matched_without_diacritics() -> None:
    assert roster.normalise("Tỉnh/Thành phố") == "tinh_thanh_pho"
    assert roster.normalise("Họ và tên") == "ho_va_ten"
    assert roster.normalise("Số CCCD") == "so_cccd"
    assert roster.normalise("Đơn vị công tác") == "don_vi_cong_tac"
