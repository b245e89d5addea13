"""The cmi5 profile's IRIs (AICC/ADL cmi5, "cmi5_spec.md" §9): categories and extensions that the
course player writes, the identity gate keys its stamps on and the LRS checks in a cmi5 session."""

from __future__ import annotations

from typing import Final

CMI5_CATEGORY: Final = "https://w3id.org/xapi/cmi5/context/categories/cmi5"          # cmi5 §9.6.2.1
MOVEON_CATEGORY: Final = "https://w3id.org/xapi/cmi5/context/categories/moveon"      # cmi5 §9.6.2.2
EXT_SESSION: Final = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"       # cmi5 §9.6.3.1
EXT_MASTERY: Final = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"    # cmi5 §9.6.3.2
EXT_LAUNCH_MODE: Final = "https://w3id.org/xapi/cmi5/context/extensions/launchmode"  # cmi5 §9.6.3.3
EXT_LAUNCH_URL: Final = "https://w3id.org/xapi/cmi5/context/extensions/launchurl"    # cmi5 §9.6.3.4
EXT_MOVE_ON: Final = "https://w3id.org/xapi/cmi5/context/extensions/moveon"          # cmi5 §9.6.3.6
EXT_PROGRESS: Final = "https://w3id.org/xapi/cmi5/result/extensions/progress"        # cmi5 §9.5.5.1
