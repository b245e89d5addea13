"""Reserved extensions: statement extensions only a trusted signer may write (e.g. the hub's
identity stamp), and the rule ``lrs.statements.store`` applies to them.

The checks are injected by the composition root (``lrs`` never imports ``identity``: DESIGN.md)
and kept in the database's sessions' ``info`` under ``RESERVED_KEY``, like the audit policy, so
in-process writers meet the same rule as the HTTP resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lrs.errors import BadRequest

# IRI -> check(statement, JWS bytes of its signatures) returning why the statement may not carry
# it, or None.
ReservedCheck = Callable[[dict[str, Any], list[bytes]], str | None]
RESERVED_KEY = "lrs.reserved_extensions"


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
