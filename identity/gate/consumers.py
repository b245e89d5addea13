"""What the identity gate needs from whatever it guards, and the registry of those *consumers*.

The gate knows nothing of quizzes or LMSs. A consumer (the course player, LTI Proctoring) registers
itself at start-up under the form field that names what a gate request is for (``target=...``,
``proctoring=...``), the way Authlib registers grants; the gate's pages hand that field's value to
the consumer, which answers with a ``GateFor``: the learner's external identity, the gate's key and
requirement, and where the check statements go (``CheckContext``). A consumer raises a
``GateError`` (or its own page error, rendered by its own handler) when the value names nothing
this browser may open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, current_app, url_for
from sqlalchemy.orm import Session

from identity.gate.domain import ExternalId, GateKey

EXTENSION = "identity.gate.consumers"
Writer = Callable[[Session, list[dict[str, Any]]], list[str]]


@dataclass(frozen=True)
class CheckContext:
    """Where a face check's statement goes: the learner's actor, the activity checked for (its
    ``parent``, and the object's IRI is ``<parent id>/identity-check``), its grouping, and the
    consumer's writer (which stores it in the tenant's LRS and has it sealed)."""

    actor: dict[str, Any]
    parent: dict[str, Any]
    write: Writer
    grouping: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class GateFor:
    """What one gate request is for, as its consumer says."""

    external: ExternalId
    key: GateKey
    min_level: int
    title: Mapping[str, str]
    checks: CheckContext
    fields: dict[str, str]                   # the consumer's field, then "next": what leads back here
    locale: str = "vi"                       # the consumer's language, when the learner chose none
    way: str | None = None                   # where a gate error sends the learner (None: this gate)

    @property
    def next(self) -> str:
        return self.fields["next"]

    def url(self, **params: str) -> str:
        # As url_for's **values (Any): mypy cannot know that no key of these is one of its own (_external: bool).
        fields: Mapping[str, Any] = self.fields
        extra: Mapping[str, Any] = params
        return url_for("identity_gate.gate", **fields, **extra)


class GateConsumer(Protocol):
    def gate_for(self, value: str, next_url: str | None) -> GateFor:
        """The gate ``value`` names for this browser; ``next_url`` is a same-site path or None."""
        ...


@dataclass
class Consumers:
    by_field: dict[str, GateConsumer] = field(default_factory=dict)
    default: str | None = None        # the consumer of a gate request that names none

    def register(self, name: str, consumer: GateConsumer, *, default: bool = False) -> None:
        if name in ("next", "csrf") or name in self.by_field:
            raise ValueError(f"a gate consumer is already registered under {name!r}")
        self.by_field[name] = consumer
        if default:
            self.default = name


def register_consumer(app: Flask, name: str, consumer: GateConsumer, *, default: bool = False) -> None:
    """Called by each consumer's ``init_app``: gate requests with the form field ``name`` are its
    (and those that name no consumer, for the ``default`` one)."""
    app.extensions.setdefault(EXTENSION, Consumers()).register(name, consumer, default=default)


def consumers() -> Consumers:
    found: Consumers = current_app.extensions.setdefault(EXTENSION, Consumers())
    return found
