"""`manage.py geo_import FILE [--dry-run] [--user USERNAME]`: import areas and grids from a GeoJSON file."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gridgov.core.errors import InvalidInput
from gridgov.geo.geojson_import import LEVELS, geojson_import


class Command(BaseCommand):
    help = "Import the area tree and grids from a GeoJSON FeatureCollection (the export format)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the GeoJSON file")
        parser.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
        parser.add_argument("--user", help="username recorded as the author of the import")

    def handle(self, *args, file: str, dry_run: bool = False, user: str | None = None, **options):
        by = None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(f"No user {user}.")
        try:
            with open(file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            report = geojson_import(raw=raw, by=by, dry_run=dry_run)
        except InvalidInput as exc:
            for problem in exc.details or []:
                self.stderr.write(problem["message"])
            raise CommandError(exc.message, returncode=1) from exc
        created = ", ".join(f"{level} {report.created[level]}" for level in LEVELS)
        updated = ", ".join(f"{level} {report.updated[level]}" for level in LEVELS)
        self.stdout.write(f"created: {created}")
        self.stdout.write(f"updated: {updated}")
        if report.moved:
            self.stdout.write(f"moved: {', '.join(report.moved)}")
        if dry_run:
            self.stdout.write("dry run: nothing was written")
