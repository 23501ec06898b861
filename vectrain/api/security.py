"""Who may call the API, and how much a request may ask for before any work starts.

- API keys: with VECTRAIN_API_KEYS or VECTRAIN_READ_API_KEYS set, every route needs
  `Authorization: Bearer <key>`: no or unknown key -> 401; a read key on a write -> 403. A route
  is a read when its method is GET/HEAD, or when its endpoint is marked with `@reads` (search,
  SQL, classify without storing); `require_write` covers routes that write only for some bodies.
  Keys are compared in constant time and never logged. /health, the web page's static files and
  the API docs are public. A key may carry a labeler's name (`alice:KEY1`): the labels it writes
  are that labeler's, whatever the request's X-Vectrain-Labeler header says.
- Without keys (the default on loopback) a web page on another site must not use the API: a
  browser sends its cross-site POSTs (a form, a multipart upload) without asking first, and a page
  that re-points its own host name at this machine (DNS rebinding) makes its requests same-origin.
  So, as Jupyter guards its local server, requests must name this service in `Host` (loopback
  names, VECTRAIN_HOST, VECTRAIN_ALLOWED_HOSTS), and a write that carries an `Origin` must come
  from this service's own origin or one of VECTRAIN_CORS_ORIGINS (the CLI sends none). With keys,
  a page cannot send a key it does not have, and a key travels in a header no cross-site form sets.
- Body size: a request whose body is larger than VECTRAIN_MAX_BODY_BYTES is refused with 413
  from its Content-Length, or as soon as a streamed body passes the limit, before it is read.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable

from fastapi import Request

from vectrain.core.config import Settings
from vectrain.core.errors import Forbidden, Unauthorized, VectrainError
from vectrain.core.validation import LABELER_NAME

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_AUTHORIZED = "vectrain.authorized"


def reads(endpoint: Callable) -> Callable:
    """Mark a non-GET endpoint as read-only: a read key may call it."""
    endpoint.__vectrain_reads__ = True
    return endpoint


def public(endpoint: Callable) -> Callable:
    """Mark an endpoint that needs no key (/health, the web page, the API docs)."""
    endpoint.__vectrain_public__ = True
    return endpoint


def split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def named_keys(value: str) -> list[tuple[str, bytes]]:
    """(labeler name, key) of each comma-separated entry: `name:KEY` when the part before the
    first ':' is a labeler's name (vectrain.core.validation.check_labeler), else a key without a
    name ('')."""
    out = []
    for entry in split_keys(value):
        name, sep, key = entry.partition(":")
        named = sep and key.strip() and LABELER_NAME.fullmatch(name.strip())
        out.append((name.strip(), key.strip().encode()) if named else ("", entry.encode()))
    return out


class Keys:
    def __init__(self, settings: Settings):
        self.write = named_keys(settings.api_keys)
        self.read = named_keys(settings.read_api_keys)

    @property
    def enabled(self) -> bool:
        return bool(self.write or self.read)

    def role(self, presented: str) -> str | None:
        return self.identify(presented)[0]

    def identify(self, presented: str) -> tuple[str | None, str]:
        """('write' | 'read' | None, the key's labeler name or ''); every key is compared (no
        early exit on a match)."""
        token = presented.encode()
        write = [name for name, k in self.write if hmac.compare_digest(token, k)]
        read = [name for name, k in self.read if hmac.compare_digest(token, k)]
        if write:
            return "write", write[0]
        return ("read", read[0]) if read else (None, "")


async def authorize(request: Request) -> None:
    """Every API route passes through it before its body is read (vectrain.api.models.JSONRoute),
    and every other route as the app's dependency (once: the scope remembers). Async because it
    never blocks: a sync dependency costs a hop to the thread pool on every request."""
    if request.scope.get(_AUTHORIZED):
        return
    keys: Keys = request.app.state.keys
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    request.scope[_AUTHORIZED] = True  # set before the checks: a refusal ends the request anyway
    if not keys.enabled or getattr(endpoint, "__vectrain_public__", False):
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    role, name = keys.identify(token.strip()) if scheme.lower() == "bearer" and token.strip() else (None, "")
    if role is None:
        raise Unauthorized(
            "This service needs an API key: send `Authorization: Bearer <key>` (the CLI sends VECTRAIN_API_KEY)."
            if not header
            else "Unknown API key."
        )
    request.state.role = role
    request.state.key_name = name  # the labeler a named key speaks for (vectrain.api.deps.labeler)
    if request.method not in READ_METHODS and not getattr(endpoint, "__vectrain_reads__", False):
        require_write(request)


def may_write(request: Request) -> bool:
    """Whether the caller may write (no keys configured, or a write key)."""
    return not request.app.state.keys.enabled or getattr(request.state, "role", None) == "write"


def require_write(request: Request) -> None:
    """Refuse a read key (for routes that write only for some bodies, e.g. stored zero-shot)."""
    if not may_write(request):
        raise Forbidden("This API key may only read; this request writes (use a key from VECTRAIN_API_KEYS).")


class BodyLimit:
    """Pure ASGI middleware: 413 before a body over the limit is read (or as soon as a body
    without Content-Length passes it). `uploads` are routes with a limit of their own:
    (method, path pattern, limit in bytes, the setting that sets it)."""

    def __init__(self, app, limit: int, uploads: list[tuple[str, str, int, str]] = ()):
        self.app, self.limit = app, limit
        self.uploads = [(method, re.compile(pattern), size, setting) for method, pattern, size, setting in uploads]

    def _limit(self, scope) -> tuple[int, str]:
        for method, pattern, size, setting in self.uploads:
            if scope.get("method") == method and pattern.fullmatch(scope.get("path", "")):
                return size, setting
        return self.limit, "VECTRAIN_MAX_BODY_BYTES"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self._limit(scope)
        length = dict(scope.get("headers") or {}).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False
            if too_big:
                return await self._refuse(send, limit, setting)
        seen = 0
        refused = False

        async def limited_receive():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise _BodyTooLarge(limit, setting)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            if refused:
                await self._refuse(send, limit, setting)

    async def _refuse(self, send, limit: int, setting: str):
        body = json.dumps(_BodyTooLarge(limit, setting).as_json()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    def __init__(self, limit: int, setting: str):
        super().__init__(limit, setting)
        self.limit, self.setting = limit, setting

    def as_json(self) -> dict:
        return {
            "detail": f"The request body is larger than {self.limit / (1024 * 1024):g} MB ({self.setting}).",
            "code": "too_large",
            "limit": self.limit,
        }


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class LocalGuard:
    """Pure ASGI middleware for a service without keys: the Host allow-list on every request, and
    the Origin check on writes (every method but GET, HEAD and OPTIONS). Does nothing with keys."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.enabled = not Keys(settings).enabled
        extra = split_keys(settings.allowed_hosts)
        self.any_host = "*" in extra
        self.hosts = {h.lower().strip("[]") for h in (*LOOPBACK_NAMES, settings.host, *extra)}
        self.origins = set(split_keys(settings.cors_origins))

    async def __call__(self, scope, receive, send):
        if not self.enabled or scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if not self.any_host and _host_name(host) not in self.hosts:
            return await _refuse(
                send,
                Forbidden(
                    f"This service does not answer to the host name {host[:100]!r}: without API keys it answers "
                    "only to localhost, 127.0.0.1, ::1 and VECTRAIN_HOST. Add the name to VECTRAIN_ALLOWED_HOSTS "
                    "on the service, or give it API keys.",
                ),
                "host_not_allowed",
            )
        origin = headers.get("origin")
        if origin is not None and scope.get("method") not in READ_METHODS:
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if origin.lower() != own and origin not in self.origins:
                return await _refuse(
                    send,
                    Forbidden(
                        f"A write from the web page of another site ({origin[:100]}) was refused: without API keys "
                        "only this service's own page may write. Allow that site in VECTRAIN_CORS_ORIGINS, or give "
                        "the service API keys.",
                    ),
                    "cross_origin",
                )
        return await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """The name of a Host header without its port: `[::1]:8000` -> `::1`, `a.b:80` -> `a.b`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


async def _refuse(send, error: VectrainError, code: str) -> None:
    body = json.dumps({**error.as_json(), "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
