"""`manage.py calendar_load FILE.json`: load public holidays and adjusted workdays into the working calendar.

FILE.json is either {"source": ..., "note": ..., "days": [...]} (like gridgov/core/data/holidays_cn.json)
or a bare list of {"date": "YYYY-MM-DD", "kind": "holiday"|"workday", "name": "..."}.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gridgov.core.errors import InvalidInput
from gridgov.core.workcalendar import calendar_load


class Command(BaseCommand):
    help = "Load public holidays and adjusted workdays (调休) from a JSON file into the working calendar."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file: {\"days\": [...]} or a list of {date, kind, name}")
        parser.add_argument(
            "--keep-other-days", action="store_true",
            help="only add/update the listed days; by default the file replaces every year it mentions",
        )

    def handle(self, *args, file, keep_other_days=False, **options):
        path = Path(file)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        days = doc.get("days") if isinstance(doc, dict) else doc
        if not isinstance(days, list):
            raise CommandError(f"{path}: expected a list of days or an object with a \"days\" list")
        try:
            n = calendar_load(days=days, replace_years=not keep_other_days)
        except InvalidInput as exc:
            lines = [f"  entry {p['line']}: {p['reason']}" for p in (exc.details or [])]
            raise CommandError("\n".join([f"{path}: nothing loaded, {len(lines)} problem(s):", *lines])) from exc
        years = sorted({str(d["date"])[:4] for d in days})
        self.stdout.write(self.style.SUCCESS(f"Loaded {n} calendar days ({', '.join(years)}) from {path}."))
