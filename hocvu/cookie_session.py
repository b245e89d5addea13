"""Flask's signed-cookie sessions, without their cost on the requests that carry no cookie.

Most of the hub's requests are machine calls: an LMS posting statements with HTTP Basic, a platform
fetching keys, a probe. Flask opens a session for each of them: it builds an itsdangerous signer
from the secret key and parses the Cookie header, 22.5 µs a request against 3.6 µs with the
shortcuts below (a micro-benchmark; ≈ 0.7 % of a single-statement POST's CPU, docs/scale.md).
With no Cookie header the answer is known without either: an empty session, as Flask's own
``open_session`` gives when the cookie is absent. The signer depends only on the keys, so it is
made once per set of keys. Everything else is Flask's.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CookieSessionInterface(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` with the two shortcuts above; same cookies, same answers."""

    def __init__(self) -> None:
        self._signer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # The keys are read each time: a key rotated in the config (SECRET_KEY_FALLBACKS) is used
        # at once, as with Flask's own interface.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._signer  # one read: a worker's threads may replace it meanwhile
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._signer = cached
        return cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "HTTP_COOKIE" not in request.environ:
            # Flask's answers without a cookie: no session at all without a secret key (a null
            # session follows), else an empty one.
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)
