"""The reports' one setting, kept apart from ``connectors.reports`` so reading it needs no pandas.

| variable | meaning |
|---|---|
| ``HOCVU_REPORT_MIN_GROUP`` | k: groups with fewer distinct learners are suppressed (default 5, at least 1) |
"""

from __future__ import annotations

import os
from typing import Final

MIN_GROUP_ENV: Final = "HOCVU_REPORT_MIN_GROUP"
DEFAULT_MIN_GROUP: Final = 5


def min_group_from_env() -> int:
    raw = os.environ.get(MIN_GROUP_ENV, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MIN_GROUP
    except ValueError:
        raise ValueError(f"{MIN_GROUP_ENV} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{MIN_GROUP_ENV} must be at least 1")
    return value
