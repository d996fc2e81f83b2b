"""What every demo app shares: JSON logs, the DEMO_* switches, pod info and metrics.

Each app calls `at_start()` once while it loads; see ../../README.md for the switches.
Kept light (no metrics import) because gunicorn's master loads gunicorn_json from here.
"""

from .logs import fields, setup_logging
from .switches import at_start, fail_health, info, slow

__all__ = ["at_start", "fail_health", "fields", "info", "setup_logging", "slow"]
