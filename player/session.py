"""What opens the player: a learner, a tenant, a target and a way to report a score.

The player knows nothing of how the learner got here. An LTI launch (``lti_tool``), a citizen
signing in directly, a cmi5 or SCORM package: each *source* opens a ``PlayerSession`` and puts it in
the browser's signed session cookie (``KEY``), so web processes stay stateless (DESIGN.md, Scale).

- ``learner``: an xAPI account (xAPI 2.0 Part 2 §2.4.2.3): the system that knows the learner
  (``home_page``: an LMS's issuer, say) and their id there. The player writes every statement with it.
- ``link``: what the learner opened within that source (an LTI resource link id); with the learner
  it makes the cmi5 registration (``player.domain.registration_for``).
- ``reporter``: the name of a score reporter registered with the player (``player.grades``), or None
  when no grade goes anywhere; ``source_data`` is the source's own record, opaque to the player,
  which the reporter and the source's pages (an instructor's roster) read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEY = "player_session"


@dataclass(frozen=True)
class Learner:
    home_page: str      # the account's homePage: the system that identifies the learner
    account: str        # the account's name there (never a citizen ID: DESIGN.md, Identity assurance)
    name: str = ""      # a display name, when the source gave one (never written to the LRS)


@dataclass(frozen=True)
class PlayerSession:
    tenant_id: int
    learner: Learner
    link: str
    target: str                        # catalogue reference: "course/<c>", ".../module/<m>", ".../quiz/<q>"
    locale: str = "vi"
    source: str = "lti"                # who opened it ("lti", "citizen", ...): for logs and pages
    staff: bool = False                # the learner may see the class's progress (the source's roster page)
    reporter: str | None = None        # a registered score reporter, or None
    source_data: dict[str, Any] = field(default_factory=dict)

    def to_session(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "learner": [self.learner.home_page, self.learner.account,
                                                         self.learner.name],
                "link": self.link, "target": self.target, "locale": self.locale, "source": self.source,
                "staff": self.staff, "reporter": self.reporter, "source_data": dict(self.source_data)}

    @classmethod
    def from_session(cls, data: Any) -> PlayerSession:
        """The session ``to_session`` wrote; TypeError/KeyError/ValueError on anything else (an older
        release's cookie, or not a player session at all)."""
        if not isinstance(data, dict):
            raise TypeError("a player session is a JSON object")
        home, account, name = data["learner"]
        source_data = data.get("source_data") or {}
        if not isinstance(source_data, dict):
            raise TypeError("source_data is a JSON object")
        return cls(tenant_id=int(data["tenant_id"]), learner=Learner(str(home), str(account), str(name)),
                   link=str(data["link"]), target=str(data["target"]), locale=str(data.get("locale") or "vi"),
                   source=str(data.get("source") or "lti"), staff=bool(data.get("staff")),
                   reporter=data.get("reporter") if isinstance(data.get("reporter"), str) else None,
                   source_data=source_data)
