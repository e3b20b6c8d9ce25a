"""Placeholder views (replaced by the screens)."""

from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse("todo", status=501)


queue = dispute_list = register = from_case = warnings_board = measures = map_page = map_data = _todo
detail = act = agreement_docx = agreement_pdf = _todo
