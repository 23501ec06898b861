"""The methods a path answers, as HTTP says they should be: HEAD wherever GET is (the GET's
headers, no body), OPTIONS on every path (204 with `Allow`), and a 405 whose `Allow` lists every
method of the path (a path's methods are separate routes, and the router's 405 named only the
first one it tried: `Allow: GET` on a path with DELETE and POST too).

A pure ASGI middleware inside CORS (a browser's preflight OPTIONS is CORS's to answer). It looks
at the routes only for HEAD, OPTIONS and 405s: other requests pass straight through.
"""

from __future__ import annotations

from starlette.routing import Match, Mount

ALWAYS = ("OPTIONS",)


class Methods:
    def __init__(self, app, routes):
        """`routes`: a callable returning the app's routes (they are added after the middleware)."""
        self.app, self.routes = app, routes

    def allowed(self, path: str) -> set[str]:
        """Every method some route answers at `path` (empty: no such path)."""
        methods: set[str] = set()
        for route in _flat(self.routes()):
            if isinstance(route, Mount):  # static files
                if path.startswith(route.path.rstrip("/") + "/"):
                    methods |= {"GET", "HEAD"}
                continue
            route_methods = getattr(route, "methods", None)
            if not route_methods:
                continue
            match, _ = route.matches({"type": "http", "path": path, "method": next(iter(route_methods))})
            if match != Match.NONE:
                methods |= set(route_methods)
        if "GET" in methods:
            methods.add("HEAD")
        return methods | set(ALWAYS) if methods else methods

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope.get("method")
        if method == "OPTIONS":
            allowed = self.allowed(scope.get("path", ""))
            if allowed:
                return await _answer(send, 204, allowed)
        elif method == "HEAD":
            allowed = self.allowed(scope.get("path", ""))
            if "GET" in allowed:
                return await self.app({**scope, "method": "GET"}, receive, _without_body(send))
        return await self.app(scope, receive, self._full_allow(scope, send))

    def _full_allow(self, scope, send):
        async def sending(message):
            if message["type"] == "http.response.start" and message.get("status") == 405:
                allowed = ", ".join(sorted(self.allowed(scope.get("path", ""))))
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allowed.encode())]}
            await send(message)

        return sending


def _flat(routes):
    """Routes, with those of included routers in place (FastAPI keeps an included router as one
    route of its own; this app's routers have no prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


def _without_body(send):
    async def sending(message):
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return sending


async def _answer(send, status: int, allowed: set[str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"allow", ", ".join(sorted(allowed)).encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
