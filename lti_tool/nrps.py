"""Names and Role Provisioning Services 2.0: the roster of the launch's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.names_roles import NamesRolesProvisioningService

from lti_tool.errors import PlatformUnavailable, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.services import LtiTool, current_tool


@dataclass(frozen=True)
class Member:
    """One membership (NRPS 2.0 §2.2): user_id is the same value as the launch's ``sub``."""

    user_id: str
    roles: tuple[str, ...]
    status: str = "Active"   # §2.2: Active | Inactive | Deleted (Active when absent)
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(user_id=str(data["user_id"]), roles=tuple(str(r) for r in data.get("roles") or ()),
                   status=str(data.get("status") or "Active"), name=str(data.get("name") or ""),
                   given_name=str(data.get("given_name") or ""), family_name=str(data.get("family_name") or ""),
                   email=str(data.get("email") or ""))


def roster(launch: LaunchContext, *, tool: LtiTool | None = None) -> list[Member]:
    """Every member of the launch's context, all pages followed (§2.4.2 rel="next")."""
    tool = tool or current_tool()
    if not launch.nrps_url:
        raise ServiceNotOffered("the platform offers no roster (NRPS) for this launch")
    with tool.session() as session:
        registration = tool.registration(session, launch.registration_id)
        service = NamesRolesProvisioningService(tool.connector(registration),
                                                {"context_memberships_url": launch.nrps_url})
        try:
            members = service.get_members()
        except LtiServiceException as exc:
            raise PlatformUnavailable(f"the roster request failed: HTTP {exc.response.status_code}",
                                      http_status=exc.response.status_code) from exc
        except (requests.RequestException, LtiException) as exc:
            raise PlatformUnavailable(f"the roster request failed: {type(exc).__name__}") from exc
    return [Member.from_json(dict(m)) for m in members if m.get("user_id")]
