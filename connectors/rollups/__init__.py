"""Report rollups: the figures of ``connectors.reports`` kept in SQL, up to date incrementally, so
the dashboard reads a few rows per group instead of every statement (issue 17 item 3). Modules:
``state`` one enrolment's sums, ``delta`` how statements change the tables, ``refresh`` the
watermark and its lock, ``report`` the report read from the tables, ``archived`` and
``archived_voids`` what archived months keep in them.

Three tables (``connectors.storage``), every key led by ``tenant_id``:

* ``report_enrolments``: one row per enrolment (tenant, course, learner) holding *sums* over its
  statements (completions, graded attempts, passes, verified attempts, durations) and the earliest
  timestamp, so a new statement is added to its row;
* ``report_groups``: per tenant, the figures of each group of each breakdown (tenant, course,
  province, ISO week), changed by the difference between an enrolment's old and new state;
* ``report_group_learners``: per group, each learner's enrolments there: distinct-learner counts
  (and k-anonymity's union of hidden groups) stay exact without reading statements.

Refresh (``refresh``; ``hocvu rollups refresh``; a periodic task in the web process): tenant by
tenant, statements after the tenant's watermark (the keyset ``stored``, ``seq``) and at most
``now - settle`` (statements get ``stored`` before they commit, as for exports), in batches, each
batch one transaction that moves the watermark with the figures. The watermark row is updated
first, so it is a row lock on PostgreSQL (and the write lock on SQLite): two workers never apply a
batch twice; the second waits, then starts from where the first ended.

Voiding: a statement already voided when read is never counted; a voiding statement makes its
target's enrolment be recomputed from its statements not voided (a few rows, by the learner's
index), replacing the sums. Erasure (``forget_learner``) does the same for the erased learner.
Fresh reads: a report adds the *tail* (statements after the watermark, up to now) to the figures
in memory, read-only (``tail``), so a page shows what was just stored and needs no write, on a
replica too; the watermark itself stays ``settle`` behind, where no commit can still land.

Archived months (``archived``): their statements leave the store, their sums per enrolment stay
(taken when ``hocvu lake archive`` drops the partition, once the watermark is past them), so a
rebuild starts from them and a voiding's recompute adds them; a rebuild refuses, naming them, while
a month archived before those sums were kept has none, unless given the lake to compute them from.
A statement voided after its month was archived is noted by the refresh and taken out from the lake
(``archived_voids``, ``hocvu rollups refresh --archive DIR``).

Province: the learner's record (roster import), else the tenant's own province (``hocvu tenant
set``), else unknown; ``restate_provinces`` moves enrolments when either changes.
"""

from connectors.rollups.archived import RebuildRefused
from connectors.rollups.refresh import Counted, forget_learner, lag, rebuild, refresh, restate_provinces, tail

__all__ = ["Counted", "RebuildRefused", "forget_learner", "lag", "rebuild", "refresh", "restate_provinces", "tail"]
