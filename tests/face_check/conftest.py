"""Fixtures for the face check: the shared photos, a DEEPFACE_HOME filled by ``setup_weights``, and the
real model loaded once per session (about a second, and each check about one more)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from face_check import Embedding, FaceEngine, embed, load_models, setup_weights

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
