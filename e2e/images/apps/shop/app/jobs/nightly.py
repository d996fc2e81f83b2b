"""The cron preset's job: `python -m app.jobs.nightly`."""

from demo_common.job import run

if __name__ == "__main__":
    run("app.jobs.nightly")
