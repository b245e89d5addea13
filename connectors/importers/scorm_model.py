"""The SCORM 1.2 and 2004 run-time data models as the SCORM importer checks and reads them.

The models and the whole xAPI mapping now live in ``schemas.scorm_xapi``, shared with the hub's SCORM
player (one mapping: issue 16); this module keeps the importer's names for them.
"""

from __future__ import annotations

from schemas.scorm_xapi import (
    COMPLETION_2004,
    ENTRIES,
    MODELS,
    STATUS_12,
    SUCCESS_2004,
    Interaction,
    Model,
    interactions,
)

__all__ = ["COMPLETION_2004", "ENTRIES", "MODELS", "STATUS_12", "SUCCESS_2004", "Interaction", "Model",
           "interactions"]
