"""hocvu.cookie_session: Flask's signed-cookie sessions with a shortcut for requests that carry no
cookie. Each test checks an answer Flask's own interface gives, on a real Flask app and its test
client (cookies kept between requests), and on the hub itself."""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from hocvu.cookie_session import CookieSessionInterface


def _app(secret: str | None = "first key") -> Flask:
    app = Flask(__name__)
    app.secret_key = secret
    app.session_interface = CookieSessionInterface()

    @app.post("/set/<value>")
    def _set(value: str) -> str:
        session["value"] = value
        return "ok"

    @app.get("/get")
    def _get() -> str:
        return str(session.get("value", "-"))

    return app


def test_a_session_written_is_read_back_with_its_cookie() -> None:
    client = _app().test_client()
    assert client.post("/set/hello").status_code == 200
    assert client.get_cookie("session") is not None
    assert client.get("/get").text == "hello"


def test_no_cookie_is_an_empty_session_and_sets_no_cookie() -> None:
    client = _app().test_client()
    res = client.get("/get")
    assert res.text == "-"
    assert "Set-Cookie" not in res.headers  # an untouched empty session writes nothing, as Flask's


def test_other_cookies_without_the_session_cookie_are_an_empty_session() -> None:
    client = _app().test_client()
    client.set_cookie("lang", "vi")
    assert client.get("/get").text == "-"


def test_a_tampered_cookie_is_an_empty_session() -> None:
    client = _app().test_client()
    client.post("/set/hello")
    cookie = client.get_cookie("session")
    assert cookie is not None
    client.set_cookie("session", cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB"))
    assert client.get("/get").text == "-"


def test_a_cookie_signed_by_another_key_is_refused() -> None:
    writer = _app("first key").test_client()
    writer.post("/set/hello")
    cookie = writer.get_cookie("session")
    assert cookie is not None
    reader = _app("second key").test_client()
    reader.set_cookie("session", cookie.value)
    assert reader.get("/get").text == "-"


def test_a_rotated_key_reads_cookies_of_the_fallback_key_at_once() -> None:
    """The signer is kept per set of keys: rotating the key in the config takes effect on the next
    request, with the old key still verifying through SECRET_KEY_FALLBACKS (Flask ≥ 3.1)."""
    app = _app("first key")
    client = app.test_client()
    client.post("/set/hello")
    assert client.get("/get").text == "hello"
    app.secret_key = "second key"
    assert client.get("/get").text == "-"  # the old cookie no longer verifies
    app.config["SECRET_KEY_FALLBACKS"] = ["first key"]
    assert client.get("/get").text == "hello"


def test_without_a_secret_key_the_session_is_null_as_with_flask() -> None:
    ours, flask_own = _app(None), _app(None)
    flask_own.session_interface = SecureCookieSessionInterface()
    for app in (ours, flask_own):
        client = app.test_client()
        assert client.get("/get").text == "-"  # reading a null session is allowed
        res = client.post("/set/x")  # writing one is Flask's error: no secret key
        assert res.status_code == 500


class _Counting(CookieSessionInterface):
    asked = 0

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        self.asked += 1
        return super().get_signing_serializer(app)


def test_a_request_without_cookies_needs_no_signer() -> None:
    app = _app()
    counting = app.session_interface = _Counting()
    client = app.test_client()
    client.get("/get")
    assert counting.asked == 0
    client.post("/set/hello")  # saving asks for it; the next read, with the cookie, too
    assert client.get("/get").text == "hello"
    assert counting.asked >= 2


def test_the_hub_uses_it(sqlite_only_app: Flask) -> None:
    assert isinstance(sqlite_only_app.session_interface, CookieSessionInterface)
