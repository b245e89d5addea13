"""What a verified credential says, for a person: the course, its criteria and competences, who
issued it and when, whether the assessed attempts were identity-verified and at which level, and the
name the learner chose to show. Read from the credential only (``credentials.verify`` calls it
after the proof holds), so the verification page can say nothing the credential does not.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from credentials.openbadge import NOT_REQUIRED

_LEVEL = re.compile(r"vneid-level-([12])-face-verified")


@dataclass(frozen=True)
class Alignment:
    code: str
    name: str
    framework: str


@dataclass(frozen=True)
class Summary:
    id: str
    title: str
    description: str
    criteria: str
    issuer: str
    issuer_parent: str | None
    issued: str
    valid_until: str | None
    completed: str | None
    identity_required: bool
    identity_level: int | None
    holder_name: str | None
    alignments: tuple[Alignment, ...]
    evidence: int

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["alignments"] = [asdict(a) for a in self.alignments]
        return out


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _identity(subject: dict[str, Any]) -> tuple[bool, int | None]:
    for result in subject.get("result") or []:
        if isinstance(result, dict) and _str(result.get("resultDescription")).endswith("#identity-assurance"):
            value = _str(result.get("value"))
            match = _LEVEL.fullmatch(value)
            return (match is not None, int(match.group(1)) if match else None) if value != NOT_REQUIRED else \
                (False, None)
    return False, None


def _name(subject: dict[str, Any]) -> str | None:
    for ident in subject.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("identityType") == "name" and ident.get("hashed") is False:
            return _str(ident.get("identityHash")) or None
    return None


def summarise(doc: dict[str, Any]) -> Summary:
    subject = doc["credentialSubject"]
    ach = subject["achievement"]
    issuer = doc["issuer"]
    parent = issuer.get("parentOrg") if isinstance(issuer.get("parentOrg"), dict) else None
    required, level = _identity(subject)
    alignments = tuple(Alignment(_str(a.get("targetCode")), _str(a.get("targetName")), _str(a.get("targetFramework")))
                       for a in ach.get("alignment") or [] if isinstance(a, dict))
    return Summary(id=_str(doc.get("id")), title=_str(ach.get("name")), description=_str(ach.get("description")),
                   criteria=_str((ach.get("criteria") or {}).get("narrative")), issuer=_str(issuer.get("name")),
                   issuer_parent=_str(parent.get("name")) or None if parent else None,
                   issued=_str(doc.get("validFrom")), valid_until=_str(doc.get("validUntil")) or None,
                   completed=_str(subject.get("activityEndDate")) or None, identity_required=required,
                   identity_level=level, holder_name=_name(subject), alignments=alignments,
                   evidence=len(doc.get("evidence") or []))

