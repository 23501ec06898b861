"""The FastAPI application: one Store per process (chDB allows one process per data path)."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from vectrain import __version__
from vectrain.api import (
    audit,
    browse,
    classify,
    datasets,
    exports,
    items,
    jobs,
    labelsets,
    manage,
    results,
    schema,
    service,
    sessions,
    sql,
    team,
)
from vectrain.api import loads as load_routes
from vectrain.api.methods import Methods
from vectrain.api.security import BodyLimit, Keys, LocalGuard, _BodyTooLarge, authorize, public, split_keys
from vectrain.core.config import Settings, get_settings
from vectrain.core.errors import VectrainError
from vectrain.jobs import load_paths
from vectrain.jobs.runner import JobRunner
from vectrain.labeling import background, warmup
from vectrain.storage.query import Query
from vectrain.storage.store import Store

log = logging.getLogger("vectrain")

ROUTERS = [
    datasets.router,
    browse.router,
    items.router,
    sql.router,
    sessions.router,
    team.router,
    manage.router,
    results.router,
    labelsets.router,
    classify.router,
    audit.router,
    jobs.router,
    load_routes.router,
    exports.router,
    service.router,
]

# The labeling page: static files shipped inside the package, no build step. It talks to the
# API like any other client. The policy keeps scripts, styles and requests to this origin;
# images may also come from an item's http(s) url (the image endpoint redirects there).
SHUTDOWN_WAIT = 30.0  # seconds shutdown waits for background work (a round's estimate) before closing the store
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data: http: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def create_app(settings: Settings | None = None, store: Store | None = None, owns_store: bool = False) -> FastAPI:
    """Build the app on a Store (tests and `vectrain serve` open one), or let the app open
    one at start-up. The app closes the store at shutdown when it opened it or owns it."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = app.state.store is None or owns_store
        if app.state.store is None:
            app.state.store = Store(settings, owner="vectrain serve", url=f"http://{settings.host}:{settings.port}")
            app.state.store.migrate()
        if owned:  # a load or build killed mid-way left an index missing: rebuild it, search meanwhile
            threading.Thread(
                target=_rebuild_indexes, args=(app.state.store,), name="index-rebuild", daemon=True
            ).start()
        # The first training round after a restart would load scipy and pandas (through the
        # client's first insert): load them before the first request. In a background thread they
        # were still loading when a quick first Enter came, and slowed it down further.
        if settings.warm_up:
            await asyncio.to_thread(warmup.warm_up, app.state.store)
        # Jobs: what a dead process left running is marked failed (with how to resume), then the workers start.
        app.state.jobs = JobRunner(app.state.store)
        app.state.jobs.start()
        load_paths.remove_stale_uploads(settings)
        try:
            yield
        finally:
            app.state.jobs.stop()
            if app.state.analyst is not None:
                app.state.analyst.close()
                app.state.analyst = None
            if owned:
                background.settle(SHUTDOWN_WAIT)  # a round's estimate being computed: let it finish
                app.state.store.close()

    app = FastAPI(
        title="vectrain",
        version=__version__,
        description=(
            "Train image classifiers with vector SQL. Embeddings live in ClickHouse tables "
            "(`items_<dataset>`) with HNSW indexes; search, label, train and classify over them, "
            "or query them directly with read-only SQL at `POST /sql`. Every error is JSON "
            '`{"detail": "...", "code": "..."}`.'
        ),
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        docs_url=None,  # served below from an installed package, not a CDN
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.keys = Keys(settings)
    app.state.analyst = None  # AnalystSQL, opened at the first POST /sql (vectrain.api.deps)
    app.state.analyst_lock = threading.Lock()
    app.state.local_secret = None  # set by `vectrain serve` (vectrain.core.trust)
    app.add_middleware(Methods, routes=lambda: app.routes)  # inside CORS: a preflight is CORS's
    app.add_middleware(
        CORSMiddleware,
        allow_origins=split_keys(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Vectrain-Labeler"],
        max_age=600,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, uploads=[load_paths.upload_route(settings)])
    app.add_middleware(LocalGuard, settings=settings)  # outermost: before CORS, before any body is read

    @app.exception_handler(VectrainError)
    async def vectrain_error(request: Request, exc: VectrainError):
        return JSONResponse(status_code=exc.status_code, content=exc.as_json())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        # Say where and what, never echo the input back (it may be megabytes, or not JSON-safe).
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", []) if p != "body")
            message = str(e.get("msg", "invalid"))[:200]
            parts.append(f"{where}: {message}" if where else message)
        more = len(exc.errors()) - len(parts)
        detail = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
        return JSONResponse(status_code=422, content={"detail": detail, "code": "invalid_request"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc.__cause__, _BodyTooLarge):  # FastAPI wraps body-read errors in a 400
            return JSONResponse(status_code=413, content=exc.__cause__.as_json())
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
            content={"detail": str(exc.detail), "code": codes.get(exc.status_code, "http_error")},
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        # A bug: log it with its trace, answer JSON without internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={"detail": "Internal error; the service log has the details.", "code": "internal_error"},
        )

    @app.get("/health", tags=["service"])
    @public
    def health(request: Request) -> dict:
        """Liveness and configuration (public: no API key needed)."""
        store: Store = request.app.state.store
        store.scalar(Query.named("meta.ping"))
        return {
            "status": "ok",
            "version": __version__,
            "engine": store.target.kind,
            "database": store.database,
            "dialect": store.dialect.name,
            "auth": app.state.keys.enabled,
        }

    _mount_docs(app)
    schema.install(app, settings)  # the settings' limits in /openapi.json

    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    @public  # the page asks for a key itself; its static files are a mount, outside the API's auth
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def _rebuild_indexes(store: Store) -> None:
    try:
        for name in store.registry.build_missing_indexes():
            log.warning("rebuilt the vector index of dataset %s (a build had not finished)", name)
        for info in store.registry.list():
            if warning := store.registry.index_cache_warning(info["name"]):
                log.warning("%s", warning)
    except Exception:  # never take the service down: search scans until the index is back
        log.exception("rebuilding missing vector indexes failed")


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI from an installed package (fastapi-offline ships its assets): /docs works
    offline, and loads nothing from a CDN."""
    from pathlib import Path

    import fastapi_offline

    app.mount(
        "/docs-static", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-static"
    )

    @app.get("/docs", include_in_schema=False)
    @public
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="vectrain API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )
