"""`manage.py disputes_demo [--seed N] [--per-community N] [--force]`: add the demo year of disputes to the city in
the database (one built before the disputes app existed). `manage.py demo_city` already adds them."""

import time

from django.core.management.base import BaseCommand, CommandError

from gridgov.disputes.demo import demo_disputes
from gridgov.disputes.models import Dispute
from gridgov.geo.models import Grid


class Command(BaseCommand):
    help = "Add a year of demo disputes to the existing demo city (if it has none, or with --force)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--per-community", type=int, default=None,
                            help="disputes a year in each community (default: the demo's)")
        parser.add_argument("--force", action="store_true", help="add them even if there are disputes already")

    def handle(self, *args, seed, per_community, force, **options):
        if not Grid.objects.exists():
            raise CommandError("No city in the database: run `manage.py demo_city` first.")
        if per_community is not None and per_community < 0:
            raise CommandError("--per-community must not be negative.")
        if Dispute.objects.exists() and not force:
            self.stdout.write("The database already holds disputes: nothing added (use --force to add more).")
            return
        started = time.monotonic()
        count = demo_disputes(seed=seed, per_community=per_community)
        self.stdout.write(self.style.SUCCESS(f"Added {count} demo disputes in {time.monotonic() - started:.1f}s."))
