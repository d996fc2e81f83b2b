import os

from demo_common import at_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.production")
at_start()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
