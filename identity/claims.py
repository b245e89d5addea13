"""Claims from the provider mapped to what the hub keeps: a name, a date of birth, a keyed hash of
the citizen ID, a keyed hash of the provider's subject and the identification level.

Which claim carries what is configuration (``ClaimMapping``): standard OpenID Connect names
(OpenID Connect Core 1.0 §5.1) and the Vietnamese ones used by national portals (``HoVaTen``,
``NgayThangNamSinh``, ``SoDinhDanh``). The citizen ID never leaves this module in clear: it is
validated, then replaced by an HMAC-SHA256 under a secret pepper, so the database can match a
person again without holding the number (a plain hash of a 12-digit number is brute-forced in
seconds; a keyed one is not without the pepper).

The provider's ``sub`` gets the same treatment (``subject_hmac``): VNeID may put the 12-digit citizen
ID there, so the hub never stores, prints or logs ``sub`` either; accounts are keyed by its HMAC
(Decree 13/2023/NĐ-CP Art. 2.3 lists the personal identification number as personal data; Art. 3
and the Personal Data Protection Law 2025 (91/2025/QH15) allow processing only what the purpose
needs, and finding an account again needs only a keyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from identity.errors import InvalidClaims

# Domain separation: the same pepper could one day key another hash; this prefix keeps them apart
# and "v1" lets us change the construction without confusing old rows with new ones.
CITIZEN_ID_HMAC_PREFIX = b"hocvu/citizen-id/v1:"
# The subject's HMAC is also the stamp's pseudonym (``identity.stamp.pseudonymous_subject``, which
# came first and whose construction is kept so stamps already written name the same person).
SUBJECT_HMAC_PREFIX = b"hocvu/stamp/subject|"
_DIGITS12 = re.compile(r"[0-9]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_NAME = 255


@dataclass(frozen=True)
class ClaimMapping:
    """For each field we keep, the claim names to look for, first present wins."""

    name: tuple[str, ...] = ("HoVaTen", "name")
    birthdate: tuple[str, ...] = ("NgayThangNamSinh", "birthdate")
    citizen_id: tuple[str, ...] = ("SoDinhDanh",)
    level: tuple[str, ...] = ("level", "acr")
    # Provider-specific level values (e.g. an ``acr`` URN) → 1 or 2; plain 1/2 need no entry.
    level_values: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, level_values: str = "") -> ClaimMapping:
        """``"name=HoVaTen|name,citizen_id=SoDinhDanh,level=acr"``: fields not named keep
        their defaults. ``level_values`` is ``"urn:example:loa:2=2,urn:example:loa:1=1"``."""
        fields: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, names = part.partition("=")
            key = key.strip()
            if not sep or key not in ("name", "birthdate", "citizen_id", "level"):
                raise ValueError(f"claim mapping entry {part!r}: expected field=claim|claim, "
                                 "field one of name, birthdate, citizen_id, level")
            fields[key] = tuple(n.strip() for n in names.split("|") if n.strip())
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in level_values.split(","))):
            value, sep, level = part.rpartition("=")
            if not sep or level.strip() not in ("1", "2"):
                raise ValueError(f"level value entry {part!r}: expected value=1 or value=2")
            values[value.strip()] = int(level)
        return cls(**fields, level_values=values)


@dataclass(frozen=True)
class MappedClaims:
    """What the hub keeps of a person's claims. No field holds the citizen ID in clear."""

    name: str | None
    birthdate: date | None
    citizen_id_hmac: str | None
    level: int | None


