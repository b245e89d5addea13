"""Claim mapping (OIDC Core §5.1 standard claims and the national portals' Vietnamese ones), Unicode
NFC names, the 12-digit citizen ID check and its HMAC, identification levels, settings."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from hocvu import configs
from hocvu.settings import SettingError, Settings
from identity.claims import (
    ClaimMapping,
    citizen_id_hmac,
    map_claims,
    normalize_name,
    parse_birthdate,
    validate_citizen_id,
)
from identity.errors import InvalidClaims
from identity.settings import IdentitySettings

PEPPER = b"p" * 32
VN_CLAIMS = {"sub": "x", "HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "15/03/1990",
             "SoDinhDanh": "003090000001", "level": 2}


def test_vietnamese_claims_are_mapped() -> None:
    mapped = map_claims(VN_CLAIMS, ClaimMapping(), PEPPER)
    assert mapped.name == "Nguyễn Văn An" and mapped.birthdate == date(1990, 3, 15) and mapped.level == 2
    assert mapped.citizen_id_hmac == citizen_id_hmac("003090000001", PEPPER)
    assert "003090000001" not in repr(mapped)


def test_standard_claims_are_mapped() -> None:
    """OIDC Core §5.1: name, birthdate (YYYY-MM-DD); split names in Vietnamese order; acr as level."""
    claims = {"sub": "x", "family_name": "Trần", "middle_name": "Thị", "given_name": "Hoa",
              "birthdate": "2001-11-02", "acr": "1"}
    mapped = map_claims(claims, ClaimMapping(), PEPPER, require_citizen_id=False)
    assert mapped.name == "Trần Thị Hoa" and mapped.birthdate == date(2001, 11, 2) and mapped.level == 1
    assert mapped.citizen_id_hmac is None


def test_names_are_kept_in_nfc() -> None:
    """Decomposed input (combining marks, as some keyboards and systems send) is stored as NFC."""
    decomposed = unicodedata.normalize("NFD", "Nguyễn  Thị   Ánh")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    name = normalize_name(decomposed)
    assert name == "Nguyễn Thị Ánh" and unicodedata.is_normalized("NFC", name)
    with pytest.raises(InvalidClaims):
        normalize_name("An\x00")


@pytest.mark.parametrize("value", ["003090000001", "003 090 000001", "００３０９００００００１", 3090000001])
def test_citizen_id_forms_accepted(value: object) -> None:
    """Spaces, full-width digits (NFKC) and a JSON number that lost its leading zeros."""
    assert validate_citizen_id(value, date(1990, 3, 15)) == "003090000001"


@pytest.mark.parametrize("value", ["03090000001", "0030900000012", "00309000000A", "000090000001",
                                   "099090000001", "", None, True, "٠٠٣٠٩٠٠٠٠٠٠١"])
def test_citizen_id_forms_refused(value: object) -> None:
    """Exactly 12 ASCII digits (after NFKC), province code 001–096 (Decree 137/2015/ND-CP Art. 7)."""
    with pytest.raises(InvalidClaims):
        validate_citizen_id(value)


def test_citizen_id_must_agree_with_the_date_of_birth() -> None:
    """Digit 4 encodes century and sex, digits 5–6 the year of birth (Circular 59/2021/TT-BCA)."""
    assert validate_citizen_id("005301000002", date(2001, 11, 2))
    with pytest.raises(InvalidClaims, match="date of birth"):
        validate_citizen_id("005301000002", date(1901, 11, 2))
    with pytest.raises(InvalidClaims, match="date of birth"):
        validate_citizen_id("005301000002", date(2002, 11, 2))


def test_citizen_id_hmac_is_keyed() -> None:
    """RFC 2104 HMAC-SHA256: another pepper gives another value; it is not the plain SHA-256."""
    import hashlib

    a, b = citizen_id_hmac("003090000001", PEPPER), citizen_id_hmac("003090000001", b"q" * 32)
    assert a != b and len(a) == 64 and a != hashlib.sha256(b"003090000001").hexdigest()
    with pytest.raises(ValueError):
        citizen_id_hmac("003090000001", b"short")


@pytest.mark.parametrize(("value", "expected"), [("1990-03-15", date(1990, 3, 15)), ("15/03/1990", date(1990, 3, 15)),
                                                 ("5-3-1990", date(1990, 3, 5)), ("19900315", date(1990, 3, 15))])
def test_birthdate_formats(value: str, expected: date) -> None:
    """OIDC Core §5.1 birthdate (ISO 8601) and the portals' dd/mm/yyyy."""
    assert parse_birthdate(value) == expected


