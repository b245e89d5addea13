"""Where an archived month lives and what its files hold (the format, ``hocvu-archive/1``).

* ``statements.parquet``: one row per statement of the tenant's month, in ``seq`` order: the store's
  indexed columns (``COLUMNS``) and ``statement``, the statement as stored, as canonical JSON (RFC
  8785, ``lrs.jcs``), so its SHA-256 is the chain entry's ``content_hash``. Tenant and month are in
  the path (Hive style): DuckDB reads ``read_parquet('DIR/**/statements.parquet', hive_partitioning
  = true)``, Spark ``spark.read.parquet`` on the directory.
* ``chain.jsonl``: the chain segment that proves them, one entry per line as ``hocvu audit``
  bundles hold them (``lrs.audit.chain.entry_dict``): from the first archived statement's entry
  to the signed checkpoint covering the last, so it verifies offline (``lrs.audit.verify.verify_segment``).
* ``manifest.json``: format, tenant, month, statement count, the archived entries' positions (as
  [first, last] runs), the checkpoints of the segment, and each file's size, rows and SHA-256. Its
  own SHA-256 is kept in the hub's ``statement_archives`` registry.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Final

FORMAT: Final = "hocvu-archive/1"
STATEMENTS_FILE: Final = "statements.parquet"
CHAIN_FILE: Final = "chain.jsonl"
MANIFEST_FILE: Final = "manifest.json"
# The store's columns kept beside the statement (lrs.storage.Statement, tenant_id in the path).
COLUMNS: Final = ("seq", "statement_id", "verb_id", "actor_key", "object_type", "object_activity_id",
                  "object_agent_key", "object_statement_id", "registration", "timestamp", "stored", "voided",
                  "is_voiding", "credential_id")


def month_dir(root: Path, tenant: str, month: date) -> Path:
    return root / f"tenant={tenant}" / f"month={month:%Y-%m}"


def where(tenant: str, month: date) -> str:
    return f"tenant={tenant}/month={month:%Y-%m}"


def runs(positions: list[int]) -> list[list[int]]:
    """Sorted positions as [first, last] runs of consecutive ones."""
    out: list[list[int]] = []
    for p in sorted(positions):
        if out and p == out[-1][1] + 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return out
