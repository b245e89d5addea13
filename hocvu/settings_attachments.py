"""The attachments' group of the settings tree (``hocvu.settings``): where xAPI attachment bytes live
(lrs.blobs). A module of its own only to keep ``hocvu.settings`` under the size rule; the tree,
its parsing and the README table are ``hocvu.settings``'s."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hocvu.settings_vars import SettingError, var


@dataclass(frozen=True)
class AttachmentSettings:
    """Where xAPI attachment bytes live (lrs.blobs; the database keeps their metadata)."""

    attachments_store: str = var("filesystem", "HOCVU_ATTACHMENTS_STORE", "str",
                                 "where attachment bytes live: files, or an S3-compatible bucket",
                                 choices=("filesystem", "s3"))
    attachments_dir: Path | None = var(None, "HOCVU_ATTACHMENTS_DIR", "path", "the filesystem store's folder",
                                       default_text="<instance>/attachments")
    attachments_s3_bucket: str = var("", "HOCVU_ATTACHMENTS_S3_BUCKET", "str", "s3: the bucket (it must exist)")
    attachments_s3_prefix: str = var("", "HOCVU_ATTACHMENTS_S3_PREFIX", "str",
                                     "s3: a key prefix, e.g. hocvu/attachments/ (several hubs, one bucket)")
    attachments_s3_endpoint_url: str | None = var(None, "HOCVU_ATTACHMENTS_S3_ENDPOINT_URL", "url",
                                                  "s3: the endpoint of an S3-compatible service (MinIO, Ceph...)",
                                                  default_text="AWS S3")
    attachments_s3_region: str | None = var(None, "HOCVU_ATTACHMENTS_S3_REGION", "str", "s3: the region",
                                            default_text="boto3's default")
    attachments_s3_access_key_id: str | None = var(None, "HOCVU_ATTACHMENTS_S3_ACCESS_KEY_ID", "str",
                                                   "s3: the access key id", secret=True,
                                                   default_text="boto3's chain (environment, instance role)")
    attachments_s3_secret_access_key: str | None = var(None, "HOCVU_ATTACHMENTS_S3_SECRET_ACCESS_KEY", "str",
                                                       "s3: its secret access key", secret=True,
                                                       default_text="boto3's chain")
    # A blob written by a request that has not committed yet has no row: the sweep leaves blobs
    # younger than this alone (`hocvu attachments sweep`).
    attachments_sweep_grace_hours: float = var(24.0, "HOCVU_ATTACHMENTS_SWEEP_GRACE_HOURS", "float",
                                               "the sweep removes unreferenced blobs older than this",
                                               unit="hours", low=1, high=8760)

    def check(self) -> None:
        if self.attachments_store == "s3" and not self.attachments_s3_bucket.strip():
            bucket = next(f for f in dataclasses.fields(self) if f.name == "attachments_s3_bucket")
            raise SettingError(bucket.metadata["var"], "", "a bucket name when HOCVU_ATTACHMENTS_STORE is s3")
