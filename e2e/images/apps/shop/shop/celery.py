"""The shop's Celery app, found by `celery --app=shop`; Redis is the broker.

CELERY_BROKER_URL names the broker; without it REDIS_URL does (the name the
Django example gives the same Redis), then redis://127.0.0.1:6379/0.
Celery's own logs and the tasks' go to stdout as JSON; on SIGTERM the worker
shuts down warm: it takes no new task and finishes the ones it holds.
"""

import os

from celery import Celery
from celery.signals import setup_logging

from demo_common import at_start

app = Celery("shop", include=["shop.tasks"])
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    broker_connection_retry_on_startup=True,
    broker_transport_options={"socket_connect_timeout": 5},
    worker_prefetch_multiplier=int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "1")),
    task_acks_late=True,  # a task lost with its worker is delivered again
    worker_redirect_stdouts=False,
    worker_hijack_root_logger=False,
    task_serializer="json",
    result_backend=None,
)


@setup_logging.connect
def _json_logging(**_):
    """Keeps Celery from replacing the JSON logging at_start set up."""


at_start()
