"""imsmanifest.xml read for SCORM 1.2 and 2004 (player.packages.scorm_manifest), and refused with an
exact message when missing, malformed, hostile (XXE) or not SCORM."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.packages.scorm_manifest import ManifestError, NoManifest, parse_manifest

DATA = Path(__file__).resolve().parent.parent / "data" / "scorm"


def _read(name: str) -> bytes:
    return (DATA / name / "imsmanifest.xml").read_bytes()


def test_scorm12_manifest_items_scos_and_masteryscore() -> None:
    # SCORM 1.2 CAM §3.4.1.2 schemaversion; §3.4.1.12 adlcp:masteryscore; §3.4.1.16 adlcp:scormtype
    m = parse_manifest(_read("scorm12"), frozenset({"quiz.html", "sco.js"}))
    assert m.version == "1.2" and m.identifier == "hocvu.test.scorm12"
    assert m.title == "An toàn mạng (SCORM 1.2)"
    [quiz] = m.leaves()
    assert (quiz.identifier, quiz.launch, quiz.is_sco, quiz.mastery_score) == ("kiem-tra", "quiz.html", True, 50.0)
    assert m.organization.choice and not m.organization.flow


def test_scorm2004_manifest_control_mode_and_completion_threshold() -> None:
    # SCORM 2004 CAM §3.4.1.2 schemaversion "2004 4th Edition"; SN §5.1.1 controlMode; CAM §5.1.4 completionThreshold
    m = parse_manifest(_read("scorm2004"))
    assert m.version == "2004"
    assert [i.identifier for i in m.leaves()] == ["gioi-thieu", "kiem-tra"]
    assert m.organization.choice and m.organization.flow
    assert m.item("kiem-tra").completion_threshold == 0.8


def test_version_from_namespace_when_schemaversion_is_absent() -> None:
    # SCORM 2004 CAM §3.4.1.2: schemaversion is optional; the ADL namespace then tells the version
    xml = _read("scorm2004").replace(b"<schemaversion>2004 4th Edition</schemaversion>", b"")
    assert parse_manifest(xml).version == "2004"
    xml = _read("scorm12").replace(b"<schemaversion>1.2</schemaversion>", b"")
    assert parse_manifest(xml).version == "1.2"


def test_parameters_and_xml_base_make_the_launch_href() -> None:
    # SCORM 2004 CAM §3.4.1.8 item parameters, §3.4.1.16 xml:base on resources
    xml = _read("scorm12").replace(b'identifierref="res-quiz"', b'identifierref="res-quiz" parameters="?lang=vi"')
    xml = xml.replace(b'<resource identifier="res-quiz"', b'<resource xml:base="sco/" identifier="res-quiz"')
    assert parse_manifest(xml).leaves()[0].launch == "sco/quiz.html?lang=vi"


def test_missing_manifest_is_refused() -> None:
    with pytest.raises(NoManifest, match=r"^the package has no imsmanifest.xml at its root") as err:
        parse_manifest(None)
    assert (err.value.status, err.value.code) == (400, "package_manifest_missing")


def test_malformed_xml_is_refused_with_the_parser_reason() -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(b"<manifest><organizations></manifest>")
    assert err.value.message.startswith("imsmanifest.xml is not well-formed XML: ")
    assert (err.value.status, err.value.code) == (400, "package_manifest_invalid")


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE manifest SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE manifest [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
])
def test_xxe_and_dtd_manifests_are_refused_harmlessly(doctype: bytes) -> None:
    # OWASP XXE: no external entity or DTD is ever loaded; the DOCTYPE alone refuses the package
    xml = _read("scorm12").replace(b'<manifest ', doctype + b'\n<manifest ', 1)
    xml = xml.replace("<title>Kiểm tra</title>".encode(), b"<title>&xxe;</title>")
    with pytest.raises(ManifestError) as err:
        parse_manifest(xml)
    assert "root:" not in err.value.message  # nothing of /etc/passwd
    assert "DOCTYPE" in err.value.message or "well-formed" in err.value.message


def test_not_scorm_and_wrong_root_are_refused() -> None:
    with pytest.raises(ManifestError, match=r"root element is <cmi5>, not <manifest>"):
        parse_manifest(b"<cmi5/>")
    with pytest.raises(ManifestError, match=r"neither SCORM 1.2 nor SCORM 2004: <schemaversion>9</schemaversion>"):
        parse_manifest(b"<manifest><metadata><schemaversion>9</schemaversion></metadata></manifest>")


def test_href_leaving_the_package_is_refused() -> None:
    # SCORM CAM §3.4.1.16: hrefs are relative to the package; zip-slip style paths are refused
    xml = _read("scorm12").replace(b'href="quiz.html">', b'href="../../etc/passwd">')
    with pytest.raises(ManifestError, match=r"resource 'res-quiz' href '../../etc/passwd' leaves the package"):
        parse_manifest(xml)
    xml = _read("scorm12").replace(b'href="quiz.html">', b'href="https://evil.example/x.html">')
    with pytest.raises(ManifestError, match=r"is not a relative path inside the package"):
        parse_manifest(xml)


def test_missing_resource_and_launch_file_are_refused() -> None:
    xml = _read("scorm12").replace(b'identifierref="res-quiz"', b'identifierref="nope"')
    with pytest.raises(ManifestError, match=r"^item 'kiem-tra' references resource 'nope', which the manifest"):
        parse_manifest(xml)
    with pytest.raises(ManifestError, match=r"^item 'kiem-tra' launches 'quiz.html', which is not in the package$"):
        parse_manifest(_read("scorm12"), frozenset({"sco.js"}))


def test_bad_masteryscore_and_scormtype_are_refused() -> None:
    xml = _read("scorm12").replace(b"<adlcp:masteryscore>50", b"<adlcp:masteryscore>150")
    with pytest.raises(ManifestError, match=r"adlcp:masteryscore '150' is outside 0..100"):
        parse_manifest(xml)
    xml = _read("scorm12").replace(b'adlcp:scormtype="sco"', b'adlcp:scormtype="lesson"')
    with pytest.raises(ManifestError, match=r"adlcp:scormType must be 'sco' or 'asset', not 'lesson'"):
        parse_manifest(xml)


def test_nested_items_flatten_to_the_launchable_leaves_in_document_order() -> None:
    # SCORM 2004 CAM §3.4.1.7: an item without identifierref is a cluster of items
    xml = _read("scorm2004").replace(
        b'<item identifier="gioi-thieu" identifierref="res-intro"><title>Gi',
        b'<item identifier="phan-1"><title>Part 1</title>'
        b'<item identifier="gioi-thieu" identifierref="res-intro"><title>Gi')
    xml = xml.replace("thiệu</title></item>".encode(), "thiệu</title></item></item>".encode(), 1)
    m = parse_manifest(xml)
    assert [i.identifier for i in m.organization.items] == ["phan-1", "kiem-tra"]
    assert [i.identifier for i in m.leaves()] == ["gioi-thieu", "kiem-tra"]
