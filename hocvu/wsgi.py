"""WSGI entry for gunicorn: ``gunicorn 'hocvu.wsgi:app'``. A bad setting stops the worker with
one line naming the variable (and gunicorn with it), not a traceback."""

import sys

from hocvu.app import create_app
from hocvu.settings import SettingError

try:
    app = create_app()
except SettingError as err:
    print(f"hocvu: {err}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None
