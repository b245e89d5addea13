"""Imported course packages (cmi5, SCORM): safe archive import (``archive``), where their files live
and how the browser gets them (``store``), and each format's own modules. Flask-free except ``http``."""
