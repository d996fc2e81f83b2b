"""One JSON object per log line, on stdout, for every logger (the app's, the server's)."""

import json
import logging
import os
import sys
import time

APP = os.environ.get("APP_NAME", "demo")


def fields(**kw):
    """`extra=` for a log call: the keys become fields of the JSON line."""
    return {"fields": kw}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "app": APP,
            "msg": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            remote, method, target, http, status = record.args  # uvicorn's access-log arguments
            path, _, query = target.partition("?")
            line.update(msg="request", remote=remote, method=method, path=path, query=query or None, http=http, status=status)
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def json_handler(stream=None):
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    return handler


def setup_logging(level=None):
    """Route the root logger (and so every logger that propagates) to stdout as JSON."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler())
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO").upper())
