"""Face check benchmark: accept rates over the shared photo pairs, and the latency of one check, for the
face check as it runs (``FastDetector``: dlib scans only the pyramid levels that can hold a face) and
as it ran before (dlib's full scan), measured in the same process, one after the other.

    python -m bench.face                      # or: make bench-face
    BENCH_FACE_CHECKS=50 python -m bench.face
    taskset -c 0 python -m bench.face         # one core: no help from the first pass's thread

Prints, for both paths: whether every photo gives the same faces and embeddings (the largest
difference between the two embeddings of a photo), the true accept rate (same-person pairs accepted)
and false accept rate (different-person pairs accepted) at the threshold with the closest margins,
whether every pair gets the same verdict, and p50/p95 of a full check (decode, detect, align, embed,
compare) of a 640×480 JPEG frame against a stored embedding, the two paths alternating so that both
see the same load. Target on the 2-core machine: ≤ 450 ms per check. Then a few other frames (a
small face, two faces, no face), where the fast path saves less or, for no face, costs its first
pass on top of the full scan. The weights are copied into a temporary DEEPFACE_HOME first, so the
benchmark needs the installed packages and the photos (shared/faces beside the repo) and no network.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import cv2
import numpy as np

from face_check import Embedding, FaceEngine, Outcome, compare, distance, embed, load_models, setup_weights, verify
from face_check.images import decode_image

FACES = Path(os.environ.get("BENCH_FACES", Path(__file__).resolve().parents[1].parent / "shared" / "faces"))
CHECKS = int(os.environ.get("BENCH_FACE_CHECKS", "30"))
THRESHOLD = float(os.environ.get("BENCH_FACE_THRESHOLD", "0.40"))
PATHS = ("full scan (before)", "fast path (now)")


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def letterbox(image: np.ndarray, scale: float = 1.0) -> bytes:
    """The picture fitted into a 640×480 frame (times ``scale``, centred on grey), re-encoded as a webcam
    would send it."""
    fit = min(640 / image.shape[1], 480 / image.shape[0]) * scale
    resized = cv2.resize(image, (round(image.shape[1] * fit), round(image.shape[0] * fit)))
    frame = np.full((480, 640, 3), 0 if scale == 1.0 else 110, np.uint8)
    y, x = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def frame_640x480(jpeg: bytes, scale: float = 1.0) -> bytes:
    return letterbox(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), scale)


def scan(engine: FaceEngine, full: bool) -> AbstractContextManager[None]:
    return engine.full_scan() if full else nullcontext()


def timed(engine: FaceEngine, full: bool, call: Callable[[], object]) -> float:
    with scan(engine, full):
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000


def main() -> int:
    if not (FACES / "pairs.csv").is_file():
        print(f"face photos not found at {FACES} (set BENCH_FACES)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-deepface-") as home:
        setup_weights(Path(home))
        started = time.perf_counter()
        engine = load_models(Path(home))
        print(f"model Dlib + detector dlib loaded in {time.perf_counter() - started:.2f} s "
              f"({os.cpu_count()} cores, {len(os.sched_getaffinity(0))} usable; load {os.getloadavg()[0]:.1f})")

        with (FACES / "pairs.csv").open(newline="") as fh:
            pairs = [(r["img_a"], r["img_b"], r["same_person"].strip().lower() == "true") for r in csv.DictReader(fh)]
        photos = {p.name: p.read_bytes() for p in sorted(FACES.glob("*.jpg"))}

        # Same faces, same embeddings: every photo through both paths.
        worst_l2, worst_component, same_faces = 0.0, 0.0, True
        for data in photos.values():
            image = decode_image(data)
            with engine.full_scan():
                before = engine.faces(image)
            now = engine.faces(image)
            same_faces &= [f.box for f in before] == [f.box for f in now]
            for a, b in zip(before, now, strict=False):
                worst_l2 = max(worst_l2, distance(a.embedding, b.embedding))
                worst_component = max(worst_component, float(np.max(np.abs(a.embedding - b.embedding))))
        print(f"{len(photos)} photos: same faces and boxes on both paths: {'yes' if same_faces else 'NO'}; "
              f"largest embedding difference: euclidean_l2 {worst_l2:.3g}, per component {worst_component:.3g}")

        embeddings: dict[bool, dict[str, Embedding]] = {}
        verdicts: dict[bool, list[bool]] = {}
        names = sorted({n for a, b, _ in pairs for n in (a, b)})
        for full in (True, False):
            with scan(engine, full):
                embeddings[full] = {n: embed(photos[n], engine=engine) for n in names}
            got = embeddings[full]
            results = [(s, *compare(got[a], got[b], threshold=THRESHOLD)) for a, b, s in pairs]
            verdicts[full] = [ok for _, ok, _ in results]
            same = [(ok, d) for s, ok, d in results if s]
            different = [(ok, d) for s, ok, d in results if not s]
            print(f"{PATHS[not full]}: pairs {len(same)} same-person, {len(different)} different-person; "
                  f"euclidean_l2, threshold {THRESHOLD}")
            print(f"  true accept rate  {sum(ok for ok, _ in same) / len(same):7.2%}   "
                  f"(worst same-person distance {max(d for _, d in same):.4f})")
            print(f"  false accept rate {sum(ok for ok, _ in different) / len(different):7.2%}   "
                  f"(closest different-person distance {min(d for _, d in different):.4f})")
        agree = sum(a == b for a, b in zip(verdicts[True], verdicts[False], strict=True))
        print(f"verdicts identical on {agree}/{len(pairs)} pairs")

        reference = embeddings[False]["A_img1.jpg"]
        frame = frame_640x480(photos["A_img2.jpg"])
        for full in (True, False):  # warm-up
            with scan(engine, full):
                verify(reference, frame, engine=engine)
        totals: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(CHECKS):
            for full in (True, False):
                with scan(engine, full):
                    started = time.perf_counter()
                    result = verify(reference, frame, engine=engine, threshold=THRESHOLD)
                    totals[full].append((time.perf_counter() - started) * 1000)
                if result.outcome is not Outcome.MATCH:
                    print(f"unexpected outcome {result.outcome} ({result.detail})", file=sys.stderr)
                    return 1
        report = engine.last_scan
        print(f"check of a 640×480 frame against a stored embedding, {CHECKS} runs each, alternating:")
        for full in (True, False):
            print(f"  {PATHS[not full]:20s} p50 {pct(totals[full], 50):7.1f} ms   p95 {pct(totals[full], 95):7.1f} ms")
        print(f"  speed-up at p50 ×{pct(totals[True], 50) / pct(totals[False], 50):.2f}; target ≤ 450 ms; the fast "
              f"path scanned from pyramid level {report.first_level if report else '?'} "
              f"({report.path if report else 'no detector'})")

        others = {"small face (frame at 0.35)": frame_640x480(photos["A_img2.jpg"], 0.35),
                  "two faces": frame_640x480(photos["extra_couple.jpg"]),
                  "no face": letterbox(np.full((480, 640, 3), 128, np.uint8))}
        print("other frames, p50 of 5 checks (full scan → fast path):")
        for label, data in others.items():
            runs = {full: [timed(engine, full, lambda d=data: verify(reference, d, engine=engine)) for _ in range(5)]
                    for full in (True, False)}
            with scan(engine, False):
                outcome = verify(reference, data, engine=engine).outcome.value
            print(f"  {label:28s} {pct(runs[True], 50):7.1f} → {pct(runs[False], 50):7.1f} ms   ({outcome}, "
                  f"{engine.last_scan.path if engine.last_scan else '?'} from level "
                  f"{engine.last_scan.first_level if engine.last_scan else '?'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
