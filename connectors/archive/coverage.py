"""Which archived months an export's, a report's or a DataFrame's time range covers (issue 17 item 2
follow-up).

An archived month's statements have left the store, so an export, a report window or a notebook
frame over a range that covers it would silently lack them: ``archived_in`` lists them from the
registry (``statement_archives``; the archive's month is the month of ``stored``, the export's own
bound), with their statement counts, so each can say so (``warning`` on stderr or as a Python
warning, ``header`` in an HTTP header) and point to the archive, which DuckDB or Spark read as they
read the lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs import partitions
from lrs.storage import StatementArchive

HOW: Final = ("read them from the lake archive (`hocvu lake archive --to DIR`): DuckDB read_parquet("
              "'DIR/**/statements.parquet', hive_partitioning = true), or Spark spark.read.parquet('DIR')")


def archived_in(session: Session, tenants: Sequence[tuple[int, str]], since: datetime | None,
                bound: datetime) -> list[dict[str, Any]]:
    """The archived months of ``tenants`` (id, slug) overlapping ``since < stored <= bound``:
    ``{"tenant", "month", "statements"}`` in tenant then month order."""
    slugs = dict(tenants)
    if not slugs:
        return []
    rows = session.execute(select(StatementArchive.tenant_id, StatementArchive.month, StatementArchive.statements)
                           .where(StatementArchive.tenant_id.in_(list(slugs)),
                                  StatementArchive.month <= bound.astimezone(UTC).date())).all()
    out = []
    for tenant_id, month, count in rows:
        end = datetime.combine(partitions.add_months(month, 1), datetime.min.time(), UTC)
        if since is None or end > since.astimezone(UTC):
            out.append({"tenant": slugs[tenant_id], "month": f"{month:%Y-%m}", "statements": int(count)})
    return sorted(out, key=lambda a: (a["tenant"], a["month"]))


def warning(archived: Sequence[dict[str, Any]], what: str = "export") -> str:
    """The line that names them, for ``what`` ("export", "report", "frame") that lacks them."""
    months = ", ".join(f"{a['tenant']} {a['month']} ({a['statements']} statements)" for a in archived)
    return (f"warning: the range covers archived month(s) not in this {what}: {months}; {HOW}")


def header(archived: Sequence[dict[str, Any]]) -> str:
    """An HTTP header's value naming them: ``<tenant>/<YYYY-MM>=<count>, ...``."""
    return ", ".join(f"{a['tenant']}/{a['month']}={a['statements']}" for a in archived)
