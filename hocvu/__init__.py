"""Composition root of the hub: app factory (`hocvu.app.create_app`), settings, CLI, WSGI entry,
demo seeding. Nothing imports this package (DESIGN.md: arrows point one way)."""
