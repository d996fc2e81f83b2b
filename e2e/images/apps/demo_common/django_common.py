"""What the two Django demo projects (shop, checkout) share: settings, views, middleware.

A project's settings module does `from demo_common.django_common import *` and
sets ROOT_URLCONF; its urls.py adds its own views to `urlpatterns()`.
"""

import os
import socket
import time

from django.http import HttpResponse, JsonResponse
from django.urls import path

from . import metrics
from .logs import APP
from .switches import fail_health, info, slow

# ---------------------------------------------------------------- settings

DEBUG = os.environ.get("DEBUG", "False").lower() in ("1", "true", "yes")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-a-secret")


def _allowed_hosts():
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if not hosts:
        return ["*"]  # a demo without ALLOWED_HOSTS answers any name
    # Names a cluster reaches the pod by: itself, its IP, the Service (named like the app).
    hosts += ["localhost", "127.0.0.1", "[::1]", APP, ".svc", ".svc.cluster.local"]
    try:
        hosts.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    return hosts


ALLOWED_HOSTS = _allowed_hosts()
USE_TZ = True
TIME_ZONE = "UTC"
# No database server: SQLite in /tmp (the writable emptyDir), so `manage.py migrate` works.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"/tmp/{APP}.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIDDLEWARE = [
    "demo_common.django_common.DemoMiddleware",
    "django.middleware.common.CommonMiddleware",
]
LOGGING_CONFIG = None  # demo_common.at_start sets JSON logging up
WSGI_APPLICATION = None

# ---------------------------------------------------------------- views


def health(request):
    reason = fail_health()
    if reason:
        return JsonResponse({"status": "failing", "reason": reason}, status=503)
    return JsonResponse({"status": "ok"})


def metrics_view(request):
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


def index(request):
    return JsonResponse(info())


def slow_view(request):
    try:
        seconds = slow(request.GET.get("seconds", "1"))
    except ValueError as e:
        return JsonResponse({"error": str(e)}, status=400)
    time.sleep(seconds)
    return JsonResponse({"slept": seconds, **info()})


# Answered before CommonMiddleware looks at the Host header, so kubelet probes
# and Prometheus (which use the pod IP) are never turned away by ALLOWED_HOSTS.
ALWAYS = {"/health/": health, "/health": health, "/metrics": metrics_view}


class DemoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.monotonic()
        view = ALWAYS.get(request.path_info)
        response = view(request) if view else self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = request.path_info if view else (match.route if match else "other")
        metrics.observe(request.method, route or "/", response.status_code, time.monotonic() - start)
        return response


def urlpatterns():
    return [
        path("", index),
        path("health/", health),
        path("metrics", metrics_view),
        path("slow", slow_view),
    ]
