"""Import by URL without SSRF (player.packages.fetch; OWASP SSRF Prevention Cheat Sheet): https only,
an allowlist of hosts, public addresses only (checked after DNS resolution, on every redirect, for
every address a name resolves to), at most N redirects, a byte cap while streaming, one deadline.

A local HTTP server (allowed by HOCVU_PACKAGE_FETCH_ALLOW_HTTP / _ALLOW_LOOPBACK, as tests only may)
serves the good cases and the redirects; each refusal is checked with its exact message. Names that
must resolve to private ranges use a resolver stub (no DNS is needed to prove the address check).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, redirect

from player.packages.errors import FetchFailed, TooLarge
from player.packages.fetch import FetchPolicy, UrlRefused, fetch
from tests.browser_support import served
from tests.packages.cmi5_support import au_xml, block, package, structure

ZIP = package(structure(block(au_xml(1))), {"au.html": b"<p>1"})


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    app = Flask("site")
    app.add_url_rule("/course.zip", "zip", lambda: Response(ZIP, content_type="application/zip"))
    app.add_url_rule("/hop", "hop", lambda: redirect("/course.zip", 302))
    app.add_url_rule("/loop", "loop", lambda: redirect("/loop", 302))
    app.add_url_rule("/metadata", "metadata", lambda: redirect("http://169.254.169.254/latest/meta-data/", 302))
    app.add_url_rule("/elsewhere", "elsewhere", lambda: redirect("http://evil.example/x.zip", 307))
    app.add_url_rule("/big", "big", lambda: Response((b"x" * 65536 for _ in range(40)),
                                                     content_type="application/zip"))
    app.add_url_rule("/declared", "declared", lambda: Response(b"x" * 4096, headers={"Content-Length": "4096"}))

    def slow() -> Response:
        time.sleep(3)
        return Response(ZIP)

    app.add_url_rule("/slow", "slow", slow)
    with served(app) as base:
        yield base


LOCAL = FetchPolicy(hosts=("127.0.0.1",), allow_http=True, allow_loopback=True, max_bytes=1024 * 1024,
                    max_redirects=3, timeout=10)


def refused(url: str, policy: FetchPolicy, message: str, kind: type[Exception] = UrlRefused, **kw: object) -> None:
    with pytest.raises(kind) as caught:
        fetch(url, policy, **kw)  # type: ignore[arg-type]
    assert caught.value.message == message  # type: ignore[attr-defined]


def test_allowed_local_server_and_checked_redirect(site: str) -> None:
    """The allowed host answers the package, directly and through a redirect checked like the URL."""
    assert fetch(f"{site}/course.zip", LOCAL) == ZIP
    assert fetch(f"{site}/hop", LOCAL) == ZIP


def test_https_only_unless_http_allowed(site: str) -> None:
    policy = FetchPolicy(hosts=("127.0.0.1",), allow_loopback=True)
    refused(f"{site}/course.zip", policy, f"{site}/course.zip: only https URLs can be imported")
    refused("file:///etc/passwd", LOCAL, "file:///etc/passwd: only https URLs can be imported")
    refused("gopher://127.0.0.1:70/", LOCAL, "gopher://127.0.0.1:70/: only https URLs can be imported")


def test_allowlist(site: str) -> None:
    refused(f"{site}/course.zip", FetchPolicy(allow_http=True, allow_loopback=True),
            "import by URL is off: no host is allowed (HOCVU_PACKAGE_FETCH_HOSTS)")
    refused(f"{site}/course.zip", FetchPolicy(hosts=("packages.example.vn", "*.hocvu.vn"), allow_http=True),
            f"{site}/course.zip: host 127.0.0.1 is not in the allowed hosts (HOCVU_PACKAGE_FETCH_HOSTS)")
    refused("https://hocvu.vn.evil.example/p.zip", FetchPolicy(hosts=("*.hocvu.vn",)),
            "https://hocvu.vn.evil.example/p.zip: host hocvu.vn.evil.example is not in the allowed hosts "
            "(HOCVU_PACKAGE_FETCH_HOSTS)")
    refused("https://user:pw@cdn.hocvu.vn/p.zip", FetchPolicy(hosts=("*.hocvu.vn",)),
            "https://user:pw@cdn.hocvu.vn/p.zip: a URL with a user name or password is refused")


def test_loopback_refused_unless_allowed(site: str) -> None:
    policy = FetchPolicy(hosts=("127.0.0.1",), allow_http=True)
    refused(f"{site}/course.zip", policy,
            f"{site}/course.zip: host 127.0.0.1 resolves to 127.0.0.1, a loopback address; only public "
            "addresses are fetched")


@pytest.mark.parametrize(("address", "kind"), [
    ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:127.0.0.1", "loopback"), ("::1", "loopback"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "non-public"),
])
def test_addresses_after_resolution_refused(address: str, kind: str) -> None:
    """The check is on what the name resolves to (DNS), not on the name: cdn.hocvu.vn is allowed,
    the address it resolves to is not. Loopback stays refused here (allow_loopback is off)."""
    policy = FetchPolicy(hosts=("cdn.hocvu.vn",))
    refused("https://cdn.hocvu.vn/p.zip", policy,
            f"https://cdn.hocvu.vn/p.zip: host cdn.hocvu.vn resolves to {address}, a {kind} address; only public "
            "addresses are fetched", resolve=lambda host, port: [address])


def test_every_address_must_be_public() -> None:
    """DNS rebinding: a name answering one public and one private address is refused, and the
    connection would go to the address checked, never to a second lookup's."""
    refused("https://cdn.hocvu.vn/p.zip", FetchPolicy(hosts=("cdn.hocvu.vn",)),
            "https://cdn.hocvu.vn/p.zip: host cdn.hocvu.vn resolves to 10.0.0.7, a private address; only public "
            "addresses are fetched", resolve=lambda host, port: ["10.0.0.7", "203.0.113.9"])


