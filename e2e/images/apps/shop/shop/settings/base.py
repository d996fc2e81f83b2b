from demo_common.django_common import *  # noqa: F401,F403 – the demo's shared settings

INSTALLED_APPS = ["shop"]  # for its management commands (send_sales_report)
ROOT_URLCONF = "shop.urls"
