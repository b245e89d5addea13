"""Migration 0021: documents stored with an Activity id or Agent key longer than 512 bytes (as
SQLite kept any, and PostgreSQL some) are found again after the upgrade, under their hashed key
(lrs.documents.key_part; xAPI 1.0.3 Part Three §2.7.s3: GET returns the document stored)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from sqlalchemy import insert, select

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Document
from tests.conftest import run_instance

ACTIVITY = "https://hocvu.vn/" + "a" * 700


def test_long_document_keys_are_rewritten_and_found_again(fresh_url: str) -> None:
    database = Database(fresh_url)
    dbops.upgrade(database, "0020")
    dbops.upgrade(database, "0120")  # the tenants' own columns of today (ministry, province), so the ORM can write one
    with database.session() as s:
        tenant = credentials.create_tenant(s, "mig", "Migration")
        cred, secret = credentials.create_credential(s, tenant, "t", ["all"])
        s.execute(insert(Document.__table__), [{
            "tenant_id": tenant.id, "kind": "activity_profile", "activity_id": ACTIVITY, "agent_key": "",
            "registration": "", "doc_id": "p", "content_type": "application/json", "content": b'{"kept": true}',
            "etag": "e", "updated": datetime.now(UTC)}])
        s.commit()
    dbops.upgrade(database)
    with database.session() as s:
        assert s.scalar(select(Document.activity_id)).startswith("#sha256:")
    client = create_app(Settings.of(instance_dir=run_instance(),
                                    database_url=fresh_url, secret_key="t"), db=database).test_client()
    token = base64.b64encode(f"{cred.key}:{secret}".encode()).decode()
    res = client.get("/xapi/activities/profile", query_string={"activityId": ACTIVITY, "profileId": "p"},
                     headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0"})
    assert res.status_code == 200 and json.loads(res.get_data()) == {"kept": True}
    database.dispose()
