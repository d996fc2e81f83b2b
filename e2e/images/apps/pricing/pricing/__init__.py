"""Price quotes (FastAPI): uvicorn serves `pricing.main:app`."""
