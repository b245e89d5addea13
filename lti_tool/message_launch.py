"""OIDC login initiation and id_token launch validation: pylti1p3's Flask adapter, with what it
lacks for our use:

- failures become our error classes with the right status (400 malformed / 401 not authenticated
  / 403 not allowed) instead of one generic exception;
- the nonce is taken once, after the signature is checked (Security Framework 1.0 §5.1.3 step 9;
  pylti1p3 only checks it exists, so the same id_token could be posted again), from the launch
  store every worker shares (lti_tool.launch_cache);
- the platform's keys come from a cache that honours its caching headers and refetches once for
  an unknown kid (lti_tool.platform_keys), instead of one fetch per launch;
- a disabled registration's launches are refused, saying so;
- ``exp``, ``iat``, ``aud`` and ``iss`` are verified by the JWT library with a small clock leeway,
  ``azp`` as OIDC Core §3.1.3.7 asks (pylti1p3 turns audience checking off), and only RSA
  signatures are accepted (§5.1.3 step 5: alg SHOULD be RS256);
- outgoing HTTP has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import jwt
import requests
from pylti1p3.contrib.flask.cookie import FlaskCookieService
from pylti1p3.contrib.flask.message_launch import FlaskMessageLaunch
from pylti1p3.contrib.flask.oidc_login import FlaskOIDCLogin
from pylti1p3.contrib.flask.request import FlaskRequest
from pylti1p3.deep_link import DeepLink
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.registration import TKeySet
from pylti1p3.request import Request
from pylti1p3.session import SessionService

from lti_tool.ags_links import remember_link
from lti_tool.claims import DL_SETTINGS
from lti_tool.errors import BadLaunch, LaunchForbidden, LaunchUnauthorized, LtiError, RegistrationDisabled
from lti_tool.launch_cache import HubLaunchDataStorage
from lti_tool.tool_config import DbToolConf, HubRegistration, disabled_message

# Security Framework 1.0 §5.1.3 step 5 (RS256 is the default) and §6.1 (RSA keys).
ALLOWED_ALGS = ("RS256", "RS384", "RS512")
CLOCK_LEEWAY = 60          # seconds of clock skew tolerated on exp/iat/nbf
LAUNCH_DATA_LIFETIME = 3600  # a cached launch (deep-linking picker) lives one hour
NONCE_LIFETIME = 600         # a login must come back as a launch within ten minutes
# What a learner sees when the nonce is not there to take: said without accusing anyone, since it
# is also what a launch opened after more than NONCE_LIFETIME looks like.
NONCE_REFUSED = ("this launch is no longer valid: it was already used (a replayed id_token), or more than ten "
                 "minutes passed since the LMS started it. Open the activity again from the LMS")
STATE_REFUSED = ("the browser did not send back this launch's state cookie (third-party cookies may be "
                 "blocked in the LMS frame). Open the activity again, in a new window if the LMS offers one")
COOKIE_CHECK_TEXT = {
    "main_msg": "Trình duyệt đang chặn cookie trong khung nhúng của LMS. / "
                "Your browser blocks cookies inside the LMS frame.",
    "click_msg": "Bấm vào đây để mở trong cửa sổ mới. / Click here to open it in a new window.",
    "loading_msg": "Đang tải… / Loading…",
}

T = TypeVar("T")


def _as(error: type[LtiError], step: Callable[[], T]) -> T:
    try:
        return step()
    except LtiError:
        raise
    except (LtiException, OIDCException) as exc:
        raise error(str(exc)) from exc


class TimeoutSession(requests.Session):
    """pylti1p3 calls requests without a timeout; a hung platform must not hang a worker."""

    def __init__(self, timeout: float = 10.0) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = "hocvu-lti-tool"

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class HubSessionService(SessionService):
    def take_nonce(self, nonce: str) -> bool:
        storage = self.data_storage
        assert isinstance(storage, HubLaunchDataStorage)
        return storage.take(self._get_key("nonce", nonce))

    def drop_launch_data(self, launch_id: str) -> None:
        storage = self.data_storage
        assert isinstance(storage, HubLaunchDataStorage)
        storage.delete(self._get_key(launch_id, add_prefix=False))


class HubOIDCLogin(FlaskOIDCLogin):
    """Third-party login initiation (Security Framework 1.0 §5.1.1.1, LTI Core 1.3 §4.1)."""

    def __init__(self, request: FlaskRequest, conf: DbToolConf, storage: HubLaunchDataStorage) -> None:
        # pylti1p3's Flask adapter has no annotations, and pyproject's untyped_calls_exclude cannot
        # match a super() call (mypy gives it no qualified name to match against).
        super().__init__(request, conf, session_service=HubSessionService(request),  # type: ignore[no-untyped-call]
                         cookie_service=FlaskCookieService(request), launch_data_storage=None)
        # Attached here rather than by pylti1p3 at redirect time, so the nonce lifetime can be set.
        self.set_launch_data_storage(storage)
        self.set_launch_data_lifetime(NONCE_LIFETIME)
        # Third-party cookies blocked in the LMS iframe: the state cookie would never come back.
        # pylti1p3's check page tests for that and offers to continue in a new window.
        self.enable_check_cookies(**COOKIE_CHECK_TEXT)

    def validate_oidc_login(self) -> Any:
        for param in ("iss", "login_hint"):  # §5.1.1.1: both are REQUIRED in the initiation
            if not self._get_request_param(param):
                raise BadLaunch(f"the login initiation request has no {param}")
        try:
            registration = super().validate_oidc_login()
        except OIDCException as exc:
            if "registration" not in str(exc).lower():
                raise LaunchUnauthorized(str(exc)) from exc
            raise LaunchUnauthorized(
                f"this LMS ({self._get_request_param('iss')}, client {self._get_request_param('client_id') or '?'}) "
                "is not registered with the hub, or its registration was removed; the hub's administrator can "
                "register it at /lti/admin/") from exc
        if isinstance(registration, HubRegistration) and registration.disabled:
            raise RegistrationDisabled(disabled_message(registration))
        return registration

    def start(self, launch_url: str) -> Any:
        return _as(BadLaunch, lambda: self.redirect(launch_url))


class HubDeepLink(DeepLink):
    def get_message_jwt(self, resources: Any) -> dict[str, object]:
        message = super().get_message_jwt(resources)
        # Deep Linking 2.0 §4.4.1: `data` MUST be echoed when the request had it; pylti1p3 also
        # sends it as null when there was none, which some platforms refuse.
        if message.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") is None:
            message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
        return message


class HubMessageLaunch(FlaskMessageLaunch):
    """An id_token launch (Security Framework 1.0 §5.1.3 "Authentication Response Validation")."""

    _request: Request   # a FlaskRequest; pylti1p3's Flask adapter leaves MessageLaunch's type parameters open

    def __init__(self, request: FlaskRequest, tool_config: DbToolConf, session_service: Any = None,
                 cookie_service: Any = None, launch_data_storage: HubLaunchDataStorage | None = None,
                 requests_session: requests.Session | None = None) -> None:
        # pylti1p3's signature, so its from_cache() can build one of ours. Its Flask adapter has no
        # annotations, and pyproject's untyped_calls_exclude cannot match a super() call.
        super().__init__(request, tool_config,  # type: ignore[no-untyped-call]
                         session_service=session_service or HubSessionService(request),
                         cookie_service=cookie_service or FlaskCookieService(request), launch_data_storage=None,
                         requests_session=requests_session)
        self._cached = False   # True once this launch is in the launch cache (deep linking)
        if launch_data_storage is not None:
            launch_data_storage.session = tool_config.session   # the nonce is taken through it
            # With HTTPS the storage is keyed by pylti1p3's session-id cookie; no cookie → no launch.
            _as(LaunchUnauthorized, lambda: self.set_launch_data_storage(launch_data_storage))
            self.set_launch_data_lifetime(LAUNCH_DATA_LIFETIME)

    def validate(self) -> HubMessageLaunch:
        if self._restored:
            raise BadLaunch("a restored launch cannot be validated again")
        self._validated = True  # pylti1p3's accessors would otherwise re-enter validate()
        try:
            if not self._get_request_param("id_token"):
                raise BadLaunch("the launch has no id_token")      # §5.1.2: response is id_token + state
            self.validate_state()                                  # §5.1.1.3 state round trip (cookie)
            _as(BadLaunch, self.validate_jwt_format)
            self._check_header()
            if not self._jwt["body"].get("nonce"):
                raise BadLaunch("the id_token has no nonce")       # step 9: a nonce is required
            _as(LaunchUnauthorized, self.validate_registration)    # steps 1-3: iss + aud = a registration
            _as(LaunchUnauthorized, self.validate_jwt_signature)   # steps 1, 4-8
            self._check_enabled()
            _as(LaunchForbidden, self.validate_deployment)         # LTI Core 1.3 §3.1.3
            _as(BadLaunch, self.validate_message)                  # LTI Core 1.3 §5.3 required claims
            # Step 9: a nonce we issued, used once. Taken only now, after the signature, so a forged
            # token cannot burn a real learner's nonce; one atomic take, so of two posts of the same
            # id_token (to any worker) exactly one passes.
            if not self._service().take_nonce(str(self._jwt["body"]["nonce"])):
                raise LaunchUnauthorized(NONCE_REFUSED)
            self._keep()
        except Exception:
            self._validated = False
            raise
        return self

    def _keep(self) -> None:
        """What a validated launch leaves behind: a deep-linking launch is cached for the picker's
        answer (restore_launch); a resource link offering AGS line items is remembered for scores."""
        if self.is_deep_link_launch():
            self.save_launch_data()
            self._cached = True
        elif self.is_resource_launch():
            registration = self._registration
            assert isinstance(registration, HubRegistration)
            conf: DbToolConf = self._tool_config
            remember_link(conf.session, registration.tenant_id, registration.row_id, self._get_jwt_body())

    def _get_request_param(self, key: str) -> str:
        # What pylti1p3's Flask adapter does, annotated as pylti1p3's own OIDCLogin does it (mypy's
        # untyped_calls_exclude does not cover an unannotated method inherited by our class).
        return self._request.get_param(key)

    def validate_state(self) -> HubMessageLaunch:
        """Security Framework 1.0 §5.1.1.3/§7.3.1: the state we set as a cookie at login comes back."""
        state = self._get_request_param("state")
        if not state:
            raise BadLaunch("the launch has no state")
        if self._cookie_service.get_cookie(state) != state:
            raise LaunchUnauthorized(STATE_REFUSED)
        return self

    def _check_enabled(self) -> None:
        registration = self._registration
        if isinstance(registration, HubRegistration) and registration.disabled:
            raise RegistrationDisabled(disabled_message(registration))

    def get_public_key(self) -> tuple[str, str]:
        """The platform key the id_token names, from the per-issuer key cache (lti_tool.platform_keys):
        fetched when stale, fetched once more for an unknown kid (the LMS rotated its keys)."""
        registration = self._registration
        assert isinstance(registration, HubRegistration)
        url = str(registration.get_key_set_url() or "")
        if not url.startswith(("https://", "http://")):
            raise LaunchUnauthorized("the registration's keyset URL is not an http(s) URL")
        kid = self._jwt.get("header", {}).get("kid")
        conf: DbToolConf = self._tool_config
        # The platform's JWKS as fetched (JSON): pylti1p3 takes its own fetch as a TKeySet the same way.
        registration.set_key_set(cast(TKeySet, conf.platform_keys.key_set(url, kid)))
        try:
            found: tuple[str, str] = super().get_public_key()
        except LtiException as exc:
            raise LaunchUnauthorized(f"{exc}: the platform's key set has no key {kid!r} for this id_token") from exc
        return found

    def _service(self) -> HubSessionService:
        service: HubSessionService = self._session_service
        return service

    def _check_header(self) -> None:
        header = self._jwt.get("header", {})
        if header.get("alg") not in ALLOWED_ALGS:
            raise LaunchUnauthorized(f"id_token alg {header.get('alg')!r} is not accepted (RS256 expected)")
        if not header.get("kid"):
            # §6.3: the platform's JWKS is looked up by kid; without one we cannot pick a key.
            raise LaunchUnauthorized("the id_token header has no kid")

    def validate_jwt_signature(self) -> HubMessageLaunch:
        public_key, alg = self.get_public_key()   # pylti1p3: platform JWKS, key matched by kid + alg
        registration = self._registration
        assert registration is not None
        client_id = registration.get_client_id()
        try:
            claims = jwt.decode(self._get_id_token(), public_key, algorithms=[alg], audience=client_id,
                                issuer=registration.get_issuer(), leeway=CLOCK_LEEWAY,
                                options={"require": ["exp", "iat", "iss", "aud"]})
        except jwt.InvalidTokenError as exc:
            raise LaunchUnauthorized(f"the id_token is not valid: {exc}") from exc
        aud = claims["aud"]
        # OIDC Core §3.1.3.7 (Security Framework §5.1.3 step 3/4): several audiences need an azp,
        # and an azp must be our client_id.
        if isinstance(aud, list) and len(aud) > 1 and "azp" not in claims:
            raise LaunchUnauthorized("the id_token has several audiences but no azp")
        if "azp" in claims and claims["azp"] != client_id:
            raise LaunchUnauthorized("the id_token azp is not this tool's client_id")
        return self

    def get_deep_link(self) -> HubDeepLink:
        registration = self._registration
        assert registration is not None
        settings = self._get_jwt_body().get(DL_SETTINGS)
        if not settings:
            raise BadLaunch("the launch has no deep_linking_settings")
        return HubDeepLink(registration, self._get_deployment_id(), settings)

    def claims(self) -> dict[str, Any]:
        return dict(self._get_jwt_body())

    def drop_cached(self) -> None:
        """Forget the cached launch: a deep-linking launch answers once. Only deep-linking launches
        are cached (resource-link launches hand their context to the session), so others cost nothing."""
        if self._cached:
            self._service().drop_launch_data(self.get_launch_id())
            self._cached = False


def restore_launch(launch_id: str, request: FlaskRequest, conf: DbToolConf, storage: HubLaunchDataStorage,
                   http: requests.Session) -> HubMessageLaunch:
    """A deep-linking launch saved by ``validate`` and picked up when the instructor submits."""
    if not launch_id.startswith("lti1p3-launch-"):
        raise BadLaunch("unknown launch id")

    def restore() -> HubMessageLaunch:
        launch = HubMessageLaunch.from_cache(launch_id, request, conf, session_service=HubSessionService(request),
                                             cookie_service=FlaskCookieService(request),
                                             launch_data_storage=storage, requests_session=http)
        assert isinstance(launch, HubMessageLaunch)
        launch._cached = True
        return launch

    try:
        return restore()
    except LtiException as exc:
        if "not found" in str(exc).lower() and "registration" not in str(exc).lower():
            raise BadLaunch("this content picker has expired or was already used; "
                            "open it again from the LMS") from exc
        raise LaunchUnauthorized(str(exc)) from exc