def test_redirects_checked_and_capped(site: str) -> None:
    """Each redirect's Location is checked like the URL (host, then address); at most 3 are followed."""
    refused(f"{site}/elsewhere", LOCAL, "http://evil.example/x.zip: host evil.example is not in the allowed hosts "
            "(HOCVU_PACKAGE_FETCH_HOSTS)")
    metadata = FetchPolicy(hosts=("127.0.0.1", "169.254.169.254"), allow_http=True, allow_loopback=True)
    refused(f"{site}/metadata", metadata, "http://169.254.169.254/latest/meta-data/: host 169.254.169.254 "
            "resolves to 169.254.169.254, a link-local address; only public addresses are fetched")
    refused(f"{site}/loop", LOCAL, f"{site}/loop: more than 3 redirects")


def test_bytes_capped_while_streaming(site: str) -> None:
    """2.5 MiB streamed with no Content-Length against a 1 MiB cap: refused once the cap is passed;
    a declared Content-Length over the cap is refused before reading."""
    refused(f"{site}/big", LOCAL, f"{site}/big: over the 1048576-byte package limit", TooLarge)
    small = FetchPolicy(hosts=("127.0.0.1",), allow_http=True, allow_loopback=True, max_bytes=1000)
    refused(f"{site}/declared", small, f"{site}/declared: over the 1000-byte package limit", TooLarge)


def test_time_out(site: str) -> None:
    quick = FetchPolicy(hosts=("127.0.0.1",), allow_http=True, allow_loopback=True, timeout=1)
    started = time.monotonic()
    refused(f"{site}/slow", quick, f"{site}/slow: no answer within 1 seconds", FetchFailed)
    assert time.monotonic() - started < 2.5


def test_error_status_refused(site: str) -> None:
    refused(f"{site}/missing.zip", LOCAL, f"{site}/missing.zip: answered 404", FetchFailed)


def _cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HOCVU_DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}", "HOCVU_INSTANCE_DIR": str(tmp), **env}
    return subprocess.run([sys.executable, "-m", "hocvu.cli", *args], env=full, text=True, capture_output=True,
                          timeout=120)


def test_cli_import_by_url_refused_then_allowed(site: str, tmp_path: Path) -> None:
    """`hocvu courses import URL`: off without an allowlist (exact message, nothing stored), imported
    from the allowed local server once the settings allow it, with ``--assessed`` kept on the course."""
    assert _cli(tmp_path, "db", "upgrade").returncode == 0
    off = _cli(tmp_path, "courses", "import", f"{site}/course.zip")
    assert off.returncode != 0
    assert "import by URL is off: no host is allowed (HOCVU_PACKAGE_FETCH_HOSTS)" in off.stderr
    allow = {"HOCVU_PACKAGE_FETCH_HOSTS": "127.0.0.1", "HOCVU_PACKAGE_FETCH_ALLOW_HTTP": "1",
             "HOCVU_PACKAGE_FETCH_ALLOW_LOOPBACK": "1"}
    ok = _cli(tmp_path, "courses", "import", f"{site}/course.zip", "--assessed", "https://example.org/cmi5/au/1",
              **allow)
    assert ok.returncode == 0, ok.stderr
    assert "imported package/demo: 1 AU(s); assessed: https://example.org/cmi5/au/1" in ok.stdout
