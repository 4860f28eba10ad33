"""Static files: the vendored npm files' finder, and the web process's own serving of /static/.

`SERVE_STATIC`: WhiteNoise, as ASGI middleware.

Outside DEBUG it serves what `collectstatic` put in `STATIC_ROOT` (read once at start): the Brotli
copy (`.br`, written because the `Brotli` package is installed) to a client that accepts `br`, else
the gzip copy to one that accepts gzip, a content-hashed name with a cache lifetime of years
(`immutable`), any other name for a minute. In DEBUG it reads the source folders on each request.
WhiteNoise's own middleware is synchronous and hands Django's ASGI handler a file iterator it warns
about; this one reads the file in a worker thread and answers from the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):  # type: ignore[misc]  # untyped
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        super().__init__(get_response)
        self.next = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(self.static_prefix):
            return await self.next(request)
        response = await sync_to_async(self._static_response, thread_sensitive=False)(request)
        if response is None:
            return await self.next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if isinstance(response, StreamingHttpResponse):
            chunks = await sync_to_async(_read_all, thread_sensitive=False)(response)
            response.streaming_content = _replay(chunks)
        return response

    def _static_response(self, request: HttpRequest) -> HttpResponseBase | None:
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return None
        response: HttpResponseBase = self.serve(static_file, request)
        return response


def _read_all(response: StreamingHttpResponse) -> list[bytes]:
    # The file is closed with the response (its resource closers), after it was sent.
    return list(response.streaming_content)  # type: ignore[arg-type]


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class VendorFinder(BaseFinder):
    """The npm files the pages load, and only those (hls.js's dist holds 30 MB of other builds):
    `/static/vendor/<package>/<file>`, from `node_modules` (package-lock.json pins them; no CDN)."""

    files: ClassVar[dict[str, tuple[str, ...]]] = {
        # The light build (no subtitles), and the full one for streams with live captions.
        "hls.js": (
            "dist/hls.light.min.js",
            "dist/hls.light.min.js.map",
            "dist/hls.min.js",
            "dist/hls.min.js.map",
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_modules = Path(settings.BASE_DIR) / "node_modules"

    def _paths(self) -> dict[str, Path]:
        return {
            f"vendor/{package}/{Path(file).name}": self.node_modules / package / file
            for package, package_files in self.files.items()
            for file in package_files
        }

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        found = self._paths().get(path)
        if found is None or not found.is_file():
            return [] if find_all else ""
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for url_path, source in self._paths().items():
            storage = FileSystemStorage(location=source.parent)
            storage.prefix = str(Path(url_path).parent)  # type: ignore[attr-defined]
            yield source.name, storage
