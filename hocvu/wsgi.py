"""WSGI entry for gunicorn: ``gunicorn 'hocvu.wsgi:app'``."""

from hocvu.app import create_app

app = create_app()
