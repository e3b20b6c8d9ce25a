"""`manage.py demo_city`: build the demo city "S City" deterministically from a seed.

Each app contributes a step (settings.GRIDGOV_DEMO_STEPS): geography first, then people; later apps add
residents, cases and disputes.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string

from gridgov.core.audit import audit_log
from gridgov.geo.models import Area


class Command(BaseCommand):
    help = "Build the demo city (S City). --size small (default, seconds) or large (10,000+ grids)."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["small", "large"], default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing when the database already holds areas (make run)")

    def handle(self, *args, size, seed, if_empty, **options):
        if Area.objects.exists():
            if if_empty:
                self.stdout.write("The database already holds a city: reusing it.")
                return
            raise CommandError("The database already holds areas; the demo city needs an empty database.")
        started = time.monotonic()
        with transaction.atomic():
            for step in settings.GRIDGOV_DEMO_STEPS:
                t0 = time.monotonic()
                result = import_string(step)(size=size, seed=seed)
                summary = ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, int))
                self.stdout.write(f"  {step.rsplit('.', 1)[-1]}: {summary} ({time.monotonic() - t0:.1f}s)")
            audit_log(actor=None, action="demo_city.build", object_type="geo.area", object_repr="S City",
                      after={"size": size, "seed": seed})
        self.stdout.write(self.style.SUCCESS(
            f"Demo city built ({size}, seed {seed}) in {time.monotonic() - started:.1f}s."))
