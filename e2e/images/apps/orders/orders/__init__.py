"""The orders API (FastAPI): uvicorn serves `orders.main:app`."""
