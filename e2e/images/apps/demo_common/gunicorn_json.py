"""gunicorn's logger, writing JSON: one line per request on the access log
(stdout with the presets' --access-logfile=-), and gunicorn's own lines too.

The images select it with GUNICORN_CMD_ARGS=--logger-class=…, which gunicorn
applies over any config file, so a spec's --config keeps JSON logs.
"""

from gunicorn import glogging

from .logs import JsonFormatter, fields


class JsonLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        self.access_log.info(
            "request",
            extra=fields(
                remote=environ.get("REMOTE_ADDR"),
                method=environ.get("REQUEST_METHOD"),
                path=environ.get("PATH_INFO"),
                query=environ.get("QUERY_STRING") or None,
                status=int(status),
                bytes=getattr(resp, "sent", None),
                duration_ms=round(request_time.total_seconds() * 1000, 1),
                user_agent=environ.get("HTTP_USER_AGENT"),
            ),
        )
