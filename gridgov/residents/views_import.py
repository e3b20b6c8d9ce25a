"""Collect once, on screen: the import upload page (file + dry run), the job page whose status partial polls
while the file is imported, the error report and template downloads, and the export download.

Thin: jobs_import does the work (small files are imported in the request, larger ones queued for the
`residents.imports` periodic job), importer/exporter read and write the files. Values shown or downloaded are
masked; the export is scoped to the user and audited by the exporter.
"""

from __future__ import annotations

from django import forms
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from gridgov.cases.views_queues import role_required
from gridgov.core.errors import NotFound, ServiceError
from gridgov.core.scope import scope_q
from gridgov.geo.models import Grid

from . import exporter, importer, jobs_import, selectors
from .models import ImportJob, Resident

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORTERS = jobs_import.IMPORT_ROLES
POLL_SECONDS = 2
RECENT_JOBS = 10


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (.xlsx or .csv)"))
    dry_run = forms.BooleanField(label=_("Dry run: check the file and show what would change, write nothing"),
                                 required=False, initial=True)


def _job(request, pk: int) -> ImportJob:
    """The user's own job (any job for an administrator); anything else is a 404."""
    try:
        return selectors.import_job_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _job_context(job: ImportJob) -> dict:
    return {"job": job, "errors": jobs_import.import_job_errors(job) if job.state == ImportJob.State.DONE else [],
            "poll_seconds": POLL_SECONDS}


@role_required(*IMPORTERS)
def import_page(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = jobs_import.import_job_submit(by=request.user, upload=upload,
                                               dry_run=form.cleaned_data["dry_run"])
        except ServiceError as exc:
            form.add_error("file", exc.message)
        else:
            if upload.size < jobs_import.inline_max_bytes():
                jobs_import.import_job_run(job=job)
            return redirect("residents:import_job", pk=job.pk)
    jobs = ImportJob.objects.filter(created_by=request.user)[:RECENT_JOBS]
    return render(request, "residents/import.html", {"form": form, "jobs": jobs},
                  status=422 if form.errors else 200)


@role_required(*IMPORTERS)
def import_job(request, pk: int):
    return render(request, "residents/import.html", _job_context(_job(request, pk)))


@role_required(*IMPORTERS)
def import_status(request, pk: int):
    return render(request, "residents/_import_status.html", _job_context(_job(request, pk)))


@role_required(*IMPORTERS)
def import_errors(request, pk: int):
    job = _job(request, pk)
    if not job.errors_xlsx:
        raise Http404("This import has no error report.")
    base = job.filename.rsplit(".", 1)[0] or "import"
    return FileResponse(job.errors_xlsx.open("rb"), as_attachment=True, filename=f"{base}-errors.xlsx",
                        content_type=XLSX)


@role_required(*IMPORTERS)
def import_template(request):
    response = HttpResponse(importer.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="residents-template.xlsx"'
    return response


@role_required(*IMPORTERS)
def export(request):
    queryset = Resident.objects.all()
    name = "residents"
    if code := request.GET.get("grid", "").strip():
        grid = Grid.objects.filter(scope_q(request.user), code=code).first()
        if grid is None:
            raise Http404("No such grid in your area.")
        queryset, name = queryset.filter(grid=grid), f"residents-{grid.code}"
    response = StreamingHttpResponse(exporter.export_xlsx(user=request.user, queryset=queryset), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response
