"""The HTTP store of the action cache: Bazel's remote-cache protocol over urllib.

Imported by :func:`fluidbuild.cache.open_store` only when the cache url is
``http://`` or ``https://``: urllib and http.client cost tens of milliseconds
to import, which a build without a remote cache must not pay.
"""

from __future__ import annotations

import base64
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request

from fluidbuild.cache import CacheUnavailable


class HttpStore:
    """Bazel's HTTP remote-cache protocol with urllib: one request per call, each
    bounded by ``timeout_s`` (connecting, and reading the whole answer). A
    ``user:password@`` in the url is sent as HTTP basic authentication."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self._auth: str | None = None
        if parts.username is not None:
            user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
            credentials = f"{user}:{password}"
            self._auth = "Basic " + base64.b64encode(credentials.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url, self.timeout_s = urllib.parse.urlunsplit(parts), timeout_s
        self._opener = urllib.request.build_opener()

    def get(self, kind: str, digest: str) -> bytes | None:
        """The stored bytes, or None when the server has none (404)."""
        return self._request("GET", kind, digest)

    def has(self, kind: str, digest: str) -> bool:
        return self._request("HEAD", kind, digest) is not None

    def put(self, kind: str, digest: str, data: bytes) -> None:
        self._request("PUT", kind, digest, data)

    def _request(self, method: str, kind: str, digest: str, data: bytes | None = None) -> bytes | None:
        request = urllib.request.Request(f"{self.url}/{kind}/{digest}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/octet-stream")
        if self._auth:
            request.add_header("Authorization", self._auth)
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                if method != "GET":
                    return b""
                chunks = []
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise CacheUnavailable(f"{method} {kind}/{digest[:12]} took over "
                                               f"{self.timeout_s:g} s")
                return b"".join(chunks)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method != "PUT":
                return None
            raise CacheUnavailable(f"HTTP {exc.code} {exc.reason} for {method} {kind}/{digest[:12]}") \
                from None
        except urllib.error.URLError as exc:
            raise CacheUnavailable(_reason(exc.reason, self.timeout_s)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise CacheUnavailable(_reason(exc, self.timeout_s)) from None


def _reason(exc: object, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return f"no answer in {timeout_s:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
