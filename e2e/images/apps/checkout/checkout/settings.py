from demo_common.django_common import *  # noqa: F401,F403 – the demo's shared settings

INSTALLED_APPS = []
ROOT_URLCONF = "checkout.urls"