def _first(claims: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | None:
    for n in names:
        value = claims.get(n)
        if value not in (None, ""):
            return n, value
    return None


def normalize_name(value: Any, claim: str = "name") -> str:
    """Unicode NFC: VNeID, an LMS and a keyboard may send "Nguyễn" precomposed or with combining
    marks; stored as NFC, the same name compares and sorts equal wherever it came from."""
    if not isinstance(value, str):
        raise InvalidClaims(f"claim {claim!r} is not a string")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text or _CONTROL.search(text) or len(text) > MAX_NAME:
        raise InvalidClaims(f"claim {claim!r} is not a usable name")
    return text


def parse_birthdate(value: Any, claim: str = "birthdate") -> date:
    """OpenID Connect Core 1.0 §5.1 ``birthdate`` is ISO 8601 ``YYYY-MM-DD``; Vietnamese portals
    write ``dd/mm/yyyy`` (the order on the citizen card); ``yyyymmdd`` is also seen."""
    if not isinstance(value, str):
        raise InvalidClaims(f"claim {claim!r} is not a date string")
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if m := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        pass
    # §5.1 also allows "0000-MM-DD" and "YYYY" alone; a partial date cannot be checked
    # against the citizen ID, so it is refused rather than guessed.
    raise InvalidClaims(f"claim {claim!r} is not a full date (YYYY-MM-DD or DD/MM/YYYY)")


def validate_citizen_id(value: Any, birthdate: date | None = None, claim: str = "citizen_id") -> str:
    """Returns the 12-digit personal identification number (số định danh cá nhân) or raises.

    Structure (Decree 137/2015/ND-CP Art. 7, Circular 59/2021/TT-BCA Art. 7): 3 digits province
    of birth registration (001–096), 1 digit century and sex (0/1 = 1900s, 2/3 = 2000s, ...),
    2 digits year of birth, 6 random digits. When the date of birth is known we check that the
    ID agrees with it: a mismatch means a wrong claim mapping, and we would rather refuse the
    sign-in than key an account by someone else's number."""
    if isinstance(value, int) and not isinstance(value, bool):
        # A provider that sends the ID as a JSON number has dropped its leading zeros
        # (every province code starts with 0); restore them.
        value = f"{value:012d}"
    if not isinstance(value, str):
        raise InvalidClaims(f"claim {claim!r} is not a string of digits")
    # NFKC turns full-width digits into ASCII ones; spaces are a common display grouping.
    text = "".join(unicodedata.normalize("NFKC", value).split())
    if not _DIGITS12.fullmatch(text):
        raise InvalidClaims(f"claim {claim!r} is not a 12-digit citizen ID")
    if not 1 <= int(text[:3]) <= 96:
        raise InvalidClaims(f"claim {claim!r} has no valid province code")
    if birthdate is not None:
        century = 1900 + 100 * (int(text[3]) // 2)
        if century + int(text[4:6]) != birthdate.year:
            raise InvalidClaims(f"claim {claim!r} does not agree with the date of birth")
    return text


def citizen_id_hmac(citizen_id: str, pepper: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) of the validated ID under the pepper, hex. Deterministic, so the
    same citizen maps to the same value across providers and sign-ins."""
    if len(pepper) < 16:
        raise ValueError("the citizen-ID pepper must be at least 16 bytes")
    return hmac.new(pepper, CITIZEN_ID_HMAC_PREFIX + citizen_id.encode("ascii"), hashlib.sha256).hexdigest()


def subject_hmac(pepper: bytes, issuer: str, subject: str) -> str:
    """HMAC-SHA256 (RFC 2104) of the provider's (iss, sub) under the pepper, hex: the key of an
    account (OIDC Core 1.0 §5.7: iss + sub is the stable identifier of a person at a provider).
    The clear ``sub`` is never kept: a provider may put the citizen ID there."""
    if len(pepper) < 16:
        raise ValueError("the pepper must be at least 16 bytes")
    # A length prefix keeps ("ab", "c") and ("a", "bc") apart.
    message = f"{len(issuer)}:{issuer}|{subject}".encode()
    return hmac.new(pepper, SUBJECT_HMAC_PREFIX + message, hashlib.sha256).hexdigest()


def parse_level(value: Any, mapping: ClaimMapping, claim: str = "level") -> int:
    """VNeID identification levels: 1 (self-registered, basic checks) and 2 (verified in person
    with the chip card). Accepts 1/2 as number or string, or a configured provider value."""
    if isinstance(value, str) and value in mapping.level_values:
        return mapping.level_values[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2):
        return value
    if isinstance(value, str) and value.strip() in ("1", "2"):
        return int(value.strip())
    raise InvalidClaims(f"claim {claim!r} is not an identification level this hub knows "
                        "(configure HOCVU_VNEID_LEVEL_VALUES)")


def map_claims(claims: Mapping[str, Any], mapping: ClaimMapping, pepper: bytes, *,
               require_citizen_id: bool = True, require_level: bool = True) -> MappedClaims:
    """Maps verified claims (ID token merged with userinfo) to what the hub keeps."""
    name: str | None = None
    if found := _first(claims, mapping.name):
        name = normalize_name(found[1], found[0])
    elif any(claims.get(k) for k in ("family_name", "middle_name", "given_name")):
        # §5.1 split names; Vietnamese order is family, middle, given ("Nguyễn Văn An").
        parts = [claims.get(k) for k in ("family_name", "middle_name", "given_name")]
        name = normalize_name(" ".join(p for p in parts if isinstance(p, str)), "family_name/given_name")

    birthdate = None
    if found := _first(claims, mapping.birthdate):
        birthdate = parse_birthdate(found[1], found[0])

    digest = None
    if found := _first(claims, mapping.citizen_id):
        digest = citizen_id_hmac(validate_citizen_id(found[1], birthdate, found[0]), pepper)
    elif require_citizen_id:
        raise InvalidClaims(f"the provider sent no citizen ID (looked for {', '.join(mapping.citizen_id)})")

    level = None
    if found := _first(claims, mapping.level):
        level = parse_level(found[1], mapping, found[0])
    elif require_level:
        raise InvalidClaims(f"the provider sent no identification level (looked for {', '.join(mapping.level)})")
    return MappedClaims(name=name, birthdate=birthdate, citizen_id_hmac=digest, level=level)
