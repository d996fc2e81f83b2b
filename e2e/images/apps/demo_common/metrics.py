"""Prometheus metrics: requests by method, route and status, and their duration.

Always in prometheus_client's multiprocess mode, so that a scrape sees the sum
over gunicorn's workers rather than whichever worker answered: values live in
files in PROMETHEUS_MULTIPROC_DIR (the FastAPI example sets /tmp/prometheus;
default /tmp/prometheus-<app>), made here if missing.
"""

import os

from .logs import APP

_multiproc = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"/tmp/prometheus-{APP}")
os.makedirs(_multiproc, exist_ok=True)

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402

REQUESTS = Counter("demo_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
DURATION = Histogram("demo_http_request_duration_seconds", "Time to answer an HTTP request", ["route"])
CONTENT_TYPE = CONTENT_TYPE_LATEST


def observe(method, route, status, seconds):
    REQUESTS.labels(method, route, str(status)).inc()
    DURATION.labels(route).observe(seconds)


def registry():
    from prometheus_client import multiprocess

    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg)
    return reg


def render():
    """The exposition text, as bytes."""
    return generate_latest(registry())
