"""manage.py residents_import FILE [--dry-run] [--user USERNAME]

Imports residents from an xlsx or CSV file (see gridgov.residents.importer). Prints the counts, the speed and
every row error (line, column, masked value, reason). Exit status: 0 when the file was read (even with bad
rows, which are listed), 2 when the file was refused as a whole.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.accounts.models import User
from gridgov.core.errors import InvalidInput
from gridgov.residents.importer import import_file


class Command(BaseCommand):
    help = "Import residents from an xlsx or CSV file (UTF-8 or GBK), upserting by ID number."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        parser.add_argument("--user", help="the acting user (default: the first active administrator)")

    def handle(self, *args, file: str, dry_run: bool, user: str | None, **options):
        if user:
            by = User.objects.filter(username=user, is_active=True).first()
            if by is None:
                raise CommandError(f"No active user {user!r}.", returncode=2)
        else:
            by = User.objects.filter(role="admin", is_active=True).order_by("pk").first()
            if by is None:
                raise CommandError("No active administrator: name the acting user with --user.", returncode=2)
        try:
            with open(file, "rb") as fileobj:
                last = [0]

                def progress(rows: int) -> None:
                    if rows - last[0] >= 50_000:
                        last[0] = rows
                        self.stderr.write(f"… {rows} rows")

                result = import_file(fileobj=fileobj, filename=file, by=by, dry_run=dry_run, progress=progress)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}", returncode=2) from exc
        except InvalidInput as exc:
            raise CommandError(f"The file was refused: {exc.message}", returncode=2) from exc
        verb = "would be " if dry_run else ""
        self.stdout.write(
            f"{result.rows} rows read ({result.file_type}{', ' + result.encoding if result.encoding else ''}) "
            f"in {result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s"
            f"{' — dry run, nothing written' if dry_run else ''}")
        self.stdout.write(f"residents {verb}created: {result.created}, {verb}updated: {result.updated}; "
                          f"addresses: {result.addresses_created}, houses: {result.houses_created}, "
                          f"households: {result.households_created}")
        self.stdout.write(f"bad rows: {result.bad_rows} ({result.error_count} errors)")
        for error in result.errors:
            self.stdout.write(f"  line {error.line}, {error.column or '-'}: {error.reason}"
                              f"{f' [{error.value}]' if error.value else ''}")
        if result.errors_truncated:
            self.stdout.write(f"  … and {result.error_count - len(result.errors)} more errors")
