"""The service's burst API (issue 12): enrolment seals an aligned reference only for a live burst, with
the learner's consent; verification opens it for the same subject only; the single-picture fallback
checks against the same reference with the grey band; pictures come back only when retained."""

from __future__ import annotations

from datetime import timedelta

import pytest

from face_check import (
    ALIGNED_MODEL,
    BurstEnrolment,
    ConsentRequired,
    EmbeddingInvalid,
    FaceEngine,
    FaceService,
    Outcome,
    Reason,
    generate_key,
)
from face_check.service import open_embedding
from tests.face_check.conftest import ISSUED, LIVE_PHOTO, Bursts
from tests.face_check.synthetic import decode, place, still

SUBJECT = "urn:hocvu:subject:7f3a"
NOW = ISSUED + timedelta(seconds=30)


@pytest.fixture(scope="module")
def key() -> bytes:
    return generate_key()


@pytest.fixture(scope="module")
def enrolled(key: bytes, bursts: Bursts) -> BurstEnrolment:
    return FaceService(key).enrol_burst(SUBJECT, bursts.challenge(2), bursts.genuine(LIVE_PHOTO["C"], 2),
                                        consent=True, now=NOW)


def test_enrolment_needs_explicit_consent(key: bytes, bursts: Bursts) -> None:
    for consent in (False, "yes", None):
        with pytest.raises(ConsentRequired):
            FaceService(key).enrol_burst(SUBJECT, bursts.challenge(2), [], consent=consent,  # type: ignore[arg-type]
                                         now=NOW)


def test_a_live_burst_is_enrolled_as_an_aligned_reference(key: bytes, enrolled: BurstEnrolment) -> None:
    assert enrolled.enrolled and enrolled.liveness.passed and enrolled.frames is None
    assert enrolled.ciphertext is not None
    reference = open_embedding(key, SUBJECT, enrolled.ciphertext)
    assert reference.model == ALIGNED_MODEL
    with pytest.raises(EmbeddingInvalid):
        open_embedding(key, "urn:hocvu:subject:other", enrolled.ciphertext)


def test_a_photo_held_up_is_not_enrolled(key: bytes, bursts: Bursts) -> None:
    challenge = bursts.challenge(2)
    frames = still(place(decode(bursts.photos["C_img8.jpg"])), challenge, noise=2)
    result = FaceService(key).enrol_burst(SUBJECT, challenge, frames, consent=True, now=NOW)
    assert not result.enrolled and result.ciphertext is None and result.liveness.reason is Reason.STATIC


def test_verify_burst_accepts_the_learner_and_refuses_another(key: bytes, enrolled: BurstEnrolment,
                                                              bursts: Bursts) -> None:
    assert enrolled.ciphertext is not None
    service = FaceService(key)
    same = service.verify_burst(SUBJECT, enrolled.ciphertext, bursts.challenge(11),
                                bursts.genuine("C_img47.jpg", 11), now=NOW)
    assert same.matched and same.liveness.distance is not None
    other = service.verify_burst(SUBJECT, enrolled.ciphertext, bursts.challenge(1),
                                 bursts.genuine(LIVE_PHOTO["D"], 1), now=NOW)
    assert not other.matched and other.liveness.reason is Reason.NO_MATCH


def test_single_picture_fallback_uses_the_aligned_reference(key: bytes, enrolled: BurstEnrolment,
                                                            photos: dict[str, bytes], engine: FaceEngine) -> None:
    assert enrolled.ciphertext is not None
    service = FaceService(key, engine=engine)
    assert service.verify_frame(SUBJECT, enrolled.ciphertext, photos["C_img47.jpg"]).result.outcome is Outcome.MATCH
    assert service.verify_frame(SUBJECT, enrolled.ciphertext, photos["A_img1.jpg"]).result.outcome is Outcome.NO_MATCH
    with pytest.raises(EmbeddingInvalid):  # DeepFace's check cannot read an aligned reference
        service.verify(SUBJECT, enrolled.ciphertext, photos["C_img47.jpg"])


def test_frames_come_back_only_when_retained(key: bytes, bursts: Bursts) -> None:
    frames = bursts.genuine(LIVE_PHOTO["C"], 2)
    kept = FaceService(key, retain=True).enrol_burst(SUBJECT, bursts.challenge(2), frames, consent=True, now=NOW)
    assert kept.frames == tuple(frames)
