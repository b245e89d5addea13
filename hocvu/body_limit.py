"""The request body limit (HOCVU_MAX_BODY_BYTES) on the bytes actually received, whatever the framing.

A body with ``Content-Length`` is judged by it (Werkzeug answers 413 before reading). A chunked body
(RFC 9112 §7.1) has none: gunicorn passes it on as a stream and Werkzeug 3 reads such a stream up
to the limit *and stops there without an error*, so a statement batch over the limit whose first
64 MiB parse was stored, truncated, with a 200 (issue 13 case 5). This middleware, outermost,
reads a length-less body itself, at most one byte past the limit:

* within the limit, the body is handed on with its real ``Content-Length`` (so every reader,
  the alternate request syntax included, sees the same request as if it had been sent with one);
* past it, the request goes on with an empty body and a ``Content-Length`` that says it is too
  large, so the app answers its usual 413 in its usual shape (xAPI: ``{"error": ...}``).

Any 413 also closes the connection: the rest of a refused body is never read, and a server that
kept the connection would have to read (and throw away) all of it before the next request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any, Final

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CHUNK: Final = 64 * 1024
SPOOL: Final = 1024 * 1024  # bodies past this wait on disk, not in a second copy in memory


def _length_less(environ: dict[str, Any]) -> bool:
    if environ.get("CONTENT_LENGTH"):
        return False
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    # wsgi.input_terminated: the server ends the stream itself (gunicorn), so reading cannot hang;
    # only a method that carries a body is worth reading (a GET's stream is empty).
    return bool(environ.get("wsgi.input_terminated")) and environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH")


def _read_at_most(stream: IO[bytes], limit: int) -> tuple[IO[bytes], int]:
    """The body spooled, and how many bytes were read (limit + 1 means "more than limit")."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (handed on, closed by the server)
    received = 0
    while received <= limit:
        data = stream.read(min(CHUNK, limit + 1 - received))
        if not data:
            break
        spool.write(data)
        received += len(data)
    spool.seek(0)
    return spool, received


class BodyLimit:
    def __init__(self, app: WsgiApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _length_less(environ):
            body, received = _read_at_most(environ["wsgi.input"], self.max_body)
            if received > self.max_body:
                body.close()
                body, received = tempfile.SpooledTemporaryFile(max_size=SPOOL), self.max_body + 1  # noqa: SIM115
            environ["wsgi.input"] = body
            environ["CONTENT_LENGTH"] = str(received)
            environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body as handed on is not chunked

        def closing_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if status.startswith("413"):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"] + [("Connection", "close")]
            return start_response(status, headers, *args)

        return self.app(environ, closing_start_response)
