"""What a validated LTI launch hands to the course player: the contract between the launch
(``lti_tool.launch``) and the player (``player.http``). Kept in the signed session cookie,
so web processes stay stateless (DESIGN.md, Scale)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from player.session import Learner, PlayerSession

SOURCE = "lti"
AGS_REPORTER = "lti-ags"


@dataclass(frozen=True)
class LaunchContext:
    tenant_id: int                 # the tenant that owns the platform registration
    registration_id: int           # our platform registration row
    issuer: str                    # the platform's iss
    deployment_id: str
    sub: str                       # the learner at the platform: a learner is (issuer, sub)
    name: str                      # display name from the id_token (may be "")
    roles: tuple[str, ...]         # LTI role URIs
    resource_link_id: str
    target: str                    # catalogue reference: "course/<c>", "course/<c>/module/<m>", ".../quiz/<q>", ...
    locale: str = "vi"             # "vi" or "en"
    context_id: str = ""           # the LMS course
    context_title: str = ""
    ags_lineitem: str | None = None        # AGS line item URL when the link is graded (declarative)
    ags_lineitems: str | None = None       # AGS line items container (programmatic: the tool makes its own)
    ags_scopes: tuple[str, ...] = ()
    nrps_url: str | None = None            # NRPS context_memberships_url
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def is_instructor(self) -> bool:
        return any(r.endswith(("#Instructor", "#Administrator", "#ContentDeveloper", "#TeachingAssistant"))
                   for r in self.roles)

    def to_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> LaunchContext:
        data = dict(data)
        data["roles"] = tuple(data.get("roles", ()))
        data["ags_scopes"] = tuple(data.get("ags_scopes", ()))
        return cls(**data)

    def player_session(self) -> PlayerSession:
        """The player session this launch opens."""
        graded = bool(self.ags_lineitem or self.ags_lineitems)
        return PlayerSession(tenant_id=self.tenant_id, learner=Learner(self.issuer, self.sub, self.name),
                             link=self.resource_link_id, target=self.target, locale=self.locale, source=SOURCE,
                             staff=self.is_instructor, reporter=AGS_REPORTER if graded else None,
                             source_data=self.to_session())

    @classmethod
    def of_player(cls, opened: PlayerSession) -> LaunchContext | None:
        """The launch behind a player session, or None when no LTI launch opened it."""
        if opened.source != SOURCE:
            return None
        try:
            return cls.from_session(opened.source_data)
        except TypeError:
            return None

