"""Archiving a month of statements to the Parquet lake with its audit-chain proof (issue 17 item 2).

``writer`` writes a month's partition, tenant by tenant, to
``DIR/tenant=<slug>/month=<YYYY-MM>/{statements.parquet, chain.jsonl, manifest.json}``, fsyncs and
reads it back before the partition may be dropped; ``reader`` reads it back, for that check and for
``hocvu audit verify --archive DIR`` (lrs.audit.archived). ``hocvu lake archive`` composes them with
``lrs.partitions.drop_month``. Archived statements are served from the lake, not the LRS: a GET of
their id is a 404 and their ids stay taken (a re-send is 409 Conflict). ``eraser`` applies the
privacy erasures recorded since (``hocvu lake erase --archive DIR``): each month rewritten without the
learner's rows, crash-safely, with 'erased' chain entries naming them. ``reader.LakeArchive.find``
reads chosen rows back for proof bundles (``hocvu audit bundle --archive DIR``); ``coverage`` tells an
export which archived months its range covers.
"""

from connectors.archive.layout import CHAIN_FILE, FORMAT, MANIFEST_FILE, STATEMENTS_FILE, month_dir

__all__ = ["CHAIN_FILE", "FORMAT", "MANIFEST_FILE", "STATEMENTS_FILE", "month_dir"]
