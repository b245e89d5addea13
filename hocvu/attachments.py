"""The attachment blob store, chosen at start-up from the settings (HOCVU_ATTACHMENTS_STORE and
the settings beside it) and registered on a database's sessions (``lrs.blobs.BLOBS_KEY``), where
every reader and writer of attachment bytes in lrs and connectors finds it. boto3 is imported only
when the S3 store is asked for, so the embedded install does not need it."""

from __future__ import annotations

import dataclasses

from hocvu.settings import SettingError, Settings
from hocvu.settings_attachments import AttachmentSettings
from lrs.blobs import BLOBS_KEY, BlobStore
from lrs.blobs.filesystem import FileBlobStore
from lrs.storage import Database


def blob_store(settings: Settings) -> BlobStore:
    """The filesystem store under HOCVU_ATTACHMENTS_DIR (default ``<instance>/attachments``), or the
    S3 store when HOCVU_ATTACHMENTS_STORE=s3. Creating either touches no disk and no network."""
    a = settings.attachments
    if a.attachments_store != "s3":
        return FileBlobStore(a.attachments_dir or settings.hub.instance_dir / "attachments")
    try:
        from lrs.blobs.s3 import S3BlobStore
    except ImportError:
        field = next(f for f in dataclasses.fields(AttachmentSettings) if f.name == "attachments_store")
        raise SettingError(field.metadata["var"], "s3", "s3 only with boto3 installed (pip install 'hocvu[s3]')") \
            from None
    return S3BlobStore.connect(bucket=a.attachments_s3_bucket, prefix=a.attachments_s3_prefix,
                               endpoint_url=a.attachments_s3_endpoint_url, region=a.attachments_s3_region,
                               access_key_id=a.attachments_s3_access_key_id,
                               secret_access_key=a.attachments_s3_secret_access_key)


def register(database: Database, store: BlobStore) -> None:
    """Every session of ``database`` finds ``store`` in its ``info`` (after ``lrs.http.init_app``,
    which sets that ``info`` anew)."""
    info = dict(database.sessions.kw.get("info") or {})
    info[BLOBS_KEY] = store
    database.sessions.configure(info=info)
