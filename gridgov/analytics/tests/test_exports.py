"""The downloads: every dashboard table as an xlsx workbook (the table, About, Definitions), the monthly report
of an area as xlsx and PDF, each audited; bad parameters and another area's figures refused."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from gridgov.analytics.kpis import KPIS
from gridgov.analytics.tests.screens import ON, client_for, errors, stub_index
from gridgov.core.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_ui")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(user, url: str, **params):
    response = client_for(user).get(url, {"on": ON, **params})
    assert response.status_code == 200, response.content[:2000]
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return response, data


def table_rows(sheet) -> tuple[list, list[list]]:
    """(header, rows) of a table sheet: a title line, a blank line, the header, the rows."""
    rows = list(sheet.iter_rows(values_only=True))
    return list(rows[2]), [list(r) for r in rows[3:]]


def about(book) -> dict:
    return {r[0]: r[1] for r in book["About"].iter_rows(values_only=True)}


def test_the_ranking_table_as_xlsx_with_the_node_the_period_and_the_definitions(figures):
    leader = figures["users"]["leader"]
    response, data = download(leader, "/analytics/export.xlsx", area="320508", table="ranking", kpi="reported")
    assert response["Content-Type"] == XLSX
    assert 'filename="320508-ranking-2026-11-01_2026-11-30.xlsx"' in response["Content-Disposition"]
    assert data[:2] == b"PK"
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[-2:] == ["Definitions", "About"]
    sheet = book.worksheets[0]
    assert "District" in sheet["A1"].value and "2026-11-01" in sheet["A1"].value
    header, rows = table_rows(sheet)
    assert header[:5] == ["Rank", "Previous rank", "Code", "Name", "Level"]
    reported = header.index("Reported")
    assert [(r[0], r[1], r[2], r[3], r[reported]) for r in rows] == [
        (1, 1, "320508001", "Street", 5), (2, 2, "320508002", "Street 2", 1)]
    assert rows[0][header.index("Reported, previous period")] == 1
    assert rows[1][header.index("Resolution rate (解决率) (%)")] is None  # no value, not 0
    info = about(book)
    assert info["Area or grid"] == "District (320508)" and info["Period"] == "2026-11-01 – 2026-11-30"
    assert info["Previous period"] == "2026-10-01 – 2026-10-31" and info["Exported by"] == "leader"
    codes = [r[0] for r in book["Definitions"].iter_rows(min_row=2, values_only=True)]
    assert [k.code for k in KPIS] == codes[:len(KPIS)]
    entry = AuditEntry.objects.get(action="analytics.export")
    assert (entry.actor, entry.object_id) == (leader, "320508")
    assert entry.after["what"] == "ranking" and entry.after["format"] == "xlsx"
    assert entry.after["start"] == "2026-11-01"


def test_every_table_exports(figures, monkeypatch):
    stub_index(monkeypatch)
    u = figures["users"]
    leader = u["leader"]

    def rows_of(user, **params):
        _response, data = download(user, "/analytics/export.xlsx", **params)
        return table_rows(load_workbook(io.BytesIO(data)).worksheets[0])

    header, rows = rows_of(leader, table="kpis")
    assert header[:6] == ["Code", "KPI", "Unit", "Value", "Previous period", "Change"]
    values = {r[0]: (r[3], r[4], r[5]) for r in rows}
    assert values["reported"] == (6, 1, 5) and values["resolution_rate"] == (66.7, None, None)
    header, rows = rows_of(leader, table="breakdown")
    assert [(r[0], r[1], r[header.index("Reported")]) for r in rows] == [("T01", "市容", 6)]
    header, rows = rows_of(leader, table="breakdown", by="source")
    assert [r[0] for r in rows] == ["grid_member"]
    header, rows = rows_of(leader, table="departments")
    assert [(r[0], r[2]) for r in rows] == [(1, "URBAN"), (2, "WATER")]
    header, rows = rows_of(leader, table="index", area="320508")
    assert [(r[0], r[2], r[5]) for r in rows] == [(1, "320508001", 80.0), (2, "320508002", 70.0)]
    header, rows = rows_of(leader, table="index", grid=figures["g1"].code)
    assert rows[0][:4] == ["index", "Governance index", None, 64.5]
    header, rows = rows_of(u["handler"], table="department")
    assert {r[0]: r[3] for r in rows}["reported"] == 2
    # the dashboard's own ?export=xlsx
    response, data = download(leader, "/analytics/", export="xlsx", table="ranking")
    assert response["Content-Type"] == XLSX and data[:2] == b"PK"
    assert AuditEntry.objects.filter(action="analytics.export").count() == 8


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"table": "nope"}, 422, "table"),
    ({"table": "ranking", "grid": "320508001001001"}, 422, "table"),
    ({"table": "ranking", "kpi": "nope"}, 422, "kpi"),
    ({"table": "ranking", "area": "nope"}, 404, "area"),
    ({"table": "department"}, 422, "department"),
    ({"table": "ranking", "start": "2026-02-01", "end": "2026-01-01"}, 422, "end"),
])
def test_bad_export_parameters(figures, params, status, field):
    response = client_for(figures["users"]["leader"]).get("/analytics/export.xlsx", {"on": ON, **params})
    assert response.status_code == status
    assert f'data-testid="error-{field}"' in errors(response)
    assert not AuditEntry.objects.filter(action="analytics.export").exists()


def test_another_street_is_not_exported(figures):
    other = figures["users"]["other_dispatcher"]
    response = client_for(other).get("/analytics/export.xlsx", {"area": "320508001", "table": "kpis"})
    assert response.status_code == 404
    response = client_for(other).get("/analytics/report.xlsx", {"area": "320508001", "month": "2026-11"})
    assert response.status_code == 404
    assert client_for(figures["users"]["resident"]).get("/analytics/report.pdf").status_code == 403


def test_the_monthly_report_as_xlsx(figures, monkeypatch):
    stub_index(monkeypatch)
    leader = figures["users"]["leader"]
    response, data = download(leader, "/analytics/report.xlsx", area="320508001", month="2026-11")
    assert 'filename="320508001-report-2026-11.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["KPIs", "Ranking", "Category", "Governance index", "Definitions", "About"]
    assert book["Ranking"]["A1"].value.startswith("Ranking by Resolution rate (解决率) — Monthly governance report")
    header, rows = table_rows(book["KPIs"])
    assert {r[0]: (r[3], r[4]) for r in rows}["reported"] == (5, 1)  # the month and the month before
    header, rows = table_rows(book["Ranking"])
    assert [(r[0], r[2]) for r in rows] == [(1, "320508001001")]  # the street's one community
    header, rows = table_rows(book["Category"])
    assert rows[0][1] == "市容" and rows[0][header.index("Reported")] == 5
    header, rows = table_rows(book["Governance index"])
    assert rows[0][5] == 80.0
    assert about(book)["Period"] == "2026-11-01 – 2026-11-30"
    entry = AuditEntry.objects.get(action="analytics.export")
    assert entry.after["what"] == "monthly_report" and entry.object_id == "320508001"


def test_the_monthly_report_as_pdf(figures, monkeypatch):
    from pypdf import PdfReader

    stub_index(monkeypatch)
    response, data = download(figures["users"]["leader"], "/analytics/report.pdf", area="320508001",
                              month="2026-11")
    assert response["Content-Type"] == "application/pdf"
    assert data[:4] == b"%PDF"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Street" in text and "2026-11" in text
    assert "Resolution rate" in text and "解决率" in text and "Community" in text
    assert "市容" in text  # the category, in the CID font
    entry = AuditEntry.objects.get(action="analytics.export")
    assert entry.after["format"] == "pdf"


def test_the_monthly_report_checks_the_month(figures):
    leader = figures["users"]["leader"]
    for month in ("2026-13", "November", "2026-1"):
        response = client_for(leader).get("/analytics/report.pdf", {"month": month})
        assert response.status_code == 422
        assert 'data-testid="error-month"' in errors(response)
    response, _data = download(leader, "/analytics/report.xlsx")  # no month: the month before this one
    assert response["Content-Disposition"].startswith('attachment; filename="320500-report-')
