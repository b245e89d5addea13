"""A learner roster (CSV) → the tenant's learner records (``connectors.storage.LearnerRecord``).

Input: CSV, UTF-8 (a byte-order mark is fine), one header line. Columns are recognised by name,
in English or Vietnamese, with or without diacritics (``Họ và tên`` = ``ho_va_ten`` = ``full_name``):

| column      | names                                                                   | use                      |
|-------------|--------------------------------------------------------------------------|--------------------------|
| learner id  | learner_id, ma_hoc_vien, ma_nguoi_hoc, username, user_id, ten_dang_nhap  | account name (see below) |
| e-mail      | email, e_mail, thu_dien_tu, dia_chi_email                                | mbox, when no learner id |
| name        | full_name, name, ho_ten, ho_va_ten                                       | display_name, agent name |
| province    | province, tinh, tinh_thanh, tinh_thanh_pho                               | province                 |
| unit        | unit, don_vi, co_quan, don_vi_cong_tac                                   | unit                     |

Every other column is kept in ``attributes`` under its header as written (so is the e-mail
address when the learner id identifies the agent). A row needs a learner id or an e-mail address.

The agent is built the way the other importers build theirs (``parts.account_agent``): an
account with homePage = ``--lms-url`` and name = the learner id — the Moodle user id for
Moodle-log statements, the SCORM learner_id, or the Caliper Person id's path — so
``learner_key`` (``lrs.identifiers.agent_key``) is the key the store gives those statements'
actors and records join to statements. With only an e-mail, the agent is ``mbox:
mailto:<e-mail>`` (lower-cased, xAPI 1.0.3 Part Two §2.4.2.3).

Upsert by (tenant, learner_key): a new learner is inserted, a changed one updated, an unchanged
one counted as already present. The same learner twice in one file is rejected the second time.

Citizen IDs (CCCD, 12 digits) are never stored in clear (DESIGN.md, Identity assurance). hocvu
rejects rather than hashes them here: a roster is not an identity proof, and the VNeID
sign-in already keeps the only keyed hash the hub needs. So:
- a column whose header names a citizen ID (cccd, cmnd, căn cước, số định danh, citizen_id ...)
  stops the import before any row is read (remove the column and import again);
- any other cell holding a 12-digit number (spaces, dots or dashes ignored) rejects its row,
  naming the column: it looks like a CCCD and could be one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.importers import (
    Record,
    Rejected,
    Rejection,
    Report,
    SourceError,
    csv_rows,
    parts,
    run,
    source_lines,
)
from connectors.rollups.refresh import restate_provinces
from connectors.storage import LearnerRecord
from lrs.identifiers import agent_key

ALIASES: Final[dict[str, frozenset[str]]] = {
    "learner_id": frozenset({"learner_id", "ma_hoc_vien", "ma_nguoi_hoc", "username", "user_id", "ten_dang_nhap"}),
    "email": frozenset({"email", "e_mail", "thu_dien_tu", "dia_chi_email"}),
    "name": frozenset({"full_name", "name", "ho_ten", "ho_va_ten"}),
    "province": frozenset({"province", "tinh", "tinh_thanh", "tinh_thanh_pho"}),
    "unit": frozenset({"unit", "don_vi", "co_quan", "don_vi_cong_tac"}),
}
CITIZEN_ID_HEADERS: Final = frozenset({
    "cccd", "so_cccd", "cmnd", "so_cmnd", "cmnd_cccd", "so_cmnd_cccd", "can_cuoc", "can_cuoc_cong_dan",
    "so_can_cuoc", "so_can_cuoc_cong_dan", "so_dinh_danh", "ma_dinh_danh", "so_dinh_danh_ca_nhan",
    "citizen_id", "national_id", "id_number", "id_card"})
_CCCD = re.compile(r"\d{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LIMITS: Final = {"name": 255, "province": 128, "unit": 255}  # the LearnerRecord columns' sizes


def normalise(header: str) -> str:
    """``Tỉnh/Thành phố`` → ``tinh_thanh_pho``: no diacritics, lower case, runs of other characters as _."""
    text = unicodedata.normalize("NFD", header.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@dataclass
class Learner:
    key: str
    agent: dict[str, Any]
    name: str | None
    province: str | None
    unit: str | None
    attributes: dict[str, str]


def import_file(session: Session, tenant_id: int, path: Path, *, lms_url: str | None, dry_run: bool = False,
                progress: bool | None = None, batch_size: int = 500) -> Report:
    report = Report("roster", unit="learner records", record="row", dry_run=dry_run)
    with source_lines(path, progress=progress, desc="roster") as lines:
        header, rows = csv_rows(lines)
        mapper = Mapper(header, lms_url)
        items = (mapper.row(number, cells) for number, cells in rows)
        return run(session, RosterSink(tenant_id), items, report, batch_size=batch_size)


class Mapper:
    def __init__(self, header: list[str], lms_url: str | None) -> None:
        names = [normalise(h) for h in header]
        refused = [h for h, n in zip(header, names, strict=True) if n in CITIZEN_ID_HEADERS]
        if refused:
            raise SourceError(f"column {refused[0]!r} holds citizen ID numbers, which hocvu never stores in clear: "
                              "remove the column and import again")
        self.header = header
        self.role: dict[int, str] = {}
        for i, n in enumerate(names):
            role = next((r for r, aliases in ALIASES.items() if n in aliases), None)
            if role is not None and role not in self.role.values():
                self.role[i] = role
        if not {"learner_id", "email"} & set(self.role.values()):
            raise SourceError("the roster needs a learner_id (or ma_hoc_vien, username ...) or an email column; "
                              f"found {', '.join(header)}")
        self.home = parts.lms_url(lms_url) if "learner_id" in self.role.values() else None
        self.seen: dict[str, int] = {}

    def row(self, number: int, cells: list[str] | Rejected) -> Record | Rejection:
        try:
            learner = self.learner(cells)
        except Rejected as err:
            return Rejection(number, err.reason)
        if learner.key in self.seen:
            return Rejection(number, f"the same learner as line {self.seen[learner.key]}")
        self.seen[learner.key] = number
        return Record(number, learner, (learner.key,))

    def learner(self, cells: list[str] | Rejected) -> Learner:
        if isinstance(cells, Rejected):
            raise cells
        if len(cells) != len(self.header):
            raise Rejected(f"has {len(cells)} columns, the header has {len(self.header)}")
        for header, cell in zip(self.header, cells, strict=True):
            if _CCCD.fullmatch(re.sub(r"[\s.\-]", "", cell)):
                raise Rejected(f"column {header!r} holds a 12-digit number that looks like a citizen ID (CCCD); "
                               "hocvu never stores citizen IDs in clear: remove it from the roster")
        known = {role: cells[i].strip() or None for i, role in self.role.items()}
        for role, limit in LIMITS.items():
            if known.get(role) and len(known[role] or "") > limit:
                raise Rejected(f"{role} is longer than {limit} characters")
        name = known.get("name")
        email = (known.get("email") or "").lower()
        if email and not _EMAIL.fullmatch(email):
            raise Rejected(f"email {known['email']!r} is not an e-mail address")
        if known.get("learner_id"):
            assert self.home is not None
            agent = parts.account_agent(self.home, known["learner_id"] or "")
        elif email:
            agent = {"objectType": "Agent", "mbox": f"mailto:{email}"}
        else:
            raise Rejected("no learner_id and no email: the row names nobody")
        if name:
            agent["name"] = name
        # Other columns, and an e-mail address that is not the agent's IFI (an Agent has exactly
        # one, xAPI 1.0.3 Part Two §2.4.2.1), are kept as given.
        used = {i for i, role in self.role.items() if role != "email" or "mbox" in agent}
        attributes = {h: c.strip() for i, (h, c) in enumerate(zip(self.header, cells, strict=True))
                      if i not in used and c.strip()}
        return Learner(agent_key(agent) or "", agent, name, known.get("province"), known.get("unit"), attributes)


@dataclass
class RosterSink:
    tenant_id: int

    def check(self, record: Record) -> None:
        """Rows are checked while they are read (Mapper.learner)."""

    def store(self, session: Session, records: list[Record]) -> tuple[int, int]:
        learners: list[Learner] = [r.payload for r in records]
        existing = {row.learner_key: row for row in session.scalars(select(LearnerRecord).where(
            LearnerRecord.tenant_id == self.tenant_id, LearnerRecord.learner_key.in_([x.key for x in learners])))}
        now = datetime.now(UTC)
        stored = present = 0
        for x in learners:
            row = existing.get(x.key)
            values = {"agent": x.agent, "display_name": x.name, "province": x.province, "unit": x.unit,
                      "attributes": x.attributes}
            if row is None:
                session.add(LearnerRecord(tenant_id=self.tenant_id, learner_key=x.key, created=now, updated=now,
                                          **values))
                stored += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated = now
                stored += 1
            else:
                present += 1
        session.flush()
        # The report rollups move these learners' enrolments to their (new) province.
        restate_provinces(session, self.tenant_id, [x.key for x in learners])
        return stored, present
