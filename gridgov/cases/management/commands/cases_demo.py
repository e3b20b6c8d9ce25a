"""`manage.py cases_demo --count N`: add a year of demo cases to the city in the database (e.g. a million
for the analytics benchmarks). `manage.py demo_city` already adds the default year; this adds more."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gridgov.cases.demo import build_cases
from gridgov.geo.models import Grid


class Command(BaseCommand):
    help = "Add N demo cases (a year ending now) to the existing demo city."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="how many cases")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, count, seed, **options):
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if not Grid.objects.exists():
            raise CommandError("No city in the database: run `manage.py demo_city` first.")
        started = time.monotonic()
        with transaction.atomic():
            result = build_cases(size="large", seed=seed, count=count, showcase=False)
        summary = ", ".join(f"{k} {v}" for k, v in result.items())
        self.stdout.write(self.style.SUCCESS(f"Added {summary} in {time.monotonic() - started:.1f}s."))
