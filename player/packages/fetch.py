"""Fetching a package named by URL without opening a server-side request forgery (SSRF) hole.

``hocvu courses import URL``, the admin API and the admin page make the hub itself request a URL an
administrator typed. Without limits that URL can reach what only the hub can: the cloud metadata
service (169.254.169.254), the database, Redis, an intranet admin page. So (OWASP SSRF Prevention
Cheat Sheet, "allowlist" and "DNS pinning"):

- the scheme is https (http only where ``allow_http`` is set: tests and local development);
- the URL carries no user name or password, and its host is in the allowlist
  (HOCVU_PACKAGE_FETCH_HOSTS: exact host names, or ``*.example.vn`` for any name under one);
  an empty allowlist turns import by URL off;
- the host is resolved once and *every* address it resolves to must be public: loopback, private
  (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), multicast, reserved, unspecified and
  other non-global ranges (100.64/10, documentation, ...) are refused, and IPv4-mapped IPv6 addresses
  are judged as the IPv4 address they carry. The connection then goes to that checked address
  (urllib3 with the host name kept for SNI, the certificate check and ``Host``), so a second DNS
  answer (DNS rebinding) cannot move it elsewhere;
- redirects are not followed blindly: each Location is checked like the first URL, at most
  ``max_redirects`` of them;
- the body is read in chunks and refused past ``max_bytes`` (a Content-Length over it is refused
  before reading), and the whole fetch has one deadline (``timeout`` seconds) besides the socket
  time-outs.

Each refusal is ``UrlRefused`` (400) or ``FetchFailed`` (502) / ``TooLarge`` (413) with an exact message.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import urllib3

from player.packages.errors import FetchFailed, PackageError, TooLarge

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
CHUNK: Final = 64 * 1024
Resolver = Callable[[str, int], list[str]]


class UrlRefused(PackageError):
    """A URL the hub will not fetch (scheme, host, address or redirects)."""

    status, code = 400, "package_url_refused"


@dataclass(frozen=True)
class FetchPolicy:
    hosts: tuple[str, ...] = ()          # the allowlist (empty: import by URL is off)
    allow_http: bool = False             # tests, local development
    allow_loopback: bool = False         # tests: a server on 127.0.0.1 (never in production)
    max_bytes: int = 512 * 1024 * 1024
    max_redirects: int = 3
    timeout: float = 30.0


def host_allowed(host: str, hosts: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for entry in hosts:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and host.endswith(entry[1:]) and len(host) > len(entry) - 1:
            return True
        if host == entry:
            return True
    return False


def address_kind(ip: str) -> str | None:
    """Why ``ip`` may not be fetched (its range's name), or None for a public address."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    # Most specific first: Python counts reserved, unspecified and documentation ranges as private too.
    for kind, test in (("loopback", addr.is_loopback), ("link-local", addr.is_link_local),
                       ("multicast", addr.is_multicast), ("unspecified", addr.is_unspecified),
                       ("reserved", addr.is_reserved), ("private", addr.is_private)):
        if test:
            return kind
    return None if addr.is_global else "non-public"


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def check_url(url: str, policy: FetchPolicy, resolve: Resolver = system_resolver) -> tuple[str, int, str]:
    """(host, port, the address to connect to) for ``url`` under ``policy``; ``UrlRefused`` else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(f"{url}: not a valid URL") from None
    if not policy.hosts:
        raise UrlRefused("import by URL is off: no host is allowed (HOCVU_PACKAGE_FETCH_HOSTS)")
    if parts.scheme != "https" and not (parts.scheme == "http" and policy.allow_http):
        raise UrlRefused(f"{url}: only https URLs can be imported")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(f"{url}: a URL with a user name or password is refused")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused(f"{url}: no host")
    if not host_allowed(host, policy.hosts):
        raise UrlRefused(f"{url}: host {host} is not in the allowed hosts (HOCVU_PACKAGE_FETCH_HOSTS)")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise FetchFailed(f"{url}: host {host} does not resolve") from None
    if not addresses:
        raise FetchFailed(f"{url}: host {host} does not resolve")
    for ip in addresses:
        kind = address_kind(ip)
        if kind is not None and not (kind == "loopback" and policy.allow_loopback):
            raise UrlRefused(f"{url}: host {host} resolves to {ip}, a {kind} address; only public addresses "
                             "are fetched")
    return host, port, addresses[0]


def fetch(url: str, policy: FetchPolicy, resolve: Resolver = system_resolver) -> bytes:
    """The body at ``url`` (200 only), under every check of the module's docstring."""
    deadline = time.monotonic() + policy.timeout
    current = url
    for _hop in range(policy.max_redirects + 1):
        host, port, ip = check_url(current, policy, resolve)
        response = _get(current, host, port, ip, policy, deadline)
        try:
            if response.status in REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchFailed(f"{current}: answered {response.status} with no Location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise FetchFailed(f"{current}: answered {response.status}")
            return _read(current, response, policy, deadline)
        finally:
            response.release_conn()
    raise UrlRefused(f"{url}: more than {policy.max_redirects} redirects")


def _get(url: str, host: str, port: int, ip: str, policy: FetchPolicy, deadline: float) -> urllib3.BaseHTTPResponse:
    parts = urlsplit(url)
    left = max(0.1, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(left, policy.timeout), read=min(left, policy.timeout))
    # Connect to the checked address; the name stays the TLS server name and the certificate's.
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(ip, port, timeout=timeout, retries=False, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(ip, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    headers = {"Host": host if port == default else f"{host}:{port}", "Accept-Encoding": "identity",
               "User-Agent": "hocvu-package-import"}
    try:
        return pool.urlopen("GET", path, headers=headers, redirect=False, preload_content=False, retries=False)
    except urllib3.exceptions.TimeoutError:
        raise FetchFailed(f"{url}: no answer within {policy.timeout:g} seconds") from None
    except urllib3.exceptions.HTTPError as err:
        raise FetchFailed(f"{url}: {err}") from None


def _read(url: str, response: urllib3.BaseHTTPResponse, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise TooLarge(f"{url}: over the {policy.max_bytes}-byte package limit")
    chunks: list[bytes] = []
    got = 0
    try:
        for chunk in response.stream(CHUNK, decode_content=False):
            got += len(chunk)
            if got > policy.max_bytes:
                raise TooLarge(f"{url}: over the {policy.max_bytes}-byte package limit")
            if time.monotonic() > deadline:
                raise FetchFailed(f"{url}: no answer within {policy.timeout:g} seconds")
            chunks.append(chunk)
    except urllib3.exceptions.TimeoutError:
        raise FetchFailed(f"{url}: no answer within {policy.timeout:g} seconds") from None
    except urllib3.exceptions.HTTPError as err:
        raise FetchFailed(f"{url}: {err}") from None
    return b"".join(chunks)
