"""Where HLS objects live: a small interface and its local-disk implementation.

Keys are relative paths built by our own code (`live/<public_id>/<rendition>/12.ts`), never
from a request as is. Two areas:

- `ingest/<public_id>/<name>`: what the encoder PUT, not served to anyone;
- `live/<public_id>/…`: what we published; nginx serves this tree as is (deploy/nginx/).

Writes are atomic: an object is written to a temporary file and renamed into place, so a
reader (nginx, a player) never sees half a file. An S3-compatible implementation would do the
same with a multipart upload completed at `commit` and copy-then-delete for `move`.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from django.conf import settings


class ObjectTooLarge(Exception):
    """The body went past the size cap; nothing was stored."""


class PendingObject(ABC):
    """An object being written. `write` raises ObjectTooLarge past the cap (and discards what
    was written); `commit` makes it visible under its key at once; `abort` discards it."""

    size: int

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class Storage(ABC):
    @abstractmethod
    def open_pending(
        self, key: str, *, max_bytes: int, started_at: datetime | None = None
    ) -> PendingObject:
        """An object to write; `started_at`: when its upload began (default: now)."""

    def put(self, key: str, data: bytes) -> None:
        pending = self.open_pending(key, max_bytes=len(data))
        pending.write(data)
        pending.commit()

    @abstractmethod
    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """The object's bytes, or None if there is none (or it is larger than max_bytes)."""

    @abstractmethod
    def size(self, key: str) -> int | None: ...

    @abstractmethod
    def started_at(self, key: str) -> datetime | None:
        """When the object's upload began (when open_pending was called, unless it said
        otherwise), kept across `move`; None if there is no such object."""

    @abstractmethod
    def move(self, src: str, dst: str) -> bool:
        """Rename src to dst atomically (replacing dst). False if src does not exist."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """The file behind a key, for serving it; None where objects are not files."""


class _LocalPending(PendingObject):
    def __init__(
        self, path: Path, tmp_dir: Path, max_bytes: int, started_at: datetime | None
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        # Opened when the request's headers are checked, before its body: its start.
        self.started_at = started_at or datetime.now(UTC)
        self.size = 0
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".up-")
        self.tmp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise ObjectTooLarge
        self.file.write(chunk)

    def commit(self) -> None:
        self.file.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.chmod(0o644)
        # The file's modification time is the upload's start: a rename keeps it.
        stamp = self.started_at.timestamp()
        os.utime(self.tmp, (stamp, stamp))
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


class LocalStorage(Storage):
    """Files under a root directory (MEDIA_ROOT); fine on tmpfs. Temporary files are made in
    `<root>/.tmp`, on the same file system, so that the final rename is atomic."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / ".tmp"

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad storage key {key!r}")
        return self.root.joinpath(*parts)

    def open_pending(
        self, key: str, *, max_bytes: int, started_at: datetime | None = None
    ) -> PendingObject:
        path = self._path(key)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return _LocalPending(path, self.tmp_dir, max_bytes, started_at)

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        try:
            with self._path(key).open("rb") as f:
                data = f.read(max_bytes + 1)
        except FileNotFoundError:
            return None
        return None if len(data) > max_bytes else data

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def started_at(self, key: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self._path(key).stat().st_mtime, tz=UTC)
        except FileNotFoundError:
            return None

    def move(self, src: str, dst: str) -> bool:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self._path(src), target)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return
        for path in sorted(_walk(base), reverse=True):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        base.rmdir()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


def _walk(base: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            yield Path(dirpath) / name


@cache
def _storage_for(root: str) -> Storage:
    return LocalStorage(Path(root))


def get_storage() -> Storage:
    """The configured storage (local disk under MEDIA_ROOT)."""
    return _storage_for(str(settings.MEDIA_ROOT))
