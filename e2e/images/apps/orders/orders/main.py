"""The orders API (FastAPI), served by uvicorn as `orders.main:app`.

The example spec points it at a managed PostgreSQL (DB_HOST, DB_PORT, DB_NAME,
DB_USER, DB_PASSWORD); the demo only reports where that would be.
"""

import os

from demo_common.fastapi_app import make_app

app = make_app("orders")


@app.get("/orders")
async def orders():
    database = f"{os.environ.get('DB_HOST', '-')}:{os.environ.get('DB_PORT', '-')}/{os.environ.get('DB_NAME', '-')}"
    return {"orders": [{"id": 1, "sku": "mug-001", "quantity": 2}], "database": database}
