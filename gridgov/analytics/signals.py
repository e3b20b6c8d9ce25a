"""Mark each saved case for the rollups (gridgov.analytics.rollups.rollups_update reads the marks)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from gridgov.cases.models import Case

from .models import DirtyCase


@receiver(post_save, sender=Case, dispatch_uid="analytics_case_changed")
def case_changed(sender, instance: Case, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    # inside the case's own transaction: the mark and the change commit (or roll back) together
    DirtyCase.objects.bulk_create([DirtyCase(case_id=instance.pk)], ignore_conflicts=True)
