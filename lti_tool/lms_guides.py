"""What an LMS administrator types where, per LMS: the field names each LMS's own LTI 1.3 tool
form uses, the hub URL (or choice) that goes in each, and where the LMS shows the values the hub
needs back (issuer, client id, deployment id, its login, token and keyset URLs). Shown on
/lti/admin/ and summarised in the README.

Redirect URIs matter most: the LMS sends the id_token only to a registered redirect URI, compared
exactly (Security Framework 1.0 §5.1.1.2, OIDC Core §3.1.2.1). The tool always answers on
``/lti/launch``, also for links whose launch URL carries ``?target=…``, so ``/lti/launch`` itself
must be a registered redirect URI, or the LMS refuses those launches with a generic error.
"""

from __future__ import annotations

from dataclasses import dataclass

# Value keys, filled from the tool's URLs: login, launch, jwks, target_example.
LAUNCH, LOGIN, JWKS, TARGET = "{launch}", "{login}", "{jwks}", "{target_example}"


@dataclass(frozen=True)
class Field:
    label: str      # exactly as the LMS's form names it (English UI)
    value: str      # a URL template above, or the choice to make
    note: str = ""


@dataclass(frozen=True)
class Guide:
    key: str
    name: str
    where: str                                  # the menu path to the form
    fields: tuple[Field, ...]
    copy_back: tuple[tuple[str, str], ...]      # (what the LMS calls it, our field on this page)
    note: str = ""

    def filled(self, urls: dict[str, str]) -> list[Field]:
        return [Field(f.label, f.value.format(**urls), f.note) for f in self.fields]


REDIRECT_NOTE = "/lti/launch must be listed: links with ?target= in their URL come back there"

GUIDES: tuple[Guide, ...] = (
    Guide("moodle", "Moodle (4.x)",
          "Site administration › Plugins › Activity modules › External tool › Manage tools › configure a tool manually",
          (Field("Tool URL", LAUNCH), Field("LTI version", "LTI 1.3"), Field("Public key type", "Keyset URL"),
           Field("Public keyset", JWKS), Field("Initiate login URL", LOGIN),
           Field("Redirection URI(s)", LAUNCH, REDIRECT_NOTE),
           Field("Supports Deep Linking (Content-Item Message)", "ticked"), Field("Content Selection URL", LAUNCH),
           Field("IMS LTI Assignment and Grade Services", "Use this service for grade sync and column management"),
           Field("IMS LTI Names and Role Provisioning",
                 "Use this service to retrieve members' information as per privacy settings"),
           Field("Share launcher's name with tool", "Always")),
          (("Platform ID", "Issuer (iss)"), ("Client ID", "Client ID"), ("Deployment ID", "Deployment ID"),
           ("Authentication request URL", "OIDC authorization (auth login) URL"),
           ("Access token URL", "OAuth 2 token URL"), ("Public keyset URL", "Platform keyset (JWKS) URL")),
          "Moodle shows these under the tool's “View configuration details” icon in Manage tools."),
    Guide("canvas", "Canvas",
          "Admin › Developer Keys › + Developer Key › + LTI Key (Method: Manual Entry)",
          (Field("Redirect URIs", LAUNCH, REDIRECT_NOTE), Field("Target Link URI", LAUNCH),
           Field("OpenID Connect Initiation Url", LOGIN), Field("JWK Method", "Public JWK URL"),
           Field("Public JWK URL", JWKS),
           Field("LTI Advantage Services", "turn on the line item, result, score and user data services"),
           Field("Placements", "Assignment Selection and Link Selection (message type LtiDeepLinkingRequest)"),
           Field("Privacy Level", "Public (or Name Only)")),
          (("Issuer: https://canvas.instructure.com (self-hosted Canvas: its own URL)", "Issuer (iss)"),
           ("the developer key's ID (Details column)", "Client ID"),
           ("Settings › Apps › the app's gear › Deployment Id", "Deployment ID"),
           ("https://sso.canvaslms.com/api/lti/authorize_redirect", "OIDC authorization (auth login) URL"),
           ("https://sso.canvaslms.com/login/oauth2/token", "OAuth 2 token URL"),
           ("https://sso.canvaslms.com/api/lti/security/jwks", "Platform keyset (JWKS) URL")),
          "Switch the key ON, then add the app to the account (Settings › Apps › + App › By Client ID). "
          "Dynamic Registration also works with Canvas: paste a registration link from this page."),
    Guide("openedx", "Open edX (LTI Consumer component)",
          "Studio › the unit › Add New Component › Advanced › LTI Consumer › Edit",
          (Field("LTI Version", "LTI 1.3"), Field("Tool Launch URL", TARGET, "one course: add ?target=… to the URL"),
           Field("Registered Redirect URIs", f'["{LAUNCH}"]', REDIRECT_NOTE),
           Field("Tool Initiate Login URL", LOGIN), Field("Tool Public Key Mode", "Keyset URL"),
           Field("Tool Keyset URL", JWKS),
           Field("LTI Assignment and Grades Service",
                 "Allow tools to submit grades only (declarative) or … manage and submit grade (programmatic)"),
           Field("Enable LTI NRPS", "True"), Field("Deep linking", "True"), Field("Deep Linking Launch URL", LAUNCH)),
          (("the LMS root URL, e.g. https://lms.example.edu.vn", "Issuer (iss)"), ("Client ID", "Client ID"),
           ("Deployment ID", "Deployment ID"), ("Login URL", "OIDC authorization (auth login) URL"),
           ("Access Token URL", "OAuth 2 token URL"), ("Keyset URL", "Platform keyset (JWKS) URL")),
          "The component shows these values once it is saved; the LTI Consumer module must be listed in the "
          "course's Advanced Settings › Advanced Module List (\"lti_consumer\")."),
    Guide("generic", "Blackboard Learn, D2L Brightspace and other LTI 1.3 platforms",
          "Blackboard: Anthology Developer Portal, then Administrator Panel › Integrations › LTI Tool Providers › "
          "Register LTI 1.3/Advantage Tool. Brightspace: Admin Tools › Manage Extensibility › LTI Advantage › "
          "Register Tool",
          (Field("Login Initiation URL (Blackboard) / OpenID Connect Login URL (Brightspace)", LOGIN),
           Field("Tool Redirect URL(s) (Blackboard) / Redirect URLs (Brightspace)", LAUNCH, REDIRECT_NOTE),
           Field("Target Link URI", LAUNCH),
           Field("Tool JWKS URL (Blackboard) / Keyset URL (Brightspace)", JWKS),
           Field("Domain(s) / Domain", "the host of the URLs above"),
           Field("Extensions (Brightspace)", "Assignment and Grade Services, Deep Linking, "
                                            "Names and Role Provisioning Services")),
          (("Issuer (Blackboard: https://blackboard.com)", "Issuer (iss)"),
           ("Client Id / Application ID", "Client ID"), ("Deployment Id", "Deployment ID"),
           ("OpenID Connect Authentication Endpoint / Auth login URL", "OIDC authorization (auth login) URL"),
           ("OAuth2 Access Token URL", "OAuth 2 token URL"), ("Keyset URL / Platform JWKS URL",
                                                              "Platform keyset (JWKS) URL"),
           ("Brightspace OAuth2 Audience", "Token audience")),
          "Brightspace: add a deployment (View Deployments › New Deployment) to get its Deployment Id."),
)


def tool_values(login: str, launch: str, jwks: str) -> dict[str, str]:
    return {"login": login, "launch": launch, "jwks": jwks,
            "target_example": f"{launch}?target=course/ky-nang-so-vneid"}
