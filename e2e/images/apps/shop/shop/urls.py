from django.http import JsonResponse
from django.urls import path

from demo_common.django_common import urlpatterns as common
from demo_common.switches import slow


def enqueue_sleep(request):
    """Sends the Celery task shop.sleep; the worker logs its start and finish."""
    from .tasks import sleep

    try:
        seconds = slow(request.GET.get("seconds", "1"))
    except ValueError as e:
        return JsonResponse({"error": str(e)}, status=400)
    try:
        result = sleep.apply_async(args=[seconds], retry=False)
    except Exception as e:  # the broker is down or unreachable
        return JsonResponse({"error": f"could not enqueue: {e}"}, status=503)
    return JsonResponse({"task_id": result.id, "seconds": seconds}, status=202)


urlpatterns = common() + [path("tasks/sleep", enqueue_sleep)]
