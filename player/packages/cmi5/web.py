"""Mounting cmi5 in the app: the fetch URL, learner pages and admin API (``http``) and the
administrators' page (``admin_page``, which builds on ``http``'s admin check)."""

from __future__ import annotations

from flask import Flask

from player.packages.cmi5 import admin_page
from player.packages.cmi5.http import Cmi5Config, init_cmi5

__all__ = ["Cmi5Config", "init_cmi5_web"]


def init_cmi5_web(app: Flask, config: Cmi5Config) -> None:
    init_cmi5(app, config)
    app.register_blueprint(admin_page.bp, url_prefix="/player/cmi5/admin")
