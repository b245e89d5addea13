"""Reserved extensions: statement extensions only a trusted signer may write (e.g. the hub's
identity stamp), and the rule ``lrs.statements.store`` applies to them.

The checks are injected by the composition root (``lrs`` never imports ``identity``: DESIGN.md)
and kept in the database's sessions' ``info`` under ``RESERVED_KEY``, like the audit policy, so
in-process writers meet the same rule as the HTTP resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lrs.errors import BadRequest

# IRI -> check(statement, JWS bytes of its signatures) returning why the statement may not carry
# it, or None.
ReservedCheck = Callable[[dict[str, Any], list[bytes]], str | None]
RESERVED_KEY = "lrs.reserved_extensions"
_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # what a JSON writer must escape in a string


def _extension_keys(node: Any, found: set[str]) -> None:
    """Every key of every ``extensions`` object in ``node`` (context, result, Activity definitions,
    SubStatements: xAPI 1.0.3 Part Two §2.4.6.2, §2.4.5, §2.4.4.1, §5.3)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "extensions" and isinstance(value, dict):
                found.update(value)
            _extension_keys(value, found)
    elif isinstance(node, list):
        for item in node:
            _extension_keys(item, found)


def reserved_needles(reserved: Mapping[str, ReservedCheck]) -> list[bytes] | None:
    """The reserved IRIs as they appear in a statement's compact JSON (``may_carry``), worked out
    once a request; None when one has a character a JSON writer escapes (then every statement is
    walked)."""
    if any(_ESCAPED.search(iri) for iri in reserved):
        return None
    return [iri.encode() for iri in reserved]


def may_carry(text: bytes | None, needles: list[bytes] | None) -> bool:
    """Whether a statement whose compact JSON (orjson's, of the statement as sent) is ``text`` can
    carry a reserved extension, without walking it (a batch's statements mostly carry none). That
    writer escapes only ``"``, ``\\`` and control characters and writes the rest as UTF-8, so an
    IRI free of those appears in the text verbatim wherever it is a key. No text, or no needles:
    maybe (the walk decides)."""
    if text is None or needles is None:
        return True
    return any(needle in text for needle in needles)


def check_reserved(statement: dict[str, Any], signatures: list[bytes],
                   reserved: Mapping[str, ReservedCheck]) -> None:
    """Refuse ``statement`` when it carries a reserved extension its check does not allow."""
    used: set[str] = set()
    _extension_keys(statement, used)
    for iri in sorted(used & reserved.keys()):
        reason = reserved[iri](statement, signatures)
        if reason is not None:
            # 400 like any statement the LRS will not store (Part Three §2.1.2); the batch is atomic.
            raise BadRequest(f"statement {statement['id']} carries the reserved extension {iri}, "
                             f"which only the hub may write: {reason}")
