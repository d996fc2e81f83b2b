from django.core.management.base import BaseCommand

from demo_common.job import run


class Command(BaseCommand):
    help = "The nightly sales report (a demo: logs, sleeps DEMO_JOB_SECONDS, exits)."

    def handle(self, *args, **options):
        run("send_sales_report")
