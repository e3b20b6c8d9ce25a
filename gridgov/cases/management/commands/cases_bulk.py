"""`manage.py cases_bulk --count N`: add N bench cases to the city in the database, fast (a million in a few
minutes on SQLite): consistent timestamps and counters for the KPIs, but no timeline (see gridgov/cases/bulk.py).
Run `manage.py analytics_rebuild` afterwards. For cases that live their whole life step by step, see
`manage.py cases_demo`."""

import time

from django.core.management.base import BaseCommand, CommandError

from gridgov.cases.bulk import bulk_cases
from gridgov.geo.models import Grid


class Command(BaseCommand):
    help = "Add N bench cases (no timeline) over the last months to the existing city; then run analytics_rebuild."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="how many cases")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--months", type=int, default=12, help="reported over this many months ending now")

    def handle(self, *args, count, seed, months, **options):
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if not 1 <= months <= 120:
            raise CommandError("--months must be between 1 and 120.")
        if not Grid.objects.exists():
            raise CommandError("No city in the database: run `manage.py demo_city` first.")
        started = time.monotonic()

        def progress(done: int) -> None:
            if options.get("verbosity", 1) > 1 or done == count or done % 200_000 == 0:
                self.stdout.write(f"  {done:,} cases written ({time.monotonic() - started:.1f}s)")

        try:
            result = bulk_cases(count=count, seed=seed, months=months, progress=progress)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(result["per_state"].items()))
        self.stdout.write(self.style.SUCCESS(
            f"Added {result['cases']:,} cases in {result['seconds']:.1f}s ({states}). "
            "Now run `manage.py analytics_rebuild`."))
