"""The web app's own static files (``ui/static``), served from memory under content-hashed URLs.

Written by hand instead of Starlette's ``StaticFiles``, which stats and reads the file in a worker
thread on every request: a page's four files asked for at once took 19 ms that way on the 2-core
bench machine (2.4 ms one at a time), and a new browser waits for all of them before its first
paint (``bench/ui_bench.py``, "new browser context"). The files are small (about 65 KB in all) and
ship with the package, so they are read once, when this module is imported; a changed file needs a
restart of the server.

Pages link them with :meth:`Assets.url`, which adds the content's digest (``?v=...``): such a URL
never changes meaning, so browsers keep it for a year without asking again; any other URL of a
file is revalidated with its ETag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request, Response

__all__ = ["ASSETS", "Asset", "Assets"]

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, media type and content digest."""

    body: bytes
    media_type: str
    digest: str

    @property
    def etag(self) -> str:
        """The strong ETag of the content."""
        return f'"{self.digest}"'


class Assets:
    """The static files of one folder (not its subfolders), read into memory once."""

    def __init__(self, folder: Path) -> None:
        self.files: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            media_type = _TYPES.get(path.suffix)
            if path.is_file() and media_type is not None:
                body = path.read_bytes()
                self.files[path.name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])

    def url(self, name: str) -> str:
        """The URL of file ``name`` with its content digest; a KeyError for a file that does not exist."""
        return f"/static/{name}?v={self.files[name].digest}"

    async def serve(self, name: str, request: Request) -> Response:
        """The file, a 304 when the browser's copy is current, or a plain 404."""
        asset = self.files.get(name)
        if asset is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        cache = _IMMUTABLE if request.query_params.get("v") == asset.digest else "no-cache"
        headers = {"ETag": asset.etag, "Cache-Control": cache}
        if asset.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else asset.body
        response = Response(body, media_type=asset.media_type, headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(asset.body))
        return response


#: The files of ``ui/static``.
ASSETS = Assets(Path(__file__).parent / "static")
