"""The app factory: routers, middleware, handlers; nothing else."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from functools import partial

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app import errors
from app.auth import tokens
from app.auth.principal import active_subject, refusal_before_body
from app.common import openapi
from app.config import Settings, get_settings
from app.db import make_counter_engine, make_engine
from app.middleware import AdvisoryLocks, BodyLimit, Idempotency, RequestContext, TrustedProxies
from app.obligations import service as obligations
from app.ratelimit import LoginLimit, RateLimit, Store
from app.routers import MATCH_ORDER, document_order
from app.system.router import router as system_router
from app.webhooks import outbox
from app.webhooks.delivery import Deliverer


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = make_engine(settings)
        app.state.counter_engine = make_counter_engine(settings, app.state.engine)
        # everything imported so far lives as long as the process: take it out of the cyclic GC's sight, so
        # that a collection triggered by a large import's many new objects does not walk it all again
        gc.collect()
        gc.freeze()
        # the time-driven events (obligation.due_soon, .overdue) are of the duties GET /obligations shows
        outbox.set_duty_source(obligations.unmet_duties)
        deliverer = Deliverer(app.state.engine, settings) if settings.webhook_delivery else None
        if deliverer is not None:
            await deliverer.start()
        # PostgreSQL: every idempotency key's lock on one connection of this worker's own, outside the pool
        app.state.key_locks = AdvisoryLocks(app.state.engine) if app.state.engine.dialect.name == "postgresql" else None
        try:
            yield
        finally:
            if deliverer is not None:
                await deliverer.stop()
            if app.state.key_locks is not None:
                await app.state.key_locks.close()
            if app.state.counter_engine is not app.state.engine:
                await app.state.counter_engine.dispose()
            await app.state.engine.dispose()

    # /docs and /redoc with their JavaScript and CSS served from this service (fastapi-offline ships them),
    # so they work on an office network without internet
    app = FastAPIOffline(
        title="Tam Kỳ DX communication plan API",
        version="1.0.0",
        description="Runs and monitors Tam Kỳ city's digital-transformation communication plans (2021-2025, 2026-2030).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app, refusal_before_body)
    api = APIRouter(prefix="/api/v1")
    for router in MATCH_ORDER:
        api.include_router(router)
    app.include_router(api)
    app.include_router(system_router)

    # the middleware sits below the auth package: it is handed the one token decoder rather than importing it
    subject = partial(tokens.request_subject, settings)
    app.add_middleware(
        Idempotency,
        settings=settings,
        engine_getter=lambda: app.state.engine,
        locks_getter=lambda: app.state.key_locks,
        authenticate=active_subject,
    )
    store = Store(lambda: app.state.counter_engine, settings.redis_url, settings.redis_namespace)
    app.state.login_limit = LoginLimit(store, settings)  # used by the token endpoint, which knows what it checks
    app.add_middleware(RateLimit, settings=settings, store=store, subject=subject)
    app.add_middleware(BodyLimit, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Link", "X-Request-ID", "Location", "Idempotent-Replayed"],
        )
    app.add_middleware(TrustedProxies, proxies=settings.trusted_proxies)
    app.add_middleware(RequestContext)
    openapi.install(app, order=document_order())
    return app
