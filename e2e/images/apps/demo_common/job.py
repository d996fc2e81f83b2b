"""A demo batch job, for CronJobs: logs its start, works DEMO_JOB_SECONDS, logs its end.

    DEMO_JOB_SECONDS=N   how long the job works (default 2)
    DEMO_JOB_FAIL=1      the job ends with status 1 instead of 0
"""

import logging
import os
import sys
import time

from .logs import fields
from .switches import at_start, info

log = logging.getLogger("demo.job")


def run(job):
    at_start()
    seconds = float(os.environ.get("DEMO_JOB_SECONDS", "2"))
    log.info("job started", extra=fields(event="job_started", job=job, seconds=seconds, **info()))
    time.sleep(seconds)
    if os.environ.get("DEMO_JOB_FAIL") == "1":
        log.error("job failed (DEMO_JOB_FAIL=1)", extra=fields(event="job_failed", job=job))
        sys.exit(1)
    log.info("job finished", extra=fields(event="job_finished", job=job))
