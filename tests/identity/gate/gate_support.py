"""Shared by the identity-assurance player tests (tests/lti/test_player_identity*.py): the real app
with the built-in demo VNeID provider, served on loopback for the hub's back channel (discovery,
token, JWKS), a real FaceService (Dlib model from ``hocvu face setup``'s packaged weights) and the
photos of ../shared/faces; a learner's browser (the Flask test client) that signs in, links,
enrols and checks through the real pages; and a reader for the statements with their signatures.

Enrolment and checks are camera bursts answering the server's liveness challenge (issue 12): the
learner asks for a challenge, and the burst is rendered for it from a photo
(``tests.face_check.synthetic``: the head turned, nodded, blinking in the challenge's slots). A
photo's name gives a genuine burst of it; bytes give that picture held still through the burst (a
cheat, or no face); a callable makes any burst for the challenge. ``fixed_challenges`` makes the
server draw the same steps every time (fresh nonce, fresh time), so bursts are rendered once.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from face_check import generate_key, setup_weights
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from identity.claims import subject_hmac
from identity.gate.face import AssuranceConfig
from identity.gate.http import configure
from identity.settings import IdentitySettings
from identity.signing import SigningMaterial
from identity.stamp import STAMP_IRI
from identity.storage import AttemptAssurance
from lrs.comparison import SIGNATURE_USAGE_TYPE
from lrs.storage import Database
from lti_tool.launch_context import LaunchContext
from player.domain import registration_for
from tests.conftest import Xapi
from tests.player.player_support import CSRF, answers, form, open_player

# Photos whose synthetic renders pass the challenge (the head-pose renders of some photos drift in
# identity when turned: see tests/face_check/test_liveness_bursts.py).
CHALLENGE_SEED = 5
FACES = Path(__file__).resolve().parents[3].parent / "shared" / "faces"
PEPPER = b"player-identity-test-pepper-0123456789"
CALLBACK = "http://localhost/identity/callback"  # the Flask test client's default host
ISSUER = "https://lms.moha.example.vn"
# The shipped course whose quiz requires VNeID level 2 and a face check, rechecked every 3-7 minutes.
QUIZ = "course/tro-ly-ai-hanh-chinh/module/tra-cuu-va-phuc-vu-nguoi-dan/quiz/kiem-tra"
ENROLLED = "demo-0001"  # level 2, enrolled once per session with a burst of A_img2 (person A)
FACE_CHECKED_VERB = "https://hocvu.vn/xapi/verbs/checked-identity"


@dataclass
class IdentityEnv:
    app: Flask
    base: str
    cfg: AssuranceConfig
    instance_dir: Path
    photos: dict[str, bytes]
    enrolled: set[str] = field(default_factory=set)
    new_challenge: Callable[..., Any] | None = None   # the server's own random drawer (fix_challenges)

    @property
    def db(self) -> Database:
        db: Database = self.app.extensions["hocvu.db"]
        return db

    @property
    def material(self) -> SigningMaterial:
        return self.cfg.material()

    def learner(self, target: str = QUIZ, tenant: str | None = None) -> Learner:
        """A new LMS learner, in a new tenant or in ``tenant`` (a slug)."""
        launch, client, xapi = open_player(self.app, target, issuer=ISSUER, tenant_slug=tenant)
        return Learner(self, launch, client, xapi)

    def tenant_of(self, learner: Learner) -> str:
        from lrs.storage import Tenant

        with self.db.session() as s:
            tenant = s.get(Tenant, learner.launch.tenant_id)
            assert tenant is not None
            return str(tenant.slug)


def account_key(env: IdentityEnv, citizen: str) -> str:
    """The ``identity_accounts.subject_hmac`` of a demo citizen (the hub keeps no clear ``sub``)."""
    return subject_hmac(PEPPER, env.base + "/demo-vneid", citizen)


def build_identity_env(tmp: Path, *, url: str | None = None,
                       identity: Callable[[str, Path], IdentitySettings] | None = None) -> tuple[IdentityEnv, Any]:
    """The app on ``url`` (default: a SQLite file in ``tmp``), served on loopback, with ``identity``'s
    settings for (base URL, instance folder) (default: the demo provider) and a real face service."""
    if not (FACES / "pairs.csv").is_file():
        pytest.skip(f"face test photos not found at {FACES} (shared/faces beside the repository)")
    home = tmp / "deepface"
    setup_weights(home)
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{server.port}"
    url = url or f"sqlite:///{tmp / 'hocvu.db'}"
    database = Database(url)
    dbops.upgrade(database)
    instance = tmp / "instance"
    settings = identity(base, instance) if identity is not None else IdentitySettings.demo(
        base, "test-secret", instance, redirect_uri=CALLBACK, pepper=PEPPER)
    app = create_app(Settings.of(instance_dir=instance,
                                 database_url=url, secret_key="test-secret", public_url=base), db=database,
                     identity=settings)
    holder["app"] = app
    cfg = AssuranceConfig(face_key=generate_key(), pepper=settings.pepper, instance_dir=instance, face_home=home)
    configure(app, cfg)
    cfg.material()  # the hub's key made now, not during a test that watches the instance folder
    cfg.face()      # the model loaded once (about a second)
    photos = {p.name: p.read_bytes() for p in sorted(FACES.glob("*.jpg"))}
    return IdentityEnv(app, base, cfg, instance, photos), server


@dataclass
class Learner:
    """One learner: an LMS launch in a browser (the test client), signing in with the demo VNeID."""

    env: IdentityEnv
    launch: LaunchContext
    client: FlaskClient
    xapi: Xapi

    def sign_in(self, citizen: str) -> None:
        start = self.client.get("/identity/login", query_string={"next": "/player/identity/signed-in"})
        assert start.status_code == 302, start.get_data(as_text=True)
        picked = self.client.post(start.headers["Location"], data={"citizen": citizen})
        assert picked.status_code == 302, picked.get_data(as_text=True)
        done = self.client.get(picked.headers["Location"])
        assert done.status_code == 303 and done.headers["Location"].endswith("/player/identity/signed-in"), \
            done.get_data(as_text=True)

    def gate(self, target: str = QUIZ, **params: str) -> TestResponse:
        return self.client.get("/player/identity/gate", query_string={"target": target, **params})

    def bind(self, target: str = QUIZ) -> TestResponse:
        return self.client.post("/player/identity/bind", data={"csrf": CSRF, "target": target})

    def challenge(self, purpose: str = "check", target: str = QUIZ, url: str | None = None) -> TestResponse:
        """Ask the server for a liveness challenge (the gate's, or ``url``'s: a recheck's)."""
        if url is not None:
            return self.client.post(url, data={"csrf": CSRF})
        return self.client.post("/player/identity/challenge", data={"csrf": CSRF, "target": target,
                                                                    "purpose": purpose})

    def burst_for(self, capture: Capture, challenge: dict[str, Any], seed: int = 1) -> list[tuple[int, bytes]]:
        return burst_for(self.env, capture, challenge, seed)

    def post_burst(self, url: str, frames: list[tuple[int, bytes]], nonce: str, *, js: bool = False,
                   **fields: Any) -> TestResponse:
        data: dict[str, Any] = {"csrf": CSRF, "nonce": nonce, "times": ",".join(str(t) for t, _ in frames),
                                "frame": [(io.BytesIO(b), f"{t}.jpg") for t, b in frames], **fields}
        headers = {"Accept": "application/json"} if js else {}
        return self.client.post(url, data=data, content_type="multipart/form-data", headers=headers)

    def _answer(self, url: str, asked: TestResponse, capture: Capture, *, js: bool, seed: int = 1,
                **fields: Any) -> TestResponse:
        if asked.status_code != 200:
            return asked
        challenge = asked.get_json()
        return self.post_burst(url, self.burst_for(capture, challenge, seed), challenge["nonce"], js=js, **fields)

    def enrol(self, photo: Capture, target: str = QUIZ, *, consent: bool = True, js: bool = False) -> TestResponse:
        """Enrol with a burst made from ``photo`` for a fresh challenge."""
        fields: dict[str, Any] = {"target": target}
        if consent:
            fields["consent"] = "yes"
        # Rendered with other noise than the checks' bursts (seed 0): enrolment and check differ like two captures.
        return self._answer("/player/identity/enrol", self.challenge("enrol", target), photo, js=js, seed=0, **fields)

    def check(self, photo: Capture, target: str = QUIZ, *, js: bool = False) -> TestResponse:
        """The check before the attempt, a burst made from ``photo`` for a fresh challenge."""
        return self._answer("/player/identity/check", self.challenge("check", target), photo, js=js, target=target)

    def recheck(self, photo: Capture, target: str = QUIZ, *, js: bool = True) -> TestResponse:
        """A repeated check during the attempt, a burst made from ``photo`` for a fresh challenge."""
        asked = self.challenge(url=f"/player/identity/challenge/{target}")
        return self._answer(f"/player/identity/recheck/{target}", asked, photo, js=js)

    def upload(self, endpoint: str, photo: str | bytes, target: str = QUIZ, *, js: bool = False,
               **fields: Any) -> TestResponse:
        """A single photo sent where a burst is expected (only the fallback accepts it)."""
        body = self.env.photos[photo] if isinstance(photo, str) else photo
        data = {"csrf": CSRF, "target": target, "photo": (io.BytesIO(body), "frame.jpg"), **fields}
        headers = {"Accept": "application/json"} if js else {}
        return self.client.post(endpoint, data=data, content_type="multipart/form-data", headers=headers)

    def ready(self, citizen: str = ENROLLED, target: str = QUIZ) -> None:
        """Signed in and linked (the session's account is enrolled already)."""
        self.sign_in(citizen)
        assert self.bind(target).status_code == 303

    def start(self, target: str = QUIZ) -> TestResponse:
        return self.client.post(f"/player/start/{target}", data={"csrf": CSRF})

    def answer(self, question: str, choices: list[str], target: str = QUIZ) -> TestResponse:
        return self.client.post(f"/player/answer/{target}", json={"csrf": CSRF, "question": question,
                                                                  "choices": choices})

    def submit(self, target: str = QUIZ, wrong: int = 0) -> TestResponse:
        return self.client.post(f"/player/submit/{target}", data=form(answers(target, wrong=wrong)))

    def assurance(self) -> list[AttemptAssurance]:
        with self.env.db.session() as s:
            return list(s.scalars(select(AttemptAssurance).where(
                AttemptAssurance.registration == registration_for(self.launch)).order_by(AttemptAssurance.id)))

    def statements(self) -> list[tuple[dict[str, Any], bytes | None]]:
        """Every statement of this learner's registration (oldest first) with its signature's JWS."""
        return signed_statements(self.xapi, registration_for(self.launch))


def signed_statements(xapi: Xapi, registration: str) -> list[tuple[dict[str, Any], bytes | None]]:
    """Every statement of ``registration`` in ``xapi``'s tenant (oldest first) with its signature's JWS."""
    res = xapi.get("statements", registration=registration, ascending="true", attachments="true")
    assert res.status_code == 200, res.get_data(as_text=True)
    content_type = res.headers["Content-Type"]
    if content_type.startswith("application/json"):
        return [(st, None) for st in res.get_json()["statements"]]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + res.get_data())
    first, *rest = list(message.iter_parts())
    parts = {p["X-Experience-API-Hash"]: p.get_payload(decode=True) for p in rest}
    out = []
    for st in json.loads(first.get_payload(decode=True))["statements"]:
        sig = next((a for a in st.get("attachments", []) if a["usageType"] == SIGNATURE_USAGE_TYPE), None)
        token = parts[sig["sha2"]] if sig else None
        if token is not None:
            assert hashlib.sha256(token).hexdigest() == sig["sha2"]
        out.append((st, token))
    return out


