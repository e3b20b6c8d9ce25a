"""The administrators' GeoJSON upload page: validate a file, show every problem or import it."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from gridgov.core.errors import InvalidInput

from .choices import AreaLevel
from .geojson_import import GRID, geojson_import

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class GeoJSONUploadForm(forms.Form):
    file = forms.FileField(label=_("GeoJSON file"))
    dry_run = forms.BooleanField(label=_("Dry run (check only, write nothing)"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB."),
                                        params={"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
        return upload


def _count_rows(report) -> list[tuple[str, int, int]]:
    labels = [(level.value, level.label) for level in AreaLevel] + [(GRID, _("Grid"))]
    return [(label, report.created[level], report.updated[level]) for level, label in labels]


@login_required
def geojson_upload(request):
    if not request.user.is_admin_role:
        raise PermissionDenied
    report, problems, refused = None, [], ""
    if request.method == "POST":
        form = GeoJSONUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                report = geojson_import(raw=form.cleaned_data["file"].read(), by=request.user,
                                        dry_run=form.cleaned_data["dry_run"])
            except InvalidInput as exc:
                problems, refused = exc.details or [], exc.message
    else:
        form = GeoJSONUploadForm()
    context = {
        "form": form,
        "report": report,
        "rows": _count_rows(report) if report else [],
        "problems": problems,
        "refused": bool(refused),
    }
    return render(request, "geo/import.html", context, status=422 if refused else 200)
