"""LTI launch benchmark: the server time of ``POST /lti/launch`` on ``make run``'s server (gunicorn, 2
workers × 4 threads, no Redis), with the platform's keys cached and, beside it, with the key cache
off (every launch fetches the platform's JWKS, as before issue 11).

    make bench-lti                                   # SQLite, and PostgreSQL when 127.0.0.1:5432 answers
    BENCH_LTI_LAUNCHES=1000 BENCH_BACKENDS=postgresql make bench-lti

The LMS is the spec-written test platform (tests/lti/lti_platform.py) on loopback; each launch goes
through login initiation, the platform's authorization endpoint and the id_token POST, every request
on a new TCP connection. Server time is gunicorn's own measure of the request (access log %(D)s),
so client and platform time are left out. Targets (2 cores): cached p50 ≤ 15 ms, p95 ≤ 40 ms.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.databases import scratch_databases
from tests.lti.lti_platform import Platform
from tests.lti.served import HttpBrowser, ServedHub, register, serve_hub, spec_login_url

LAUNCHES = int(os.environ.get("BENCH_LTI_LAUNCHES", "300"))
CLIENTS = int(os.environ.get("BENCH_LTI_CLIENTS", "2"))
WARMUP = 20
TARGET = "course/ky-nang-so-vneid/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def run_launches(hub: ServedHub, platform: Platform, count: int) -> tuple[int, float]:
    """``count`` launches by CLIENTS browsers at once; (how many succeeded, wall seconds)."""
    client = platform.add_client(hub.url)
    register(hub.db_url, platform.issuer, client.client_id, client.deployment_id, auth_url=platform.auth_url,
             token_url=platform.token_url, jwks_url=platform.jwks_url)

    def one(i: int) -> int:
        user = f"learner-{i}"
        hint = platform.resource_link(client, user=user, target=TARGET, context_id=f"ctx-{i % 10}")
        return HttpBrowser().launch(spec_login_url(hub.url, platform, client, hint, user)).response.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(one, range(count)))
    return statuses.count(303), time.perf_counter() - started


def measure(label: str, url: str, platform: Platform, **env: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = serve_hub(Path(tmp), url, access_log=True, **env)
        try:
            ok, wall = run_launches(hub, platform, LAUNCHES + WARMUP)
            time.sleep(0.5)   # the access log is written after each response
            times = [ms for method, path, status, ms, _ in hub.access()
                     if method == "POST" and path == "/lti/launch" and status == 303][WARMUP:]
        finally:
            hub.stop()
    figures = {"ok": ok, "n": len(times), "p50": pct(times, 50), "p95": pct(times, 95), "p99": pct(times, 99),
               "rate": (LAUNCHES + WARMUP) / wall}
    print(f"  {label:<26} {figures['ok']:>5.0f}/{LAUNCHES + WARMUP} ok   server p50 {figures['p50']:6.1f} ms   "
          f"p95 {figures['p95']:6.1f} ms   p99 {figures['p99']:6.1f} ms   ({figures['rate']:.0f} launches/s)")
    return figures


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # the platform's request log
    platform = Platform()
    print(f"LTI launch, {LAUNCHES} launches (+{WARMUP} warm-up) by {CLIENTS} browsers, "
          f"gunicorn 2 workers × 4 threads, new connection per request; {load()}")
    try:
        for name, url in scratch_databases("lti"):
            print(f"\n== {name}")
            cached = measure("platform keys cached", url, platform)
            measure("platform keys not cached", url, platform, HOCVU_LTI_JWKS_MIN_AGE="0",
                    HOCVU_LTI_JWKS_MAX_AGE="0")
            verdict = "met" if cached["p50"] <= 15 and cached["p95"] <= 40 else "NOT met"
            print(f"  target (cached) p50 ≤ 15 ms, p95 ≤ 40 ms: {verdict}; {load()}")
    finally:
        platform.close()


if __name__ == "__main__":
    main()
