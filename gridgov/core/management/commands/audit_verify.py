from django.core.management.base import BaseCommand

from gridgov.core.audit import audit_verify
from gridgov.core.models import AuditEntry


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; report the first entry that was changed, removed or reordered."

    def handle(self, *args, **options):
        problem = audit_verify()
        if problem:
            self.stderr.write(self.style.ERROR(f"audit chain broken at entry #{problem.seq} ({problem.kind}): "
                                               f"{problem.message}"))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {AuditEntry.objects.count()} entries"))
