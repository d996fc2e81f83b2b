"""The product catalogue API (Flask), made by gunicorn's `catalog.app:create_app()`."""

import time

from flask import Flask, Response, g, jsonify, request

from demo_common import at_start, fail_health, info, metrics, slow

PRODUCTS = [
    {"sku": "mug-001", "name": "Enamel mug", "price_cents": 1400},
    {"sku": "tee-002", "name": "Logo T-shirt", "price_cents": 2200},
]


def create_app():
    at_start()
    app = Flask("catalog")

    @app.before_request
    def _start():
        g.start = time.monotonic()

    @app.after_request
    def _observe(response):
        route = request.url_rule.rule if request.url_rule else "other"
        metrics.observe(request.method, route, response.status_code, time.monotonic() - g.start)
        return response

    @app.get("/health")
    def health():
        reason = fail_health()
        if reason:
            return jsonify(status="failing", reason=reason), 503
        return jsonify(status="ok")

    @app.get("/metrics")
    def metrics_view():
        return Response(metrics.render(), content_type=metrics.CONTENT_TYPE)

    @app.get("/")
    def index():
        return jsonify(info())

    @app.get("/slow")
    def slow_view():
        try:
            seconds = slow(request.args.get("seconds", "1"))
        except ValueError as e:
            return jsonify(error=str(e)), 400
        time.sleep(seconds)
        return jsonify(slept=seconds, **info())

    @app.get("/api/products")
    def products():
        return jsonify(products=PRODUCTS, served_by=info()["hostname"])

    return app
