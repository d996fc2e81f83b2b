import logging
import time

from demo_common import fields

from .celery import app

log = logging.getLogger("shop.tasks")


@app.task(bind=True, name="shop.sleep")
def sleep(self, seconds):
    """Sleeps `seconds`, logging its start and finish: long enough to be caught by a shutdown."""
    seconds = float(seconds)
    log.info("task started", extra=fields(event="task_started", task="shop.sleep", task_id=self.request.id, seconds=seconds))
    time.sleep(seconds)
    log.info("task finished", extra=fields(event="task_finished", task="shop.sleep", task_id=self.request.id, seconds=seconds))
    return {"slept": seconds}
