from django.http import JsonResponse
from django.urls import path

from demo_common.django_common import urlpatterns as common
from demo_common.switches import info


def cart(request):
    return JsonResponse({"items": [{"sku": "mug-001", "quantity": 1}], "release": info()["version"]})


urlpatterns = common() + [path("cart", cart)]
