"""Safe import of package archives (player.packages.archive/store): every hostile zip is made here and
refused with its exact reason, status and code, and nothing is left on disk (OWASP Zip Slip,
CWE-22; zip bombs, CWE-409)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from player.packages.archive import ArchiveLimits, open_zip
from player.packages.errors import ContentTypeRefused, NotAnArchive, PackageError, TooLarge, UnsafePath, ZipBomb
from player.packages.store import PackageStore, StoreConfig, content_headers

GOOD = {"cmi5.xml": b"<courseStructure/>", "au/index.html": b"<!doctype html><p>hi</p>", "au/app.js": b"1;"}


def make_zip(files: dict[str, bytes], *, infos: list[tuple[zipfile.ZipInfo, bytes]] = (),  # type: ignore[assignment]
             compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for info, data in infos:
            zf.writestr(info, data)
    buf.seek(0)
    return buf


def put(tmp_path: Path, buf: io.BytesIO, limits: ArchiveLimits | None = None) -> tuple[PackageStore, str]:
    store = PackageStore(StoreConfig(root=tmp_path / "packages", limits=limits or ArchiveLimits()))
    with open_zip(buf) as zf:
        package_id, _ = store.put(zf)
    return store, package_id


def refused(tmp_path: Path, buf: io.BytesIO, error: type[PackageError], fragment: str,
            limits: ArchiveLimits | None = None) -> PackageError:
    with pytest.raises(error) as caught:
        put(tmp_path, buf, limits)
    assert fragment in caught.value.message
    root = tmp_path / "packages"
    # Nothing stored: no package folder, no temporary folder left behind.
    assert not root.exists() or list(root.iterdir()) == []
    return caught.value


def test_good_archive_is_extracted_whole(tmp_path: Path) -> None:
    store, package_id = put(tmp_path, make_zip(GOOD))
    assert store.file(package_id, "au/index.html").read_bytes() == GOOD["au/index.html"]
    assert sorted(p.name for p in (tmp_path / "packages").iterdir()) == [package_id]


@pytest.mark.parametrize(("name", "fragment"), [
    ("../evil.html", "'..' part"),
    ("au/../../evil.html", "'..' part"),
    ("/etc/evil.html", "an absolute path"),
    ("C:/evil.html", "a drive letter"),
    ("au\\..\\evil.html", "a backslash"),
])
def test_zip_slip_names_refused(tmp_path: Path, name: str, fragment: str) -> None:
    """OWASP Zip Slip (CWE-22): no entry may land outside the package folder."""
    err = refused(tmp_path, make_zip({**GOOD, name: b"x"}), UnsafePath, fragment)
    assert (err.status, err.code) == (400, "package_unsafe_path")
    assert not (tmp_path / "evil.html").exists()


def test_symlink_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("au/link.html")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    refused(tmp_path, make_zip(GOOD, infos=[(info, b"/etc/passwd")]), UnsafePath, "a symbolic link")


def test_duplicate_and_case_twin_refused(tmp_path: Path) -> None:
    refused(tmp_path, make_zip({**GOOD, "AU/INDEX.HTML": b"x"}), UnsafePath, "would overwrite the first")


def test_too_many_files_refused(tmp_path: Path) -> None:
    files = {f"f{i}.txt": b"x" for i in range(11)}
    err = refused(tmp_path, make_zip(files), TooLarge, "more than the 10 files", ArchiveLimits(max_files=10))
    assert (err.status, err.code) == (413, "package_too_large")


def test_total_size_refused(tmp_path: Path) -> None:
    files = {f"f{i}.txt": bytes(600) for i in range(3)}
    refused(tmp_path, make_zip(files), TooLarge, "over 1000 bytes uncompressed in all",
            ArchiveLimits(max_total_bytes=1000))


def test_file_size_refused(tmp_path: Path) -> None:
    refused(tmp_path, make_zip({"big.txt": bytes(2000)}), TooLarge, "over the 1000-byte limit for one file",
            ArchiveLimits(max_file_bytes=1000))


def test_compression_ratio_refused(tmp_path: Path) -> None:
    """A zip bomb: 4 MiB of zeros deflate to a few KiB (over 1000 to 1)."""
    err = refused(tmp_path, make_zip({"bomb.txt": bytes(4 * 1024 * 1024)}), ZipBomb, "a zip bomb")
    assert (err.status, err.code) == (413, "package_zip_bomb")


def test_header_that_lies_about_size_stops_at_limit(tmp_path: Path) -> None:
    """The central directory says 10 bytes; the data holds 5000: extraction stops at the limit."""
    buf = make_zip({"a.txt": bytes(5000)}, compression=zipfile.ZIP_STORED)
    raw = bytearray(buf.getvalue())
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (10).to_bytes(4, "little")   # uncompressed size in the central directory
    refused(tmp_path, io.BytesIO(bytes(raw)), PackageError, "a.txt", ArchiveLimits(max_file_bytes=1000))


@pytest.mark.parametrize("name", ["run.exe", "index.php", "x.sh", "README"])
def test_content_type_refused(tmp_path: Path, name: str) -> None:
    err = refused(tmp_path, make_zip({**GOOD, name: b"x"}), ContentTypeRefused, "is not allowed in a package")
    assert (err.status, err.code) == (415, "package_content_type")


def test_not_a_zip_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAnArchive) as caught, open_zip(io.BytesIO(b"not a zip at all")):
        pass
    assert caught.value.message.startswith("not a zip archive")


def test_encrypted_entry_refused(tmp_path: Path) -> None:
    buf = make_zip(GOOD, compression=zipfile.ZIP_STORED)
    raw = bytearray(buf.getvalue())
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 8] |= 0x1   # general purpose flag bit 0: encrypted
    refused(tmp_path, io.BytesIO(bytes(raw)), UnsafePath, "encrypted")


def test_store_file_lookup_refuses_escape(tmp_path: Path) -> None:
    store, package_id = put(tmp_path, make_zip(GOOD))
    with pytest.raises(UnsafePath):
        store.file(package_id, "../" + package_id + "/cmi5.xml")
    with pytest.raises(PackageError):
        store.file("../etc", "passwd")
    store.remove(package_id)
    assert list((tmp_path / "packages").iterdir()) == []


def test_content_headers_sandbox_without_same_origin() -> None:
    h = content_headers("au/index.html")
    assert h["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert "allow-same-origin" in content_headers("a.html", separate_origin=True)["Content-Security-Policy"]


def test_served_sandboxed_with_safe_type(tmp_path: Path) -> None:
    """The hub serves package files in an opaque-origin sandbox (HTML §7.5.3), typed by extension."""
    from flask import Flask

    from player.packages.http import init_packages
    app = Flask(__name__)
    store = init_packages(app, StoreConfig(root=tmp_path / "packages"))
    with open_zip(make_zip(GOOD)) as zf:
        package_id, _ = store.put(zf)
    client = app.test_client()
    r = client.get(f"/player/content/{package_id}/au/index.html")
    assert r.status_code == 200 and r.data == GOOD["au/index.html"]
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "allow-same-origin" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.get(f"/player/content/{package_id}/au/../../x.html")
    assert r.status_code in (400, 404)
    r = client.get(f"/player/content/{package_id}/nothing.html")
    assert r.status_code == 404 and r.json["error"]["code"] == "package_not_found"


def test_separate_origin_only_serves_on_its_host(tmp_path: Path) -> None:
    """With HOCVU_PACKAGES_ORIGIN the sandbox allows same-origin, so the hub's own host never serves
    package files (they would run in the hub's origin): it sends the browser to the content origin."""
    from flask import Flask

    from player.packages.http import init_packages
    app = Flask(__name__)
    store = init_packages(app, StoreConfig(root=tmp_path / "packages", content_origin="http://content.example"))
    with open_zip(make_zip(GOOD)) as zf:
        package_id, _ = store.put(zf)
    client = app.test_client()
    r = client.get(f"/player/content/{package_id}/au/index.html?x=1", base_url="http://hub.example")
    assert r.status_code == 308 and r.headers["Location"] == f"http://content.example/player/content/{package_id}/au/index.html?x=1"
    r = client.get(f"/player/content/{package_id}/au/index.html", base_url="http://content.example")
    assert r.status_code == 200 and "allow-same-origin" in r.headers["Content-Security-Policy"]
