"""manage.py residents_export FILE [--user USERNAME]: the user's scoped residents to xlsx, identifiers masked."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.accounts.models import User
from gridgov.residents.exporter import export_xlsx


class Command(BaseCommand):
    help = "Export residents to xlsx with ID numbers and phones masked."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", help="the acting user (default: the first active administrator)")

    def handle(self, *args, file: str, user: str | None, **options):
        users = User.objects.filter(is_active=True)
        by = users.filter(username=user).first() if user else users.filter(role="admin").order_by("pk").first()
        if by is None:
            raise CommandError("No such active user: name the acting user with --user.")
        with open(file, "wb") as out:
            for chunk in export_xlsx(user=by):
                out.write(chunk)
        self.stdout.write(f"written {file}")
