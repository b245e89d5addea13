"""Deep Linking 2.0: which catalogue items an instructor may pick, and the content items we
answer with (no Flask; the blueprint renders the picker and posts the signed response).

Each picked item becomes an ``ltiResourceLink`` (Deep Linking 2.0 §3.1) whose launch URL is
our /lti/launch and whose ``custom`` parameters carry ``target=<catalogue reference>``: the
platform sends them back in every launch of that link (LTI Core 1.3 §5.4.6), which is how the
launch knows what to open. Graded items carry a ``lineItem`` (§3.1 "lineItem") so the platform
creates the gradebook column AGS scores go to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem

from lti_tool.errors import BadLaunch

# A graded item the catalogue gives no maximum for is marked out of 100 (AGS 2.0 §3.2.4:
# scoreMaximum MUST be a number greater than 0).
DEFAULT_SCORE_MAXIMUM = 100.0
LINEITEM_TAG = "hocvu"


class CatalogueEntry(Protocol):
    """What we read of ``player.catalogue.CatalogueItem`` (read-only: it is a frozen dataclass)."""

    @property
    def target(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def graded(self) -> bool: ...
    @property
    def max_score(self) -> float | None: ...


@dataclass(frozen=True)
class PickerSettings:
    """The parts of the deep_linking_settings claim (Deep Linking 2.0 §4.4.1) the picker obeys."""

    accept_multiple: bool
    accept_lineitem: bool
    title: str = ""

    @classmethod
    def from_claim(cls, settings: Mapping[str, Any]) -> PickerSettings:
        if "ltiResourceLink" not in (settings.get("accept_types") or []):
            raise BadLaunch("the platform does not accept LTI resource links from this tool")
        return cls(accept_multiple=_flag(settings.get("accept_multiple"), default=True),
                   accept_lineitem=_flag(settings.get("accept_lineitem"), default=True),
                   title=str(settings.get("title") or ""))


def _flag(value: Any, *, default: bool) -> bool:
    # The claim allows JSON booleans and, in older platforms, the strings "true"/"false".
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def load_catalogue(locale: str) -> list[CatalogueEntry]:
    """Every item of the player's catalogue (the app's: HOCVU_COURSES_DIR or the shipped courses)."""
    from player import pages

    return list(pages.catalogue().list_items(locale))


def choose(items: Sequence[CatalogueEntry], picked: Iterable[str], settings: PickerSettings) -> list[CatalogueEntry]:
    """The catalogue items behind the submitted targets, in catalogue order. Form values are
    never trusted: only targets the catalogue lists can be linked."""
    wanted = {t for t in picked if t}
    by_target = {item.target: item for item in items}
    unknown = wanted - by_target.keys()
    if unknown:
        raise BadLaunch(f"not in the catalogue: {', '.join(sorted(unknown))}")
    chosen = [item for item in items if item.target in wanted]
    if len(chosen) > 1 and not settings.accept_multiple:
        raise BadLaunch("the platform accepts one item here; pick only one")
    return chosen


def resource_links(chosen: Sequence[CatalogueEntry], settings: PickerSettings,
                   launch_url: str) -> list[DeepLinkResource]:
    resources = []
    for item in chosen:
        resource = (DeepLinkResource().set_title(item.title).set_url(launch_url)
                    .set_custom_params({"target": item.target}))
        # §4.4.1 accept_lineitem: when false the platform will not create line items, so we send none.
        if item.graded and settings.accept_lineitem:
            maximum = float(item.max_score) if item.max_score and item.max_score > 0 else DEFAULT_SCORE_MAXIMUM
            resource.set_lineitem(LineItem().set_score_maximum(maximum).set_label(item.title)
                                  .set_resource_id(item.target).set_tag(LINEITEM_TAG))
        resources.append(resource)
    return resources
