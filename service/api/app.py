"""The FastAPI application: one Store per process (chDB allows one process per data path)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service import __version__
from service.api import classify, datasets, sessions, sql
from service.config import Settings, get_settings
from service.errors import VectrainError
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
            "or query them directly with read-only SQL at `POST /sql`."
        ),
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings

    @app.exception_handler(VectrainError)
    async def vectrain_error(request: Request, exc: VectrainError):
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        parts = []
        for e in errors[:5]:
            where = ".".join(str(p) for p in e.get("loc", []) if p != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse(status_code=422,
                            content={"detail": "; ".join(parts), "errors": jsonable_encoder(errors)})

    @app.get("/health", tags=["service"])
    def health(request: Request) -> dict:
        store: Store = request.app.state.store
        store.command("meta.ping")
        return {"status": "ok", "version": __version__, "engine": store.target.kind,
                "database": store.database, "dialect": store.dialect.name}

    for router in ROUTERS:
        app.include_router(router)
    return app
