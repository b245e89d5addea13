"""The face model: DeepFace 0.0.103 running model ``Dlib`` with detector ``dlib``, offline.

DeepFace fetches missing weights from the network the first time a model is built
(``deepface.commons.weight_utils.download_weights_if_necessary``). The hub never does: the weights
come from PyPI packages (``face-recognition-models`` ships the two files, ``dlib-bin`` the prebuilt
dlib that runs them) and ``setup_weights`` copies them, unpacked and under the names DeepFace
0.0.103 looks for, into ``$DEEPFACE_HOME/.deepface/weights/``. ``load_models`` refuses with
``ModelMissing`` before DeepFace is imported when a file is absent, so DeepFace never reaches the
point where it would download.

Which files, checked in DeepFace 0.0.103's source:
- ``deepface/models/facial_recognition/dlib/Dlib.py`` builds ``dlib.face_recognition_model_v1`` from
  ``dlib_face_recognition_resnet_model_v1.dat`` (downloaded as ``.dat.bz2`` and unpacked: the file
  it opens and checks for is the unpacked ``.dat``);
- ``deepface/models/face_detection/Dlib.py`` uses dlib's HOG ``get_frontal_face_detector`` (no
  file) and ``dlib.shape_predictor`` on ``shape_predictor_5_face_landmarks.dat`` (same scheme).

DeepFace 0.0.103 does not need TensorFlow: it picks TensorFlow, PyTorch or onnxruntime, whichever is
installed, and onnxruntime is one of its own requirements; Dlib runs on dlib whatever the engine.

Speed: ``load_models`` puts ``detection.FastDetector`` in place of the dlib detector object inside
DeepFace's dlib backend. It returns exactly what dlib's ``run(img, 1)`` returns while scanning only
the pyramid levels that can hold a face (see ``face_check/detection.py``); DeepFace still pads,
detects, aligns and embeds. Inside ``with engine.full_scan():`` dlib scans every level itself.
"""

from __future__ import annotations

import filecmp
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from face_check.errors import DependencyMismatch, ModelMissing, WeightPackageMissing

DEEPFACE_VERSION = "0.0.103"
MODEL_NAME = "Dlib"
DETECTOR_NAME = "dlib"
EMBEDDING_SIZE = 128

if TYPE_CHECKING:  # imported by load_models: it needs OpenCV, which ``hocvu face setup`` does not
    from face_check.detection import FastDetector, ScanReport


@dataclass(frozen=True)
class WeightFile:
    """One weight file: the name DeepFace looks for, and where an installed package keeps it."""

    name: str
    package: str  # import name, looked up without importing it
    distribution: str  # the PyPI name to install
    member: str  # path inside the package
    used_by: str


WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models", "face-recognition-models",
               "models/dlib_face_recognition_resnet_model_v1.dat", f"model {MODEL_NAME}"),
    WeightFile("shape_predictor_5_face_landmarks.dat", "face_recognition_models", "face-recognition-models",
               "models/shape_predictor_5_face_landmarks.dat", f"detector {DETECTOR_NAME}, face landmarks"),
)

# Packages that run the weights: (import name, PyPI name to install).
RUNTIME_PACKAGES: tuple[tuple[str, str], ...] = (("dlib", "dlib-bin"), ("deepface", f"deepface=={DEEPFACE_VERSION}"))


