"""Model set-up: the weights come from installed packages, under the names DeepFace 0.0.103 opens, and a
missing weight is a clear error that never reaches for the network."""

from __future__ import annotations

import filecmp
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from face_check import FaceEngine, ModelMissing, WeightPackageMissing, default_home, load_models, missing_weights
from face_check.models import WEIGHTS, setup_weights, weight_source, weights_dir
from hocvu.cli_face import face

NAMES = ["dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"]


def test_weight_names_are_the_ones_deepface_opens() -> None:
    # Read from the pinned DeepFace's own source, so a version bump that renames a file fails here.
    from deepface.models.face_detection import Dlib as detector
    from deepface.models.facial_recognition.dlib import Dlib as model

    assert f'file_name="{NAMES[0]}"' in inspect.getsource(model.DlibResNet)
    assert f'file_name="{NAMES[1]}"' in inspect.getsource(detector.DlibClient)
    assert [w.name for w in WEIGHTS] == NAMES


def test_setup_weights_copies_the_packaged_files(tmp_path: Path) -> None:
    placed = setup_weights(tmp_path)
    assert placed == [tmp_path / ".deepface" / "weights" / name for name in NAMES]
    for weight, path in zip(WEIGHTS, placed, strict=True):
        assert filecmp.cmp(weight_source(weight), path, shallow=False)
    assert missing_weights(tmp_path) == []
    stamps = [p.stat().st_mtime_ns for p in placed]
    lines: list[str] = []
    assert setup_weights(tmp_path, log=lines.append) == placed  # idempotent: identical files are left alone
    assert [p.stat().st_mtime_ns for p in placed] == stamps
    assert all(line.startswith("present") for line in lines)


def test_setup_weights_replaces_a_damaged_file(tmp_path: Path) -> None:
    target = weights_dir(tmp_path)
    target.mkdir(parents=True)
    (target / NAMES[0]).write_bytes(b"truncated")
    setup_weights(tmp_path)
    assert filecmp.cmp(weight_source(WEIGHTS[0]), target / NAMES[0], shallow=False)
    assert sorted(p.name for p in target.iterdir()) == sorted(NAMES)  # no temporary file left behind


def test_missing_weights_raise_model_missing_and_try_no_network(tmp_path: Path, no_network: list[Any]) -> None:
    with pytest.raises(ModelMissing) as caught:
        load_models(tmp_path)
    assert caught.value.missing == [weights_dir(tmp_path.resolve()) / name for name in NAMES]
    assert "hocvu face setup" in caught.value.message
    assert no_network == []
    assert not (tmp_path / ".deepface").exists()  # nothing was downloaded, not even a folder made

    # One file present, the other missing: still refused, naming only the missing one.
    setup_weights(tmp_path)
    (weights_dir(tmp_path) / NAMES[1]).unlink()
    with pytest.raises(ModelMissing) as caught:
        load_models(tmp_path)
    assert [p.name for p in caught.value.missing] == [NAMES[1]]
    assert no_network == []


def test_without_the_guard_deepface_would_reach_for_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                engine: FaceEngine, no_network: list[Any]) -> None:
    # Why load_models checks first: DeepFace's own loader downloads what is missing.
    from deepface.commons import weight_utils

    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    (tmp_path / ".deepface" / "weights").mkdir(parents=True)
    # A loopback address: even if the block above had a gap, nothing would leave the machine.
    with pytest.raises(ValueError, match="downloading"):
        weight_utils.download_weights_if_necessary(NAMES[1], f"http://127.0.0.1:9/{NAMES[1]}.bz2", "bz2")
    assert no_network != []


def test_models_are_loaded_once_per_home(engine: FaceEngine, deepface_home: Path) -> None:
    assert load_models(deepface_home) is engine
    assert (engine.model_name, engine.detector_name) == ("Dlib", "dlib")


def test_setup_without_the_weight_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules is how Python spells "not installed" to find_spec.
    monkeypatch.setitem(sys.modules, "face_recognition_models", None)
    assert importlib.util.find_spec("face_recognition_models") is None
    with pytest.raises(WeightPackageMissing, match="pip install face-recognition-models"):
        setup_weights(tmp_path)
    assert not weights_dir(tmp_path).exists()

    result = CliRunner().invoke(face, ["setup", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "face-recognition-models" in result.output


def test_cli_setup(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(face, ["setup", "--home", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert first.output.count("copied") == 2 and "nothing will be downloaded" in first.output
    again = runner.invoke(face, ["setup", "--home", str(tmp_path)])
    assert again.exit_code == 0 and again.output.count("present") == 2
    assert missing_weights(tmp_path) == []


def test_default_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HOCVU_DEEPFACE_HOME", "DEEPFACE_HOME", "HOCVU_INSTANCE_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert default_home() == Path("instance") / "deepface"
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(tmp_path))
    assert default_home() == tmp_path / "deepface"
    monkeypatch.setenv("DEEPFACE_HOME", "/srv/deepface")
    assert default_home() == Path("/srv/deepface")
    monkeypatch.setenv("HOCVU_DEEPFACE_HOME", "/srv/hocvu-deepface")
    assert default_home() == Path("/srv/hocvu-deepface")
