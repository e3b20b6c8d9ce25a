"""The administrators' category import page: upload an xlsx or CSV file, see every problem or the result;
download the template (or the current categories, to edit and import back)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from gridgov.core.errors import InvalidInput

from .category_import import category_import_file, category_workbook

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CategoryUploadForm(forms.Form):
    file = forms.FileField(label=_("Spreadsheet (.xlsx or .csv)"))
    dry_run = forms.BooleanField(label=_("Dry run (check only, write nothing)"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB."),
                                        params={"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
        if not upload.name.lower().endswith((".xlsx", ".csv")):
            raise forms.ValidationError(_("Upload an .xlsx or .csv file."))
        return upload


def _admin_only(request) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied


@login_required
def category_import(request):
    _admin_only(request)
    report, problems, refused = None, [], ""
    status = 200
    if request.method == "POST":
        form = CategoryUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = category_import_file(file=upload, filename=upload.name, by=request.user,
                                              dry_run=form.cleaned_data["dry_run"])
            except InvalidInput as exc:
                problems, refused, status = exc.details or [], exc.message, 422
        else:
            status = 422
    else:
        form = CategoryUploadForm()
    return render(request, "cases/category_import.html",
                  {"form": form, "report": report, "problems": problems, "refused": bool(refused)}, status=status)


@login_required
def category_template(request):
    _admin_only(request)
    current = request.GET.get("current") == "1"
    response = HttpResponse(category_workbook(with_categories=current), content_type=XLSX)
    name = "categories.xlsx" if current else "categories-template.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
