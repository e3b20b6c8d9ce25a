"""`manage.py category_import FILE [--dry-run]`: import categories from an xlsx or CSV file (UTF-8 or GBK).

All or nothing: if any row is wrong, every problem is printed with its line and column and nothing is written
(exit status 1)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gridgov.cases.category_import import category_import_file
from gridgov.core.errors import InvalidInput


class Command(BaseCommand):
    help = "Import categories from an .xlsx or .csv file (all or nothing). --dry-run checks only."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an .xlsx workbook or a .csv file (UTF-8 or GBK)")
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")

    def handle(self, *args, file, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            report = category_import_file(file=path.read_bytes(), filename=path.name, by=None, dry_run=dry_run)
        except InvalidInput as exc:
            for p in exc.details or []:
                where = f"line {p['line']}" + (f", {p['column']}" if p.get("column") else "")
                self.stderr.write(f"  {where}: {p['reason']}")
            raise CommandError(f"{path.name} was refused: {len(exc.details or [])} problem(s); nothing was written.") from None
        verb = ("would create", "would update") if dry_run else ("created", "updated")
        self.stdout.write(self.style.SUCCESS(
            f"{path.name}: {report.rows} rows; {verb[0]} {len(report.created)}, {verb[1]} {len(report.updated)}"
            + (" (dry run: nothing written)." if dry_run else ".")))
