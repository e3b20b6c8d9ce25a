"""`manage.py geo_export AREA_CODE [-o FILE]`: everything under an area as GeoJSON (the import format)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from gridgov.core.scope import prefix_q
from gridgov.geo.export import feature_collection
from gridgov.geo.models import Area, Grid


class Command(BaseCommand):
    help = "Export an area, the areas below it and their grids as a GeoJSON FeatureCollection (no user scope)."

    def add_arguments(self, parser):
        parser.add_argument("code", metavar="AREA_CODE", help="code of the area to export")
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    def handle(self, *args, code: str, output: str | None = None, **options):
        area = Area.objects.filter(code=code).first()
        if area is None:
            raise CommandError(f"No area with code {code}.")
        areas = Area.objects.filter(prefix_q("path", area.path)).select_related("parent").order_by("path")
        grids = Grid.objects.filter(prefix_q("path", area.path)).order_by("path")
        data = feature_collection(areas=areas, grids=grids)
        text = json.dumps(data, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"{len(data['features'])} features written to {output}")
        else:
            self.stdout.write(text)
