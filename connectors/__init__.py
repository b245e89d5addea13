"""Forwarding, importers, exports and reports (issues 5 and 6)."""
