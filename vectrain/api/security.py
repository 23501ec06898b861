"""Who may call the API, and how much a request may ask for before any work starts.

- API keys: with VECTRAIN_API_KEYS or VECTRAIN_READ_API_KEYS set, every route needs
  `Authorization: Bearer <key>`: no or unknown key -> 401; a read key on a write -> 403. A route
  is a read when its method is GET/HEAD, or when its endpoint is marked with `@reads` (search,
  SQL, classify without storing); `require_write` covers routes that write only for some bodies.
  Keys are compared in constant time and never logged. /health, the web page's static files and
  the API docs are public.
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
from vectrain.core.errors import Forbidden, Unauthorized

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


class Keys:
    def __init__(self, settings: Settings):
        self.write = [k.encode() for k in split_keys(settings.api_keys)]
        self.read = [k.encode() for k in split_keys(settings.read_api_keys)]

    @property
    def enabled(self) -> bool:
        return bool(self.write or self.read)

    def role(self, presented: str) -> str | None:
        """'write', 'read' or None; every key is compared (no early exit on a match)."""
        token = presented.encode()
        is_write = any([hmac.compare_digest(token, k) for k in self.write])
        is_read = any([hmac.compare_digest(token, k) for k in self.read])
        return "write" if is_write else "read" if is_read else None


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
    role = keys.role(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if role is None:
        raise Unauthorized(
            "This service needs an API key: send `Authorization: Bearer <key>` (the CLI sends VECTRAIN_API_KEY)."
            if not header
            else "Unknown API key."
        )
    request.state.role = role
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