def default_home() -> Path:
    """``DEEPFACE_HOME`` for the hub: ``$HOCVU_DEEPFACE_HOME``, else ``$DEEPFACE_HOME``, else
    ``deepface`` in the instance folder (``$HOCVU_INSTANCE_DIR``, default ``instance``). DeepFace's own
    default, the user's home folder, is never used, so a deployment keeps everything in one place."""
    for var in ("HOCVU_DEEPFACE_HOME", "DEEPFACE_HOME"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(os.environ.get("HOCVU_INSTANCE_DIR", "instance")) / "deepface"


def weights_dir(home: Path) -> Path:
    return Path(home) / ".deepface" / "weights"


def missing_weights(home: Path) -> list[Path]:
    """The weight files DeepFace would try to download for ``home``: those that are not there."""
    return [p for p in (weights_dir(home) / w.name for w in WEIGHTS) if not p.is_file() or p.stat().st_size == 0]


def weight_source(weight: WeightFile) -> Path:
    """The installed file ``weight`` is copied from; ``WeightPackageMissing`` if its package is absent.

    ``find_spec`` locates the package without running it: ``face_recognition_models/__init__.py``
    imports ``pkg_resources``, which recent setuptools no longer provides.
    """
    try:
        spec = importlib.util.find_spec(weight.package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / weight.member
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise WeightPackageMissing(
        f"{weight.name} ({weight.used_by}) comes from the PyPI package {weight.distribution}, which is not "
        f"installed{where}: pip install {weight.distribution}")


def check_runtime() -> None:
    """Fail clearly if dlib or the pinned DeepFace is not installed (looked up without importing)."""
    for module, distribution in RUNTIME_PACKAGES:
        if importlib.util.find_spec(module) is None:
            raise WeightPackageMissing(f"the Python package {module!r} is not installed: pip install '{distribution}'")
    installed = importlib.metadata.version("deepface")
    if installed != DEEPFACE_VERSION:
        # The weight names and the pipeline (detector padding, alignment, thresholds) were checked on this
        # version only; another one may look for other files or give other distances.
        raise DependencyMismatch(f"deepface {installed} is installed; face_check is pinned to {DEEPFACE_VERSION}: "
                                 f"pip install 'deepface=={DEEPFACE_VERSION}'")


def setup_weights(home: Path, *, log: Callable[[str], None] | None = None) -> list[Path]:
    """Copy the weights from their installed packages into ``home``; returns the weight files in place.

    Idempotent: a file already identical to the packaged one is left alone. Every source is found
    before anything is copied, so a missing package leaves no half-done home behind. Each copy goes
    to a temporary name first and is renamed, so a reader never sees a partial file.
    """
    say = log or (lambda _msg: None)
    sources = [(w, weight_source(w)) for w in WEIGHTS]
    target_dir = weights_dir(home)
    target_dir.mkdir(parents=True, exist_ok=True)
    placed: list[Path] = []
    for weight, source in sources:
        target = target_dir / weight.name
        if target.is_file() and filecmp.cmp(source, target, shallow=False):
            say(f"present  {target} ({weight.used_by})")
        else:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{weight.name}.", dir=target_dir)
            os.close(fd)
            try:
                shutil.copyfile(source, tmp_name)
                # mkstemp makes the file private; the weights are public and the server may run as another user.
                os.chmod(tmp_name, 0o644)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            say(f"copied   {target} ({weight.used_by}) from {source}")
        placed.append(target)
    return placed


_LOAD_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class FaceFound:
    """One face DeepFace found: its embedding and where it is in the image given."""

    embedding: NDArray[np.float64]
    box: tuple[int, int, int, int]  # x, y, w, h
    confidence: float


class FaceEngine:
    """The loaded model and detector. Obtain it from ``load_models``; one per process is enough.

    Checks are serialised with one lock for the process: dlib's network keeps per-call buffers and is
    not safe to run from several threads at once (the hub's gunicorn workers run threads), and DeepFace
    caches one model per name for the whole process, so engines of different homes share it.
    """

    model_name = MODEL_NAME
    detector_name = DETECTOR_NAME

    def __init__(self, home: Path, deepface: Any, face_not_found: tuple[type[Exception], ...],
                 load_seconds: float, detector: FastDetector | None = None) -> None:
        self.home = home
        self.load_seconds = load_seconds
        self._deepface = deepface
        self._face_not_found = face_not_found
        self.detector = detector

    @property
    def last_scan(self) -> ScanReport | None:
        """How the detector answered the last call (which pyramid levels it scanned)."""
        return self.detector.last if self.detector is not None else None

    def full_scan(self) -> AbstractContextManager[None]:
        """``with engine.full_scan(): ...``: checks made in this thread let dlib scan every pyramid level
        itself, as before ``FastDetector`` (same result, two to three times the time). For comparisons."""
        return self.detector.full_scan() if self.detector is not None else nullcontext()

    def faces(self, bgr: NDArray[np.uint8], *, limit: int = 2) -> list[FaceFound]:
        """Embeddings of the faces in a BGR image: all of them, or the ``limit`` largest if there are more.

        A check only needs to know whether there is exactly one face, so it asks for two: DeepFace
        then embeds the two largest and no more, which bounds the cost of a crowded picture.
        """
        with _RUN_LOCK:
            try:
                found = self._deepface.represent(img_path=bgr, model_name=MODEL_NAME, detector_backend=DETECTOR_NAME,
                                                 enforce_detection=True, align=True, max_faces=limit)
            except self._face_not_found:
                return []
        faces = []
        for item in found:
            area = item["facial_area"]
            vector = np.asarray(item["embedding"], dtype=np.float64)
            faces.append(FaceFound(vector, (int(area["x"]), int(area["y"]), int(area["w"]), int(area["h"])),
                                   float(item.get("face_confidence") or 0.0)))
        return faces


_ENGINES: dict[Path, FaceEngine] = {}


def load_models(home: Path | None = None) -> FaceEngine:
    """Load model and detector from ``home`` (default ``default_home()``), once per process and home.

    Raises ``ModelMissing`` (and touches neither DeepFace nor the network) when a weight file is not
    there, ``WeightPackageMissing``/``DependencyMismatch`` when dlib or the pinned DeepFace is not.
    Sets ``DEEPFACE_HOME`` for the process: DeepFace reads it when it is imported and at every build.
    DeepFace keeps the built model for the whole process, so a second home is checked for its files
    but runs the model already loaded (the files are the same packaged ones).
    """
    resolved = Path(home if home is not None else default_home()).resolve()
    with _LOAD_LOCK:
        if resolved in _ENGINES:
            return _ENGINES[resolved]
        missing = missing_weights(resolved)
        if missing:
            names = ", ".join(p.name for p in missing)
            raise ModelMissing(f"face model weights missing in {weights_dir(resolved)}: {names}. Nothing is "
                               f"downloaded at run time; install them with `hocvu face setup --home {resolved}`",
                               missing)
        check_runtime()
        started = time.perf_counter()
        deepface, not_found = _import_deepface(resolved)
        try:
            deepface.build_model(MODEL_NAME)
            client = deepface.build_model(DETECTOR_NAME, task="face_detector")
        except RuntimeError as err:  # dlib's answer to a truncated or foreign weight file
            raise ModelMissing(f"face model weights in {weights_dir(resolved)} cannot be loaded ({err}); "
                               f"run `hocvu face setup --home {resolved}` again", missing_weights(resolved)) from err
        import dlib  # already imported by DeepFace's dlib backend

        from face_check.detection import install

        # DeepFace keeps one dlib client per process, so every engine shares this detector.
        detector = install(client, dlib)
        engine = FaceEngine(resolved, deepface, not_found, time.perf_counter() - started, detector)
        _ENGINES[resolved] = engine
        return engine


def _import_deepface(home: Path) -> tuple[Any, tuple[type[Exception], ...]]:
    os.environ["DEEPFACE_HOME"] = str(home)
    # Dlib runs on dlib whatever DeepFace's engine; pinning onnxruntime (a requirement of DeepFace
    # itself) keeps a TensorFlow that happens to be installed from being imported, slowly, for nothing.
    os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")
    # DeepFace prints every info message to stdout; keep the hub's output to warnings and above.
    os.environ.setdefault("DEEPFACE_LOG_LEVEL", str(logging.WARNING))
    # Importing DeepFace runs warnings.filterwarnings("ignore") for the whole process; catch_warnings
    # restores the host's filters once the import is done.
    with warnings.catch_warnings():
        from deepface import DeepFace
        from deepface.modules.exceptions import FaceNotDetected, ImgNotFound
    return DeepFace, (FaceNotDetected, ImgNotFound)
