"""The shop: a Django project (shop.wsgi:application) with a Celery app (`celery --app=shop`)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
