"""The FastAPI demo apps' common part (pricing, orders): health, metrics, info, /slow."""

import asyncio
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from . import metrics
from .switches import at_start, fail_health, info, slow


def make_app(title, lifespan=None):
    at_start()
    app = FastAPI(title=title, lifespan=lifespan)

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        start = time.monotonic()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "other")
        metrics.observe(request.method, route, response.status_code, time.monotonic() - start)
        return response

    @app.get("/health")
    async def health():
        reason = fail_health()
        if reason:
            return JSONResponse({"status": "failing", "reason": reason}, status_code=503)
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics_view():
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    @app.get("/")
    async def index():
        return info()

    @app.get("/slow")
    async def slow_view(seconds: str = "1"):
        try:
            value = slow(seconds)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        await asyncio.sleep(value)
        return {"slept": value, **info()}

    return app
