import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from django.core.management.base import BaseCommand

from gridgov.core.scheduler import REGISTRY, run_job

logger = logging.getLogger("gridgov.jobs")


class Command(BaseCommand):
    help = "Run the periodic jobs registered in the apps' jobs.py (APScheduler), until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--list", action="store_true", help="list the registered jobs and exit")

    def handle(self, *args, once=False, list=False, **options):
        if list:
            for job in sorted(REGISTRY.values(), key=lambda j: j.name):
                self.stdout.write(f"{job.name}\tevery {job.seconds}s")
            return
        if once:
            failed = [job.name for job in REGISTRY.values() if not run_job(job)]
            if failed:
                raise SystemExit(f"failed: {', '.join(failed)}")
            self.stdout.write(f"ran {len(REGISTRY)} jobs")
            return
        scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        for job in REGISTRY.values():
            # First run a few seconds after start, then every `seconds`.
            scheduler.add_job(run_job, "interval", seconds=job.seconds, args=[job], id=job.name, name=job.name,
                              next_run_time=_soon())
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
        self.stdout.write(f"job runner: {len(REGISTRY)} jobs ({', '.join(sorted(REGISTRY))})")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass


def _soon():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(seconds=5)
