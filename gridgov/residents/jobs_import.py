"""Resident imports as jobs: the upload is stored, then imported (in the request for a small file, by the
`residents.imports` periodic job otherwise) with its progress on the job row.

    import_job_submit(*, by, upload, dry_run) -> ImportJob
        Store the uploaded file under MEDIA_ROOT/imports/ and create a pending job. Refuses (InvalidInput)
        an empty upload; Forbidden for a user who may not import.
    import_job_run(*, job) -> ImportJob
        Claim a pending job (no two runners import the same file), run importer.import_file with a progress
        callback updating rows_done after every batch, then store the counts and the error report (xlsx,
        masked values): state done; refused (InvalidInput: its message); failed (unexpected error: logged).
        The uploaded file, which holds plaintext identifiers, is deleted afterwards. Nothing is written here but
        the job row and its files — the importer writes the residents and the audit entry.
    import_job_errors(job, limit=50) -> list[RowError]
        The first errors of a finished job, read back from its error report.
    may_import(user) -> bool
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.choices import Role
from gridgov.core.errors import Forbidden, InvalidInput

from . import importer
from .models import ImportJob

logger = logging.getLogger("gridgov.residents.import")

IMPORT_ROLES = (Role.GRID_MEMBER, Role.DISPATCHER)


def inline_max_bytes() -> int:
    """Files smaller than this are imported in the upload request; larger ones are queued."""
    return int(getattr(settings, "GRIDGOV_IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024))


def may_import(user) -> bool:
    return bool(user.is_authenticated and (user.role in IMPORT_ROLES or user.is_admin_role))


def import_job_submit(*, by, upload, dry_run: bool) -> ImportJob:
    if not may_import(by):
        raise Forbidden(_("You may not import residents."))
    if upload is None or not upload.size:
        raise InvalidInput(_("The file is empty."), code="invalid_file")
    filename = os.path.basename(upload.name or "upload")[:200] or "upload"
    job = ImportJob(created_by=by, filename=filename, dry_run=bool(dry_run))
    job.file.save(filename, upload, save=False)
    job.save()
    return job


def _progress(job: ImportJob):
    def report(rows_done: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(rows_done=rows_done)

    return report


def _finish(job: ImportJob, **fields) -> ImportJob:
    for name, value in fields.items():
        setattr(job, name, value)
    job.finished_at = timezone.now()
    if job.file:
        try:
            job.file.delete(save=False)  # the upload holds plaintext ID numbers and phones
        except OSError:
            logger.warning("import job %s: the uploaded file could not be deleted", job.pk, exc_info=True)
    job.save()
    return job


def import_job_run(*, job: ImportJob) -> ImportJob:
    claimed = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.PENDING).update(
        state=ImportJob.State.RUNNING)
    job.refresh_from_db()
    if not claimed:
        return job
    try:
        with job.file.open("rb") as fileobj:
            result = importer.import_file(fileobj=fileobj, filename=job.filename, by=job.created_by,
                                          dry_run=job.dry_run, progress=_progress(job))
    except InvalidInput as exc:
        return _finish(job, state=ImportJob.State.REFUSED, message=exc.message)
    except Exception:  # noqa: BLE001 - recorded on the job and logged; the runner and the page go on
        logger.exception("import job %s (%s) failed", job.pk, job.filename)
        return _finish(job, state=ImportJob.State.FAILED,
                       message=_("The import failed unexpectedly. The error has been logged; "
                                 "please tell the administrator."))
    job.refresh_from_db(fields=["rows_done"])
    if result.error_count:
        base = os.path.splitext(job.filename)[0][:100] or "import"
        job.errors_xlsx.save(f"{base}-errors.xlsx", ContentFile(importer.error_report_xlsx(result)), save=False)
    return _finish(job, state=ImportJob.State.DONE, rows_done=result.rows, created=result.created,
                   updated=result.updated, error_count=result.error_count)


STALE_AFTER = dt.timedelta(hours=6)


def import_jobs_fail_stale(*, now=None) -> int:
    """A job still "running" long after its upload lost its runner (a restart): say so instead of spinning
    forever. Batches it had saved stay in (each batch is whole); the user uploads the file again."""
    now = now or timezone.now()
    stale = ImportJob.objects.filter(state=ImportJob.State.RUNNING, created_at__lt=now - STALE_AFTER)
    return stale.update(state=ImportJob.State.FAILED, finished_at=now,
                        message="The import stopped (the server was restarted); rows imported before that are "
                                "kept. Upload the file again to import the rest.")


def import_jobs_run_pending() -> int:
    """Run the pending jobs one at a time, oldest first; returns how many ran."""
    import_jobs_fail_stale()
    ran = 0
    while True:
        job = ImportJob.objects.filter(state=ImportJob.State.PENDING).order_by("created_at", "id").first()
        if job is None:
            return ran
        import_job_run(job=job)
        ran += 1


def import_job_errors(job: ImportJob, limit: int = 50) -> list[importer.RowError]:
    if not job.errors_xlsx:
        return []
    from openpyxl import load_workbook

    errors: list[importer.RowError] = []
    try:
        with job.errors_xlsx.open("rb") as fileobj:
            workbook = load_workbook(fileobj, read_only=True)
            try:
                for line, column, value, reason in workbook.worksheets[0].iter_rows(min_row=2, values_only=True):
                    if len(errors) >= limit:
                        break
                    if line in (None, ""):
                        continue
                    errors.append(importer.RowError(line=int(line), column=column or "", value=value or "",
                                                    reason=reason or ""))
            finally:
                workbook.close()
    except (OSError, ValueError):
        logger.warning("import job %s: the error report cannot be read", job.pk, exc_info=True)
    return errors
