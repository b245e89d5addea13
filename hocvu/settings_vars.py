"""How one ``HOCVU_*`` variable is declared, read and checked (``Var``, ``var``, ``SettingError``);
the tree of them is ``hocvu.settings``."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingError(ValueError):
    """A variable's value is not allowed: the message is one line, naming the variable, the value
    (never a secret's) and what is allowed."""

    def __init__(self, var: Var, raw: str, allowed: str) -> None:
        shown = "(hidden)" if var.secret else repr(raw)
        super().__init__(f"{var.env}={shown} is not allowed: {allowed}")
        self.var, self.allowed = var, allowed


@dataclass(frozen=True)
class Var:
    """One ``HOCVU_*`` variable: how to read it and what it may be."""

    env: str
    kind: str                                  # a key of _KINDS: "str", "int", "float", "bool", "key", ...
    help: str
    unit: str = ""
    low: float | None = None                   # inclusive bounds for numbers
    high: float | None = None
    above: float | None = None                 # an exclusive lower bound (a positive number)
    choices: tuple[str, ...] = ()
    zero_off: bool = False                     # 0 is also allowed, meaning "off", below the lower bound
    secret: bool = False
    default_text: str = ""                     # how the README shows a default computed at start-up

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = {"int": "a whole number", "float": "a number", "bool": "1/0, true/false, yes/no or on/off",
                "url": "a URL", "path": "a file or folder path", "paths": f"paths separated by {os.pathsep!r}",
                "words": "words separated by spaces", "str": "text",
                "key": "standard base64 of 16, 24 or 32 random bytes"}[self.kind]
        bounds = []
        if self.low is not None:
            bounds.append(f"at least {_num(self.low)}")
        if self.above is not None:
            bounds.append(f"more than {_num(self.above)}")
        if self.high is not None:
            bounds.append(f"at most {_num(self.high)}")
        unit = f" ({self.unit})" if self.unit else ""
        off = " (or 0: off)" if self.zero_off else ""
        return what + unit + (", " + " and ".join(bounds) if bounds else "") + off

    def parse(self, raw: str) -> Any:
        text = raw.strip()
        try:
            value = _KINDS[self.kind](text)
        except ValueError:
            raise SettingError(self, raw, self.allowed()) from None
        if self.choices and value not in self.choices:
            raise SettingError(self, raw, self.allowed())
        if isinstance(value, int | float) and not isinstance(value, bool) and not self._in_range(value):
            raise SettingError(self, raw, self.allowed())
        return value

    def _in_range(self, value: float) -> bool:
        if self.zero_off and value == 0:
            return True
        return ((self.low is None or value >= self.low) and (self.high is None or value <= self.high)
                and (self.above is None or value > self.above) and value == value)  # NaN is never in range


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _url(text: str) -> str:
    if "://" not in text or any(c.isspace() for c in text):
        raise ValueError(text)
    return text


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _key(text: str) -> str:
    """A symmetric key given as standard base64 (kept as text: the package decodes it)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(text) from None
    if len(raw) not in (16, 24, 32):
        raise ValueError(text)
    return text


_KINDS: dict[str, Any] = {
    "str": str, "int": int, "float": _float, "bool": _bool, "url": _url, "path": Path, "key": _key,
    "paths": lambda t: tuple(Path(p) for p in t.split(os.pathsep) if p.strip()),
    "words": lambda t: tuple(t.split()),
}


def var(default: Any, env: str, kind: str, help: str, **kw: Any) -> Any:
    """A settings field read from ``env``."""
    return field(default=default, metadata={"var": Var(env, kind, help, **kw)})