def jwcrypto_payload(token: bytes, cert_pem: bytes) -> dict[str, Any]:
    """An independent JWS library (jwcrypto), given nothing but the hub's certificate (never the
    x5c the JWS carries)."""
    pem = x509.load_pem_x509_certificate(cert_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    checked = jwcrypto_jws.JWS()
    checked.deserialize(token.decode(), jwcrypto_jwk.JWK.from_pem(pem), alg="RS256")
    payload: dict[str, Any] = json.loads(checked.payload)
    return payload


def stamp(statement: dict[str, Any]) -> dict[str, Any] | None:
    value = statement.get("context", {}).get("extensions", {}).get(STAMP_IRI)
    return value if isinstance(value, dict) else None


# --- bursts -----------------------------------------------------------------------------------------

Capture = str | bytes | Callable[[Any], list[tuple[int, bytes]]]
_SCENES: dict[str, Any] = {}
_BURSTS: dict[tuple[str, int, tuple[tuple[str, int, int], ...]], list[tuple[int, bytes]]] = {}


def challenge_of(doc: dict[str, Any]) -> Any:
    """The server's challenge as face_check's object (the browser's JSON has no issue time: any will do
    for rendering)."""
    from datetime import UTC, datetime, timedelta

    from face_check.challenge import Action, Challenge, Step

    now = datetime.now(UTC)
    steps = tuple(Step(Action(s["action"]), int(s["at_ms"]), int(s["within_ms"])) for s in doc["steps"])
    return Challenge(doc["nonce"], now, now + timedelta(minutes=2), steps)


def burst_for(env: IdentityEnv, capture: Capture, doc: dict[str, Any], seed: int = 1) -> list[tuple[int, bytes]]:
    """Frames answering the challenge ``doc`` (see the module docstring)."""
    from tests.face_check.synthetic import Scene, burst, decode, perform, place, still

    challenge = challenge_of(doc)
    if callable(capture):
        return capture(challenge)
    if isinstance(capture, bytes):
        return still(place(decode(capture)) if _decodes(capture) else _grey(), challenge)
    key = (capture, seed, tuple((s.action.value, s.at_ms, s.within_ms) for s in challenge.steps))
    if key not in _BURSTS:
        if capture not in _SCENES:
            _SCENES[capture] = Scene.from_photo(env.photos[capture])
        _BURSTS[key] = burst(_SCENES[capture], challenge, perform(challenge), seed=seed)
    return _BURSTS[key]


def _decodes(data: bytes) -> bool:
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None


def _grey() -> Any:
    import numpy as np

    return np.full((480, 640, 3), 128, np.uint8)


def fix_challenges(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """The server draws the same steps for every challenge (seed ``CHALLENGE_SEED``), with a fresh
    nonce and issue time each: the bursts are rendered once per photo. Returns the real drawer
    (for the tests that want the server's random challenges: monkeypatch it back)."""
    import dataclasses
    import random
    import secrets

    import face_check.challenge as fc

    original: Callable[..., Any] = fc.new_challenge

    def seeded(rng: Any = None, *, now: Any = None, **kw: Any) -> Any:
        made = original(random.Random(CHALLENGE_SEED), now=now, **kw)
        return dataclasses.replace(made, nonce=secrets.token_hex(16))

    monkeypatch.setattr(fc, "new_challenge", seeded)
    return original


def answer_challenge(client: FlaskClient, env: IdentityEnv, capture: Capture, *, challenge_url: str,
                     asked: dict[str, Any], url: str, data: dict[str, Any],
                     headers: dict[str, str] | None = None) -> TestResponse:
    """What identity.js does with any client: ask ``challenge_url`` for a challenge (form ``asked``), then
    post a burst made from ``capture`` for it to ``url`` with the form ``data``."""
    got = client.post(challenge_url, data=asked)
    assert got.status_code == 200, got.get_data(as_text=True)[:300]
    doc = got.get_json()
    frames = burst_for(env, capture, doc)
    body = {**data, "nonce": doc["nonce"], "times": ",".join(str(t) for t, _ in frames),
            "frame": [(io.BytesIO(b), f"{t}.jpg") for t, b in frames]}
    return client.post(url, data=body, content_type="multipart/form-data", headers=headers or {})
