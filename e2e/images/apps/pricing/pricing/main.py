"""Price quotes (FastAPI), served by uvicorn as `pricing.main:app`.

Like the FastAPI example spec: /health for liveness, /ready for readiness (it
fails until startup is done and with DEMO_FAIL_HEALTH), and metrics also on a
port of their own, DEMO_METRICS_PORT (9100) on DEMO_METRICS_ADDR (0.0.0.0).
"""

import logging
import os
from contextlib import asynccontextmanager

from fastapi.responses import JSONResponse
from prometheus_client import start_http_server

from demo_common import fail_health, fields, metrics
from demo_common.fastapi_app import make_app

log = logging.getLogger("pricing")
state = {"ready": False}


@asynccontextmanager
async def lifespan(app):
    addr = os.environ.get("DEMO_METRICS_ADDR", "0.0.0.0")
    port = int(os.environ.get("DEMO_METRICS_PORT", "9100"))
    server, thread = start_http_server(port, addr=addr, registry=metrics.registry())
    log.info("metrics listening", extra=fields(event="metrics_listening", addr=addr, port=port))
    state["ready"] = True
    yield
    state["ready"] = False
    server.shutdown()


app = make_app("pricing", lifespan=lifespan)


@app.get("/ready")
async def ready():
    reason = fail_health() or (None if state["ready"] else "starting")
    if reason:
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
    return {"status": "ready"}


@app.get("/quote")
async def quote(sku: str = "mug-001", quantity: int = 1):
    unit = 1400 if sku.startswith("mug") else 2200
    return {"sku": sku, "quantity": quantity, "total_cents": unit * quantity, "currency": "EUR"}
