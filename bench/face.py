"""Face check benchmark: accept rates over the shared photo pairs, and the latency of one check.

    python -m bench.face                      # or: make bench-face
    BENCH_FACE_CHECKS=50 python -m bench.face

Prints the true accept rate (same-person pairs accepted) and false accept rate (different-person
pairs accepted) at the threshold, the closest margins, and p50/p95 of a full check (decode, detect,
align, embed, compare) of a 640×480 JPEG frame against a stored embedding. Target on the 2-core
machine: ≤ 450 ms per check. The weights are copied into a temporary DEEPFACE_HOME first, so the
benchmark needs the installed packages and the photos (shared/faces beside the repo) and no network.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from face_check import Outcome, compare, embed, load_models, setup_weights, verify

FACES = Path(os.environ.get("BENCH_FACES", Path(__file__).resolve().parents[1].parent / "shared" / "faces"))
CHECKS = int(os.environ.get("BENCH_FACE_CHECKS", "30"))
THRESHOLD = float(os.environ.get("BENCH_FACE_THRESHOLD", "0.40"))


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def frame_640x480(jpeg: bytes) -> bytes:
    """The photo fitted into a 640×480 frame (letterboxed), re-encoded as a webcam would send it."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    frame = np.zeros((480, 640, 3), np.uint8)
    y, x = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def main() -> int:
    if not (FACES / "pairs.csv").is_file():
        print(f"face photos not found at {FACES} (set BENCH_FACES)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-deepface-") as home:
        setup_weights(Path(home))
        started = time.perf_counter()
        engine = load_models(Path(home))
        print(f"model Dlib + detector dlib loaded in {time.perf_counter() - started:.2f} s ({os.cpu_count()} cores)")

        with (FACES / "pairs.csv").open(newline="") as fh:
            pairs = [(r["img_a"], r["img_b"], r["same_person"].strip().lower() == "true") for r in csv.DictReader(fh)]
        names = sorted({n for a, b, _ in pairs for n in (a, b)})
        photos = {n: (FACES / n).read_bytes() for n in names}
        embeddings = {n: embed(photos[n], engine=engine) for n in names}
        same = [compare(embeddings[a], embeddings[b], threshold=THRESHOLD) for a, b, s in pairs if s]
        different = [compare(embeddings[a], embeddings[b], threshold=THRESHOLD) for a, b, s in pairs if not s]
        tar = sum(ok for ok, _ in same) / len(same)
        far = sum(ok for ok, _ in different) / len(different)
        print(f"pairs: {len(same)} same-person, {len(different)} different-person; euclidean_l2, threshold {THRESHOLD}")
        print(f"true accept rate  {tar:7.2%}   (worst same-person distance {max(d for _, d in same):.4f})")
        print(f"false accept rate {far:7.2%}   (closest different-person distance {min(d for _, d in different):.4f})")

        reference = embeddings["A_img1.jpg"]
        frame = frame_640x480(photos["A_img2.jpg"])
        verify(reference, frame, engine=engine)  # warm-up
        totals, decode, model = [], [], []
        for _ in range(CHECKS):
            started = time.perf_counter()
            result = verify(reference, frame, engine=engine, threshold=THRESHOLD)
            totals.append((time.perf_counter() - started) * 1000)
            decode.append(result.timing.decode_ms)
            model.append(result.timing.model_ms)
            if result.outcome is not Outcome.MATCH:
                print(f"unexpected outcome {result.outcome} ({result.detail})", file=sys.stderr)
                return 1
        print(f"check of a 640×480 frame against a stored embedding, {CHECKS} runs:")
        print(f"  total  p50 {pct(totals, 50):7.1f} ms   p95 {pct(totals, 95):7.1f} ms   (target ≤ 450 ms)")
        print(f"  decode p50 {pct(decode, 50):7.1f} ms   model p50 {pct(model, 50):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
