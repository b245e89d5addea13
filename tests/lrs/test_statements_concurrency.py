"""Concurrent writers: real threads, real database, separate sessions. Two requests that define
the same new Activity or carry the same attachment at the same moment must both succeed
(DESIGN.md: no request crashes into a 500), and the Activity keeps what both said."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from flask import Flask

from tests.conftest import Xapi, new_credential, statement


def _run_together(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def go(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_batches_defining_the_same_new_activity(app: Flask) -> None:
    _, key, secret = new_credential(app, ["all"])
    for _round in range(5):
        activity = f"https://hocvu.vn/courses/race/{uuid.uuid4()}"

        def work(i: int, activity: str = activity) -> int:
            x = Xapi(app.test_client(), key, secret, "2.0.0")
            batch = [statement(object={"id": activity, "definition": {"name": {f"x-lang{i}": f"tên {i}"}}})
                     for _ in range(20)]
            return int(x.post("statements", json_body=batch).status_code)

        assert _run_together(4, work) == [200] * 4
        x = Xapi(app.test_client(), key, secret)
        names = x.get("activities", activityId=activity).get_json()["definition"]["name"]
        # Part Three §2.5: the Activity holds all the information the statements gave.
        assert set(names) == {f"x-lang{i}" for i in range(4)}


def test_concurrent_statements_with_the_same_attachment(app: Flask) -> None:
    import hashlib
    import json

    _, key, secret = new_credential(app, ["all"])
    content = b"chung chi hoan thanh khoa hoc"
    sha2 = hashlib.sha256(content).hexdigest()

    def work(i: int) -> int:
        st = statement(attachments=[{"usageType": "https://hocvu.vn/attachments/certificate",
                                     "display": {"vi": "Chứng chỉ"}, "contentType": "text/plain",
                                     "length": len(content), "sha2": sha2}])
        body = (b"--b\r\nContent-Type: application/json\r\n\r\n" + json.dumps(st).encode() +
                b"\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
                b"X-Experience-API-Hash: " + sha2.encode() + b"\r\n\r\n" + content + b"\r\n--b--\r\n")
        x = Xapi(app.test_client(), key, secret)
        return int(x.post("statements", data=body, headers={"Content-Type": "multipart/mixed; boundary=b"}).status_code)

    assert _run_together(4, work) == [200] * 4
