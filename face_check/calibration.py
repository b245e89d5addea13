"""The decision on an aligned distance: accept, refuse, or a grey band in between that asks for
another capture, with the figures it was calibrated on.

Calibration (docs/face-check.md has the full table): every pair that can be formed from the 13
single-person photos of shared/faces (15 same-person, 63 different-person), embedded by
``alignment`` (dlib ResNet v1 on dlib's 150×150 chip), euclidean_l2:

- farthest same-person pair 0.3877 (D_img12–D_img3), closest different-person pair 0.4367
  (B_img27–D_img12): a gap of 0.049, four and a half times what DeepFace's crop of the same model
  gave (0.3948 against 0.4055);
- the band splits that gap: accept ≤ 0.405, refuse ≥ 0.420, retry between. Every labelled pair is
  decided as labelled (FAR 0/63, FRR 0/15, none in the band); the closest genuine pair is 0.017 under
  the accept edge and the closest impostor 0.017 over the refuse edge. With the probes also framed
  four other ways (bars, border, crop, 640×480 frame: 1950 pairs) still no error and no retry, the
  margins 0.014 and 0.008.

That is short of the 0.05 on each side issue 12 asks for: the model cannot give it on these photos
(no alignment, flip or jitter variant widened the gap past 0.061, and the other offline models found
in registries did not do better; docs/face-check.md, 'What was tried'). The band is where another
capture is cheaper than a wrong decision; the live check narrows the spread on its side by averaging
the embeddings of two frontal frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from face_check.errors import BadParameter, EmbeddingInvalid
from face_check.verification import Embedding, Outcome

ALIGNED_MODEL = "dlib_resnet_v1/chip150"
ALIGNED_DETECTOR = "dlib_hog+shape_predictor_5"
ALIGNED_METRIC = "euclidean_l2"


@dataclass(frozen=True)
class Band:
    """Distances at or under ``accept`` match, at or over ``reject`` do not, and between them the
    answer is ``retry``. ``accept == reject`` is a plain threshold with no band."""

    accept: float
    reject: float
    metric: str = ALIGNED_METRIC

    def __post_init__(self) -> None:
        for value in (self.accept, self.reject):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise BadParameter(f"band edges must be positive numbers, not {value!r}")
        if self.reject < self.accept:
            raise BadParameter("the refuse edge of the band cannot be under its accept edge")
        if self.metric != ALIGNED_METRIC:
            raise BadParameter(f"aligned embeddings are compared with {ALIGNED_METRIC} only")

    def decide(self, d: float) -> Outcome:
        if d <= self.accept:
            return Outcome.MATCH
        if d >= self.reject:
            return Outcome.NO_MATCH
        return Outcome.RETRY

    def explain(self, d: float) -> str:
        outcome = self.decide(d)
        if outcome is Outcome.MATCH:
            return f"distance {d:.4f} ≤ {self.accept:.4f} ({self.metric})"
        if outcome is Outcome.NO_MATCH:
            return f"distance {d:.4f} ≥ {self.reject:.4f} ({self.metric})"
        return f"distance {d:.4f} between {self.accept:.4f} and {self.reject:.4f}: take another capture"


DEFAULT_BAND = Band(accept=0.405, reject=0.420)


def aligned_distance(a: Embedding, b: Embedding) -> float:
    """euclidean_l2 between two aligned embeddings; ``EmbeddingInvalid`` for an embedding of another
    model or pipeline (DeepFace's crop included): such distances mean nothing against this band."""
    for e in (a, b):
        if (e.model, e.detector) != (ALIGNED_MODEL, ALIGNED_DETECTOR):
            raise EmbeddingInvalid(f"embedding made by {e.model}/{e.detector}, not {ALIGNED_MODEL}/"
                                   f"{ALIGNED_DETECTOR}: embeddings of different pipelines cannot be compared")
    x, y = a.array(), b.array()
    return float(np.linalg.norm(x / (np.linalg.norm(x) + 1e-10) - y / (np.linalg.norm(y) + 1e-10)))


@dataclass(frozen=True)
class Margins:
    """How a labelled set fares against a band."""

    genuine: int
    impostor: int
    false_accepts: int  # impostor pairs at or under ``accept``
    false_rejects: int  # genuine pairs at or over ``reject``
    genuine_retries: int
    impostor_retries: int
    worst_genuine: float
    closest_impostor: float
    genuine_margin: float  # accept edge minus the farthest genuine distance (negative: inside the band or over)
    impostor_margin: float  # closest impostor distance minus the refuse edge

    @property
    def far(self) -> float:
        return self.false_accepts / self.impostor if self.impostor else 0.0

    @property
    def frr(self) -> float:
        return self.false_rejects / self.genuine if self.genuine else 0.0


def margins(genuine: list[float], impostor: list[float], band: Band = DEFAULT_BAND) -> Margins:
    if not genuine or not impostor:
        raise BadParameter("margins need at least one genuine and one impostor distance")
    outcomes_g = [band.decide(d) for d in genuine]
    outcomes_i = [band.decide(d) for d in impostor]
    return Margins(len(genuine), len(impostor), outcomes_i.count(Outcome.MATCH), outcomes_g.count(Outcome.NO_MATCH),
                   outcomes_g.count(Outcome.RETRY), outcomes_i.count(Outcome.RETRY), max(genuine), min(impostor),
                   band.accept - max(genuine), min(impostor) - band.reject)
