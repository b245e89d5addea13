"""xAPI version negotiation.

xAPI 1.0.3 Part Three §3.3 "Versioning" / IEEE 9274.1.1 §4.1.2: every request but About carries
``X-Experience-API-Version``; the LRS rejects versions it does not support with 400 and answers
with the version it used.
"""

from __future__ import annotations

import re
from typing import Literal

from lrs.errors import BadRequest

XapiVersion = Literal["1.0.3", "2.0.0"]
VERSION_HEADER = "X-Experience-API-Version"
ABOUT_VERSIONS = ["1.0.3", "2.0.0"]
# 1.0.x requests (any patch) are served by the 1.0.3 rules; 2.0 and 2.0.x by the 2.0.0 rules.
_V1 = re.compile(r"^1\.0(\.\d+)?$")
_V2 = re.compile(r"^2\.0(\.\d+)?$")


def negotiate(header: str | None) -> XapiVersion:
    if header is None or not header.strip():
        raise BadRequest(f"the {VERSION_HEADER} header is required (supported: {', '.join(ABOUT_VERSIONS)})")
    value = header.strip()
    if _V1.match(value):
        return "1.0.3"
    if _V2.match(value):
        return "2.0.0"
    raise BadRequest(f"xAPI version {value!r} is not supported (supported: {', '.join(ABOUT_VERSIONS)})")
