"""Fixtures for the face check: the shared photos, a DEEPFACE_HOME filled by ``setup_weights``, and the
real model loaded once per session (about a second, and each check about one more)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from face_check import Challenge, Embedding, FaceEngine, embed, load_models, new_challenge, setup_weights

# shared/ sits beside the repository (CI runs in a fresh clone with shared/ next to it).
FACES = Path(__file__).resolve().parents[2].parent / "shared" / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "pairs.csv").is_file():
        pytest.skip(f"face test photos not found at {FACES} (shared/faces beside the repository)")
    return FACES


@pytest.fixture(scope="session")
def photos(faces_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(faces_dir.glob("*.jpg"))}


@pytest.fixture(scope="session")
def deepface_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("deepface")
    setup_weights(home)
    return home


@pytest.fixture(scope="session")
def engine(deepface_home: Path) -> FaceEngine:
    return load_models(deepface_home)


@pytest.fixture(scope="session")
def embeddings(engine: FaceEngine, photos: dict[str, bytes]) -> dict[str, Embedding]:
    """The embedding of every single-person photo, computed once for all pair tests."""
    return {name: embed(data, engine=engine) for name, data in photos.items() if not name.startswith("extra_")}


@pytest.fixture(scope="session")
def full_scan_embeddings(engine: FaceEngine, photos: dict[str, bytes]) -> dict[str, Embedding]:
    """The same embeddings made the way they were before ``FastDetector``: dlib scanning every level."""
    with engine.full_scan():
        return {name: embed(data, engine=engine) for name, data in photos.items() if not name.startswith("extra_")}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every attempt to reach the network (DNS or connect) is recorded and fails."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts


# The aligned pipeline and liveness (issue 12) --------------------------------------------------------

# Each person's first photo is the enrolment; the burst is made from another photo of theirs.
ENROLMENT = {"A": "A_img1.jpg", "B": "B_img26.jpg", "C": "C_img8.jpg", "D": "D_img3.jpg"}
LIVE_PHOTO = {"A": "A_img2.jpg", "B": "B_img42.jpg", "C": "C_img9.jpg", "D": "D_img53.jpg"}
ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def aligned(photos: dict[str, bytes]) -> dict[str, Embedding]:
    """The aligned embedding of every single-person photo."""
    from face_check.alignment import embed_aligned

    return {name: embed_aligned(data) for name, data in photos.items() if not name.startswith("extra_")}


@pytest.fixture(scope="session")
def references(aligned: dict[str, Embedding]) -> dict[str, Embedding]:
    """Each person's enrolment (aligned embedding of their first photo), by person letter."""
    return {person: aligned[name] for person, name in ENROLMENT.items()}


class Bursts:
    """Synthetic bursts, rendered once per session and shared by the liveness tests (about 3 s each)."""

    def __init__(self, photos: dict[str, bytes]) -> None:
        self.photos = photos
        self._scenes: dict[str, Any] = {}
        self._cache: dict[tuple[Any, ...], list[tuple[int, bytes]]] = {}

    def scene(self, name: str) -> Any:
        from tests.face_check.synthetic import Scene

        if name not in self._scenes:
            self._scenes[name] = Scene.from_photo(self.photos[name])
        return self._scenes[name]

    def challenge(self, seed: int) -> Challenge:
        return new_challenge(random.Random(seed), now=ISSUED)

    def genuine(self, name: str, seed: int, order: tuple[str, ...] | None = None) -> list[tuple[int, bytes]]:
        from face_check import Action
        from tests.face_check.synthetic import burst, perform

        key = ("genuine", name, seed, order)
        if key not in self._cache:
            challenge = self.challenge(seed)
            script = perform(challenge, [Action(a) for a in order] if order else None)
            self._cache[key] = burst(self.scene(name), challenge, script, seed=seed)
        return self._cache[key]


@pytest.fixture(scope="session")
def bursts(photos: dict[str, bytes]) -> Bursts:
    return Bursts(photos)
