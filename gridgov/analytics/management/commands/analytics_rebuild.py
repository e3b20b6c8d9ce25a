"""`manage.py analytics_rebuild`: recompute every rollup from the raw cases (after a bulk load or a restore) and
the index's snapshot of the registry."""

import time

from django.core.management.base import BaseCommand

from gridgov.analytics.index import snapshot_refresh
from gridgov.analytics.rollups import rollups_rebuild


class Command(BaseCommand):
    help = "Recompute the analytics rollups from the raw cases."

    def handle(self, *args, **options):
        started = time.monotonic()
        result = rollups_rebuild(progress=lambda month: self.stdout.write(f"  {month:%Y-%m}"))
        snapshot_refresh()
        self.stdout.write(self.style.SUCCESS(
            f"Rollups rebuilt: {result['days']} days in {time.monotonic() - started:.1f}s."))
