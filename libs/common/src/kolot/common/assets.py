"""A service's own stylesheets, scripts and icons: package data, loaded once, served under a URL
that carries a digest of their content.

The digest in the URL lets a browser keep a file for a year: a new release changes the URL. A page
from an older release (during a rolling upgrade) asks for its old version and gets the current
file, marked not to be kept, rather than a 404 and an unstyled page.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from fastapi.responses import Response

from kolot.common.problems import Problem

MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
KEEP = "public, max-age=31536000, immutable"


def digest(*bodies: bytes) -> str:
    return hashlib.sha256(b"".join(bodies)).hexdigest()[:12]


def media_type(name: str) -> str:
    return MEDIA_TYPES["." + name.rpartition(".")[2]]


def load_files(package: str, names: Iterable[str], *, folder: str = "static") -> dict[str, bytes]:
    where = resources.files(package) / folder
    return {name: (where / name).read_bytes() for name in names}


def static_response(
    body: bytes, name: str, *, current: bool, headers: dict[str, str] | None = None
) -> Response:
    """``current``: asked for under the version being served now, so it may be kept for a year."""
    return Response(
        body,
        media_type=media_type(name),
        headers={
            "Cache-Control": KEEP if current else "no-cache",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


@dataclass(frozen=True)
class Bundle:
    """Files served under one version, the digest of them all: ``{prefix}/{version}/{name}``."""

    prefix: str
    owner: str
    """Whose files they are, for the 404's detail: "the console"."""
    version: str
    files: dict[str, bytes]

    @classmethod
    def load(cls, package: str, names: tuple[str, ...], *, prefix: str, owner: str) -> Bundle:
        files = load_files(package, names)
        version = digest(*(files[name] for name in names))
        return cls(prefix=prefix, owner=owner, version=version, files=files)

    def url(self, name: str) -> str:
        return f"{self.prefix}/{self.version}/{name}"

    def response(self, version: str, name: str) -> Response:
        body = self.files.get(name)
        if body is None:
            raise Problem(
                404, "not-found", "No such file", f"{name!r} is not one of {self.owner}'s files"
            )
        return static_response(body, name, current=version == self.version)


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file versioned on its own (``?v=``), kept compressed beside its body."""

    name: str
    body: bytes
    gzipped: bytes
    version: str

    @classmethod
    def load(cls, package: str, *, folder: str = "static") -> dict[str, StaticFile]:
        """Every file of the folder whose type is known."""
        found: dict[str, StaticFile] = {}
        for entry in (resources.files(package) / folder).iterdir():
            if "." + entry.name.rpartition(".")[2] in MEDIA_TYPES:
                body = entry.read_bytes()
                found[entry.name] = cls(
                    entry.name, body, gzip.compress(body, compresslevel=9, mtime=0), digest(body)
                )
        return found

    def response(self, version: str | None, *, gzipped: bool) -> Response:
        """``gzipped``: the client accepts it."""
        headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": "gzip"} if gzipped else {})
        return static_response(
            self.gzipped if gzipped else self.body,
            self.name,
            current=version == self.version,
            headers=headers,
        )
