"""Cutting a real browser's network, the service worker's included.

CDP ``Network.emulateNetworkConditions`` sent through Selenium reaches only the page's target: the
page's own requests fail, but a service worker is a target of its own and would still fetch. So the
same command is also sent to every service worker target, over Chromium's DevTools endpoint (its
``debuggerAddress``, on loopback), and that DevTools session is kept open while the cut lasts.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import websocket


def _conditions(offline: bool) -> dict[str, Any]:
    return {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def _send(ws: Any, ident: int, method: str, params: dict[str, Any]) -> None:
    ws.send(json.dumps({"id": ident, "method": method, "params": params}))
    while True:   # the answer to this command (events may come first)
        message = json.loads(ws.recv())
        if message.get("id") == ident:
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return


def worker_sessions(browser: Any) -> list[Any]:
    address = browser.capabilities["goog:chromeOptions"]["debuggerAddress"]
    with urllib.request.urlopen(f"http://{address}/json/list", timeout=10) as answer:
        targets = json.load(answer)
    return [websocket.create_connection(t["webSocketDebuggerUrl"], timeout=10, suppress_origin=True) for t in targets
            if t.get("type") == "service_worker" and t.get("webSocketDebuggerUrl")]


@contextmanager
def offline(browser: Any) -> Iterator[None]:
    """The page and its service workers offline within the block, online again after it."""
    workers = worker_sessions(browser)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", _conditions(True))
    for ws in workers:
        _send(ws, 1, "Network.enable", {})
        _send(ws, 2, "Network.emulateNetworkConditions", _conditions(True))
    try:
        yield
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", _conditions(False))
        for ws in workers:
            try:
                _send(ws, 3, "Network.emulateNetworkConditions", _conditions(False))
            finally:
                ws.close()
