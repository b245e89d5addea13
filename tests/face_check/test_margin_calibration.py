"""Calibration of the aligned pipeline's band on the labelled photos (issue 12, 'a threshold with a
real margin'): every pair that can be formed from shared/faces is decided as labelled — FMR and FNMR
both 0 in the terms of [ISO/IEC 19795-1: FMR, FNMR] — and the margins recorded in calibration.py and
docs/face-check.md are the ones measured here.

The issue asks for the closest pair on each side to sit at least 0.05 from the band's edges. The
Dlib ResNet cannot give that on these photos (the whole gap between the farthest same-person and the
closest different-person pair is 0.049): ``test_margin_of_0_05_on_each_side`` is a strict expected
failure, so the day a model gives it, the suite says so."""

from __future__ import annotations

import itertools

import pytest

from face_check import DEFAULT_BAND, Embedding, aligned_distance
from face_check.calibration import margins

# What calibration.py states; a change of model, chip or detector that moves them fails here first.
RECORDED = {"worst_genuine": 0.3877, "closest_impostor": 0.4367}


def _pairs(aligned: dict[str, Embedding]) -> tuple[list[float], list[float]]:
    genuine: list[float] = []
    impostor: list[float] = []
    for a, b in itertools.combinations(sorted(aligned), 2):
        (genuine if a[0] == b[0] else impostor).append(aligned_distance(aligned[a], aligned[b]))
    return genuine, impostor


def test_every_pair_is_decided_as_labelled(aligned: dict[str, Embedding]) -> None:
    genuine, impostor = _pairs(aligned)
    assert (len(genuine), len(impostor)) == (15, 63)  # the 78 pairs of pairs.csv
    m = margins(genuine, impostor)
    assert (m.false_accepts, m.false_rejects) == (0, 0)
    assert (m.genuine_retries, m.impostor_retries) == (0, 0)  # none of the labelled pairs lands in the band


def test_the_margins_are_the_recorded_ones(aligned: dict[str, Embedding]) -> None:
    m = margins(*_pairs(aligned))
    assert m.worst_genuine == pytest.approx(RECORDED["worst_genuine"], abs=5e-4)
    assert m.closest_impostor == pytest.approx(RECORDED["closest_impostor"], abs=5e-4)
    assert m.genuine_margin > 0.015 and m.impostor_margin > 0.015


def test_the_band_sits_inside_the_gap(aligned: dict[str, Embedding]) -> None:
    genuine, impostor = _pairs(aligned)
    assert max(genuine) < DEFAULT_BAND.accept <= DEFAULT_BAND.reject < min(impostor)


@pytest.mark.xfail(strict=True, reason="the Dlib ResNet's gap on shared/faces is 0.049 (docs/face-check.md, "
                                       "'What was tried'); 0.05 on each side needs 0.10 plus the band")
def test_margin_of_0_05_on_each_side(aligned: dict[str, Embedding]) -> None:
    m = margins(*_pairs(aligned))
    assert m.genuine_margin >= 0.05 and m.impostor_margin >= 0.05
