"""The FastAPI application: one Store per process (chDB allows one process per data path)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service import __version__
from service.api import classify, datasets, sessions, sql
from service.config import Settings, get_settings
from service.errors import VectrainError
from service.query import Query
from service.store import Store

ROUTERS = [datasets.router, sql.router, sessions.router, classify.router]


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app. Tests pass their own Store; `vectrain serve` lets the app open one."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = app.state.store is None
        if owned:
            app.state.store = Store(settings, owner="vectrain serve",
                                    url=f"http://{settings.host}:{settings.port}")
            app.state.store.migrate()
        try:
            yield
        finally:
            if owned:
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
    )
    app.state.store = store
    app.state.settings = settings

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

    @app.get("/health", tags=["service"])
    def health(request: Request) -> dict:
        store: Store = request.app.state.store
        store.scalar(Query.named("meta.ping"))
        return {"status": "ok", "version": __version__, "engine": store.target.kind,
                "database": store.database, "dialect": store.dialect.name}

    for router in ROUTERS:
        app.include_router(router)
    return app
