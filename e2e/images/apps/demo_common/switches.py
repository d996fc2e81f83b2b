"""The DEMO_* switches that make an app misbehave on purpose, and the info it reports.

    DEMO_CRASH_AT_START=1       exit with status 3 while loading, after one ERROR line
    DEMO_FAIL_HEALTH=1          the health (and readiness) endpoint answers 503;
                                so does an existing file /tmp/demo-fail-health
    DEMO_LEAK_MB_PER_SECOND=N   each process keeps N more MiB every second (to be OOMKilled)
"""

import logging
import os
import socket
import sys
import threading
import time

from .logs import APP, fields, setup_logging

log = logging.getLogger("demo")
FAIL_HEALTH_FILE = "/tmp/demo-fail-health"
MAX_SLOW_SECONDS = 600


_started = []


def at_start():
    """Logging, then the start-time switches; every app calls this while it loads
    (once per process: the shop's web loads both its Django and its Celery app)."""
    if _started:
        return
    _started.append(True)
    setup_logging()
    if os.environ.get("DEMO_CRASH_AT_START") == "1":
        log.error("DEMO_CRASH_AT_START=1: exiting at start", extra=fields(event="crash_at_start", exit_code=3))
        sys.stdout.flush()
        # 3 is gunicorn's "worker failed to boot": it stops instead of respawning
        sys.exit(3)
    leak = os.environ.get("DEMO_LEAK_MB_PER_SECOND")
    if leak:
        threading.Thread(target=_leak, args=(float(leak),), name="demo-leak", daemon=True).start()
    log.info("started", extra=fields(event="start", **info()))


def _leak(mb_per_second):
    hoard = []
    chunk = int(mb_per_second * 1024 * 1024)
    while True:
        hoard.append(b"\xa5" * chunk)  # written, so it is resident, not just reserved
        log.warning("leaking memory", extra=fields(event="leak", leaked_mb=round(len(hoard) * mb_per_second, 1)))
        time.sleep(1)


def fail_health():
    """Why health should fail, or None."""
    if os.environ.get("DEMO_FAIL_HEALTH") == "1":
        return "DEMO_FAIL_HEALTH=1"
    if os.path.exists(FAIL_HEALTH_FILE):
        return FAIL_HEALTH_FILE
    return None


def info():
    """Which pod and which release answered."""
    return {
        "app": APP,
        "version": os.environ.get("APP_VERSION", "unknown"),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


def slow(seconds):
    """The seconds /slow?seconds=N asks for, bounded; a bad value is a ValueError."""
    value = float(seconds)
    if not 0 <= value <= MAX_SLOW_SECONDS:
        raise ValueError(f"seconds must be between 0 and {MAX_SLOW_SECONDS}")
    return value
