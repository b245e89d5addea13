"""The service: consent, embeddings sealed with the caller's key and bound to the subject, retention of
pictures only when asked, and consent withdrawal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from face_check import (
    BadParameter,
    ConsentRequired,
    Embedding,
    EmbeddingInvalid,
    FaceEngine,
    FaceService,
    NoUsableFace,
    Outcome,
    generate_key,
)
from face_check.service import open_embedding, seal_embedding

SUBJECT = "urn:hocvu:subject:7f3a"


@pytest.fixture
def key() -> bytes:
    return generate_key()


@pytest.fixture
def service(key: bytes, engine: FaceEngine) -> FaceService:
    return FaceService(key, engine=engine)


def test_enrolment_needs_explicit_consent(service: FaceService, photos: dict[str, bytes]) -> None:
    for consent in (False, "yes", 1, None):
        with pytest.raises(ConsentRequired):
            service.enrol(SUBJECT, photos["A_img1.jpg"], consent=consent)  # type: ignore[arg-type]


def test_enrol_then_verify(service: FaceService, key: bytes, photos: dict[str, bytes],
                           embeddings: dict[str, Embedding]) -> None:
    enrolment = service.enrol(SUBJECT, photos["A_img1.jpg"], consent=True)
    assert (enrolment.model, enrolment.detector) == ("Dlib", "dlib")
    assert enrolment.image is None  # pictures are not retained by default
    # The ciphertext is opaque, and opens (with the key, for this subject) to the photo's embedding.
    assert b"vector" not in enrolment.ciphertext and repr(embeddings["A_img1.jpg"].vector[0]).encode() \
        not in enrolment.ciphertext
    assert open_embedding(key, SUBJECT, enrolment.ciphertext) == embeddings["A_img1.jpg"]

    same = service.verify(SUBJECT, enrolment.ciphertext, photos["A_img5.jpg"])
    assert same.matched and same.result.outcome is Outcome.MATCH and same.image is None
    other = service.verify(SUBJECT, enrolment.ciphertext, photos["C_img9.jpg"])
    assert other.result.outcome is Outcome.NO_MATCH


def test_enrolment_refuses_a_group_photo(service: FaceService, photos: dict[str, bytes]) -> None:
    with pytest.raises(NoUsableFace) as caught:
        service.enrol(SUBJECT, photos["extra_couple.jpg"], consent=True)
    assert caught.value.outcome == "several_faces"
    with pytest.raises(NoUsableFace) as caught:
        service.enrol(SUBJECT, b"garbage", consent=True)
    assert caught.value.outcome == "unreadable"


def test_sealed_embedding_opens_only_with_its_key_and_subject(key: bytes, embeddings: dict[str, Embedding]) -> None:
    sealed = seal_embedding(key, SUBJECT, embeddings["B_img42.jpg"])
    assert sealed != seal_embedding(key, SUBJECT, embeddings["B_img42.jpg"])  # fresh nonce each time
    with pytest.raises(EmbeddingInvalid):
        open_embedding(generate_key(), SUBJECT, sealed)
    with pytest.raises(EmbeddingInvalid):
        open_embedding(key, "urn:hocvu:subject:someone-else", sealed)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(EmbeddingInvalid):
        open_embedding(key, SUBJECT, bytes(tampered))
    with pytest.raises(EmbeddingInvalid):
        open_embedding(key, SUBJECT, b"not sealed")


def test_verify_refuses_another_subjects_embedding(service: FaceService, key: bytes, photos: dict[str, bytes],
                                                   embeddings: dict[str, Embedding]) -> None:
    sealed = seal_embedding(key, "urn:hocvu:subject:other", embeddings["A_img1.jpg"])
    with pytest.raises(EmbeddingInvalid):
        service.verify(SUBJECT, sealed, photos["A_img2.jpg"])


def test_pictures_returned_only_when_retained(key: bytes, engine: FaceEngine, photos: dict[str, bytes],
                                              embeddings: dict[str, Embedding]) -> None:
    keeping = FaceService(key, engine=engine, retain=True, threshold=0.45)
    sealed = seal_embedding(key, SUBJECT, embeddings["D_img12.jpg"])
    check = keeping.verify(SUBJECT, sealed, photos["D_img53.jpg"])
    assert check.matched and check.image == photos["D_img53.jpg"] and check.result.threshold == 0.45


def test_withdrawal_receipt(service: FaceService, key: bytes, embeddings: dict[str, Embedding]) -> None:
    sealed = seal_embedding(key, SUBJECT, embeddings["C_img47.jpg"])
    receipt = service.withdraw(SUBJECT, sealed)
    assert receipt.subject == SUBJECT and receipt.opened
    assert receipt.ciphertext_sha256 == hashlib.sha256(sealed).hexdigest()
    # Deletion never depends on decrypting: a reference sealed under an old key still gets its receipt.
    stale = service.withdraw(SUBJECT, seal_embedding(generate_key(), SUBJECT, embeddings["C_img47.jpg"]))
    assert not stale.opened


def test_bad_key_or_parameters_refused(engine: FaceEngine, tmp_path: Path) -> None:
    for key in (b"", b"short", "a" * 32):
        with pytest.raises(BadParameter):
            FaceService(key, engine=engine)  # type: ignore[arg-type]
    with pytest.raises(BadParameter):
        FaceService(generate_key(), engine=engine, metric="hamming")
    with pytest.raises(BadParameter):
        FaceService(generate_key(), engine=engine, threshold=-1)
