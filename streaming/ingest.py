"""HLS push ingest: `PUT`/`DELETE /streaming/ingest/<public_id>/<name>`, as ffmpeg's HLS
muxer sends them (`-method PUT`, chunked bodies on one keep-alive connection).

Django's ASGI handler reads a whole request body before any view runs, so the ingest is a
small ASGI application in front of Django (`IngestApp`, wired in config/asgi.py): it checks
the name and the key before reading the body, streams the body to a temporary file in
constant memory, stops at the size cap, and renames the file into place only when the body
is complete. The Django view in views.py does the same for WSGI and the test client.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import OperationalError, close_old_connections

from streaming import keycache, playlists, publishing, selectors, services
from streaming.storage import ObjectTooLarge, PendingObject, get_storage

log = logging.getLogger(__name__)

PREFIX = "/streaming/ingest/"


def in_thread(fn: Any) -> Any:
    """Run `fn` in a worker thread of the pool, not Django's one thread for sync code: the
    streams' requests must not queue behind each other's database work. Each worker thread
    keeps its own database connection (CONN_MAX_AGE, checked by close_old_connections); the
    services lock the rows they change."""
    return sync_to_async(fn, thread_sensitive=False)


@dataclass(frozen=True)
class Answer:
    status: int
    message: str


BAD_NAME = Answer(400, "Bad object name: one file name of letters, digits, - and _, ending "
                       "in .ts, .m4s, .mp4 or .m3u8.")  # fmt: skip


def parse_path(path: str) -> tuple[str, str] | None:
    """(public_id, name) from the part of the path after the prefix, or None if the name is
    not a single safe file name (no slashes, dots only before the extension)."""
    public_id, sep, name = path.partition("/")
    if not sep or not public_id.isalnum() or not playlists.is_valid_name(name):
        return None
    return public_id, name


@dataclass(frozen=True)
class Target:
    """The stream an accepted request writes to."""

    public_id: str
    stream_id: int


def bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authorize(*, public_id: str, authorization: str) -> Target | Answer:
    """Ask the database (selectors.access_stream_for_ingest); remember an accepted stream key
    in the key cache so that the next requests are checked without a query."""
    close_old_connections()
    try:
        stream = selectors.access_stream_for_ingest(
            public_id=public_id, authorization=authorization
        )
    except selectors.IngestRefused as refused:
        log.info("ingest refused", extra={"public_id": public_id, "status": refused.status})
        return Answer(refused.status, refused.message)
    if hmac.compare_digest(services.hash_key(bearer_token(authorization)), stream.key_hash):
        keycache.remember(public_id=public_id, stream_id=stream.pk, key_hash=stream.key_hash)
    return Target(public_id=stream.public_id, stream_id=stream.pk)


async def authorize_async(*, public_id: str, authorization: str) -> Target | Answer:
    """The key cache first (one Redis GET on the event loop), the database otherwise."""
    cached = await keycache.lookup(public_id)
    if cached is not None:
        stream_id, key_hash = cached
        if hmac.compare_digest(services.hash_key(bearer_token(authorization)), key_hash):
            return Target(public_id=public_id, stream_id=stream_id)
    answer: Target | Answer = await in_thread(authorize)(
        public_id=public_id, authorization=authorization
    )
    return answer


class Receiver:
    """One object's body: `feed` chunks (raises ObjectTooLarge past the cap, having discarded
    what it wrote), then `finish` (touches the database for playlists) or `abort`."""

    def __init__(self, target: Target, name: str) -> None:
        self.target = target
        self.name = name
        self.is_playlist = name.endswith(".m3u8")
        self.buffer = bytearray()
        self.pending: PendingObject | None = None
        if not self.is_playlist:
            self.pending = get_storage().open_pending(
                publishing.staged_key_for(target.public_id, name),
                max_bytes=settings.HLS_MAX_OBJECT_BYTES,
            )

    def feed(self, chunk: bytes) -> None:
        if self.pending is not None:
            self.pending.write(chunk)
            return
        self.buffer += chunk
        if len(self.buffer) > playlists.MAX_PLAYLIST_BYTES:
            raise ObjectTooLarge

    def abort(self) -> None:
        if self.pending is not None:
            self.pending.abort()

    def finish(self) -> Answer:
        if self.pending is not None:
            self.pending.commit()
            return Answer(201, "")
        close_old_connections()
        try:
            text = self.buffer.decode("utf-8")
            services.receive_playlist(stream_id=self.target.stream_id, name=self.name, text=text)
        except (UnicodeDecodeError, playlists.PlaylistError) as exc:
            log.warning(
                "bad playlist", extra={"stream_id": self.target.stream_id, "object": self.name}
            )
            return Answer(400, f"Bad playlist: {exc}")
        return Answer(201, "")


# A database that gives no connection: the encoder should retry shortly (Retry-After).
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = Answer(
    503, "The database is busy: nothing was changed. Retry in a few seconds."
)


def too_large() -> Answer:
    return Answer(413, f"Too large: at most {settings.HLS_MAX_OBJECT_BYTES} bytes per object.")


def _complete_body_of_closed_request(receive: Any) -> bytes | None:
    """The unread rest of a request body that arrived complete just before the client closed
    the connection, or None if the body was cut short.

    ffmpeg sends the last chunk of a PUT and, at the end of a stream (and on every request
    when not persistent), closes the socket without waiting for the answer. uvicorn then
    answers `receive()` with `http.disconnect` even though the whole body is in its buffer.
    Its request cycle (the bound `receive`) keeps that buffer in `body` and `more_body`
    (httptools and h11 alike, uvicorn pinned in pyproject.toml; tests/streaming drive this
    with real ffmpeg): a finished body is still a finished upload.
    """
    cycle = getattr(receive, "__self__", None)
    if cycle is None or getattr(cycle, "more_body", True) is not False:
        return None
    body = getattr(cycle, "body", None)
    return bytes(body) if isinstance(body, (bytes, bytearray)) else None


async def _run_requests_pipelined_behind(receive: Any) -> None:
    """Handle the requests the client sent behind this one on its keep-alive connection, if
    it has closed the connection meanwhile.

    At the end of a stream ffmpeg sends its last segment and, without waiting for the answer,
    its last playlist (the one with EXT-X-ENDLIST) on the same connection, then exits.
    uvicorn queues a request that arrives while the previous one is being answered and starts
    it when that answer is sent, except when the connection is already closing: then the
    queued request is dropped, complete as it may be, and the stream would never end. Its
    protocol (the bound `on_response` of the request cycle) keeps that queue in `pipeline`;
    we run what it holds ourselves (uvicorn pinned in pyproject.toml; tests/streaming drive
    this with real ffmpeg).
    """
    cycle = getattr(receive, "__self__", None)
    protocol = getattr(getattr(cycle, "on_response", None), "__self__", None)
    pipeline = getattr(protocol, "pipeline", None)
    transport = getattr(protocol, "transport", None)
    if not pipeline or transport is None or not transport.is_closing():
        return
    while pipeline:
        queued_cycle, app = pipeline.pop()
        await queued_cycle.run_asgi(app)


class IngestApp:
    """ASGI middleware: ingest requests are answered here; everything else goes to `inner`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.inner(scope, receive, send)
            return
        try:
            answer = await self.handle(scope, receive)
        except (OperationalError, psycopg.OperationalError):  # psycopg_pool's PoolTimeout is one
            # No database connection (the pool's timeout, a full or down server): the key check
            # or the playlist's transaction never ran (or was rolled back), so nothing changed
            # and the encoder's retry is safe.
            log.warning("ingest: database unavailable", extra={"path": scope["path"]})
            answer = DATABASE_UNAVAILABLE
        body = (answer.message + "\n").encode() if answer.message else b""
        headers = [(b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        if answer.status == DATABASE_UNAVAILABLE.status:
            headers.append((b"retry-after", str(DATABASE_RETRY_AFTER_S).encode()))
        try:
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except RuntimeError:
            # The encoder closed the connection without waiting for the answer (ffmpeg does,
            # see _complete_body_of_closed_request): the upload was handled all the same.
            pass
        await _run_requests_pipelined_behind(receive)

    async def handle(self, scope: dict[str, Any], receive: Any) -> Answer:
        method = scope["method"]
        if method not in ("PUT", "DELETE"):
            return Answer(405, "Only PUT and DELETE.")
        raw = scope.get("raw_path") or scope["path"].encode()
        # Percent-encoded names are refused outright: what we check is what was sent.
        parsed = None if b"%" in raw else parse_path(scope["path"][len(PREFIX) :])
        if parsed is None:
            return BAD_NAME
        public_id, name = parsed
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        target = await authorize_async(public_id=public_id, authorization=authorization)
        if isinstance(target, Answer):
            return target
        if method == "DELETE":
            services.discard_object(public_id=target.public_id, name=name)  # a file unlink
            return Answer(204, "")
        receiver = Receiver(target, name)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    rest = _complete_body_of_closed_request(receive)
                    if rest is None:
                        receiver.abort()
                        return Answer(400, "Client went away.")
                    receiver.feed(rest)
                    break
                # Local-disk writes of ffmpeg-sized chunks are page-cache copies: cheaper
                # inline than a thread hop per chunk.
                receiver.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except ObjectTooLarge:
            receiver.abort()
            return too_large()
        except BaseException:
            receiver.abort()
            raise
        answer: Answer = await in_thread(receiver.finish)()
        return answer
