"""The S3-compatible blob store (HOCVU_ATTACHMENTS_STORE=s3): one object per hash in a bucket,
through boto3 (the ``s3`` extra). The composition root imports this module only when the setting
asks for it, so an embedded install needs no boto3.

Object keys are ``<prefix>ab/abcd...``: the prefix lets one bucket serve several hubs, the two
digits spread keys over S3's partitions. ``PutObject`` is atomic (a reader sees a whole object or
none), so no temporary name is needed. Credentials go to the client and nowhere else: nothing here
logs them or puts them in a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lrs.blobs import BlobInfo, BlobKeyError, BlobStoreUnavailable, check_key, check_put

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(cls, *, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                region: str | None = None, access_key_id: str | None = None,
                secret_access_key: str | None = None) -> S3BlobStore:
        """A store over a new boto3 client; None credentials leave boto3's own chain (environment,
        instance profile) to find them."""
        client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            # Bounded waits: a request holding a web worker forever is worse than a 500.
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}))
        return cls(client, bucket, prefix)

    def object_key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}{key[:2]}/{key}"

    def put(self, key: str, data: bytes) -> None:
        object_key = self.object_key(check_put(key, data))
        with _unavailable("put", object_key):
            self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data,
                                   ContentType="application/octet-stream")

    def get(self, key: str) -> bytes | None:
        object_key = self.object_key(key)
        with _unavailable("get", object_key):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=object_key)
            except ClientError as err:
                if _code(err) in _MISSING:
                    return None
                raise
            body: bytes = answer["Body"].read()
            return body

    def delete(self, key: str) -> None:
        object_key = self.object_key(key)
        with _unavailable("delete", object_key):
            # DeleteObject of an absent key succeeds (S3 API): nothing to catch.
            self.client.delete_object(Bucket=self.bucket, Key=object_key)

    def modified(self, key: str) -> datetime | None:
        object_key = self.object_key(key)
        with _unavailable("head", object_key):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=object_key)
            except ClientError as err:
                if _code(err) in _MISSING:
                    return None
                raise
            return _utc(head["LastModified"])

    def scan(self) -> Iterator[BlobInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", ()):
                name = str(obj["Key"])[len(self.prefix):].rpartition("/")[2]
                try:
                    key = check_key(name)
                except BlobKeyError:  # another application's object under the prefix: not ours
                    continue
                if self.object_key(key) == obj["Key"]:
                    yield BlobInfo(key, int(obj["Size"]), _utc(obj["LastModified"]))


@contextmanager
def _unavailable(operation: str, object_key: str) -> Iterator[None]:
    """boto3's errors as BlobStoreUnavailable (an OSError, as the filesystem store raises), naming
    the operation and object only: never the endpoint's credentials."""
    try:
        yield
    except (BotoCoreError, ClientError) as err:
        raise BlobStoreUnavailable(f"S3 {operation} of {object_key} failed: {type(err).__name__}") from err


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