@pytest.mark.parametrize("value", ["1990", "0000-03-15", "31/02/1990", "yesterday", 19900315])
def test_birthdate_refused(value: object) -> None:
    """§5.1 partial dates ("YYYY", "0000-MM-DD") cannot be checked against the ID: refused."""
    with pytest.raises(InvalidClaims):
        parse_birthdate(value)


def test_missing_required_claims_are_refused() -> None:
    """Without the citizen ID or the level (when required) no account is made."""
    with pytest.raises(InvalidClaims, match="citizen ID"):
        map_claims({"sub": "x", "level": 2}, ClaimMapping(), PEPPER)
    with pytest.raises(InvalidClaims, match="level"):
        map_claims({"sub": "x", "SoDinhDanh": "003090000001"}, ClaimMapping(), PEPPER)


def test_levels_and_configured_level_values() -> None:
    """OIDC Core §2 acr: provider-specific values map to VNeID levels 1/2 only by configuration."""
    mapping = ClaimMapping.parse("level=acr", "urn:vneid:loa:2=2, urn:vneid:loa:1=1")
    base = {"sub": "x", "SoDinhDanh": "003090000001"}
    assert map_claims({**base, "acr": "urn:vneid:loa:2"}, mapping, PEPPER).level == 2
    for bad in ("urn:other:silver", 3, "0", True):
        with pytest.raises(InvalidClaims):
            map_claims({**base, "acr": bad}, mapping, PEPPER)


def test_claim_mapping_parse() -> None:
    """OIDC Core §5.1 names or a portal's own: which claim feeds which field is configuration."""
    mapping = ClaimMapping.parse("name=ho_ten|name, citizen_id=cccd")
    assert mapping.name == ("ho_ten", "name") and mapping.citizen_id == ("cccd",)
    assert mapping.birthdate == ClaimMapping().birthdate
    with pytest.raises(ValueError):
        ClaimMapping.parse("email=mail")


def _identity(env: dict[str, str]) -> IdentitySettings:
    """The VNeID client the composition root builds from the settings tree (hocvu.configs)."""
    return configs.identity_settings(Settings.from_env(env))


def test_settings_from_env(tmp_path: Path) -> None:
    """HOCVU_VNEID_* configure a real provider without discovery (VNeID publishes none); the
    pepper is read from the environment and never shown by repr."""
    env = {f"HOCVU_VNEID_{k}": v for k, v in {
        "ISSUER": "https://vneid.example", "AUTHORIZE_URL": "https://vneid.example/auth",
        "TOKEN_URL": "https://vneid.example/token", "JWKS_URL": "https://vneid.example/jwks",
        "CLIENT_ID": "hocvu", "CLIENT_SECRET": "s" * 24, "PEPPER": "pepper-" + "x" * 20,
        "CLAIMS": "level=acr", "MIN_LEVEL": "2", "SCOPES": "openid profile vneid"}.items()}
    env |= {"HOCVU_INSTANCE_DIR": str(tmp_path), "HOCVU_PUBLIC_URL": "https://hocvu.example",
            "HOCVU_SECRET_KEY": "app-secret"}
    s = _identity(env)
    assert s.issuer == "https://vneid.example" and s.discovery_url is None and s.min_level == 2
    assert s.redirect_uri == "https://hocvu.example/identity/callback" and s.claims.level == ("acr",)
    assert "pepper-" not in repr(s) and "s" * 24 not in repr(s) and not s.demo_idp
    assert not list(tmp_path.iterdir())  # the pepper came from the environment, no file made

    with pytest.raises(SettingError, match="private_key_jwt"):
        _identity({**env, "HOCVU_VNEID_TOKEN_AUTH_METHOD": "private_key_jwt"})
    with pytest.raises(SettingError, match="HOCVU_VNEID_MIN_LEVEL='3'"):
        _identity({**env, "HOCVU_VNEID_MIN_LEVEL": "3"})


def test_settings_demo_default(tmp_path: Path) -> None:
    """HOCVU_DEMO_IDP=1 with no issuer: the client points at the demo provider on this hub."""
    s = _identity({"HOCVU_INSTANCE_DIR": str(tmp_path), "HOCVU_DEMO_IDP": "1", "HOCVU_SECRET_KEY": "app-secret"})
    assert s.issuer == s.demo_issuer == "http://127.0.0.1:8000/demo-vneid" and s.demo_idp
    assert s.client_secret == s.demo_secret and len(s.pepper) >= 16
    assert (tmp_path / "vneid_pepper").stat().st_mode & 0o077 == 0


def test_unconfigured_settings_write_nothing(tmp_path: Path) -> None:
    assert not _identity({"HOCVU_INSTANCE_DIR": str(tmp_path), "HOCVU_SECRET_KEY": "app-secret"}).configured
    assert not list(tmp_path.iterdir())
