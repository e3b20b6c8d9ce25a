"""The analytics API's downloads and area-outline layer: a dashboard table as xlsx, the monthly report as xlsx and
PDF (the files of gridgov.analytics.exports, audited as in the web UI), and GET /analytics/map/nodes (the
dashboard's map/nodes.json); who may, scope, bad parameters (a 4xx naming them, nothing audited)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from gridgov.accounts.services import token_create
from gridgov.analytics.tests.screens import ON, client_for, stub_index
from gridgov.core.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_ui")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BASE = "/api/v1/analytics"


def api_get(client, user, endpoint: str, **params):
    """As `user` with a bearer token (the API's own authentication)."""
    token = token_create(user=user, name="t")[1]
    return client.get(f"{BASE}/{endpoint}", params, headers={"Authorization": f"Bearer {token}",
                                                              "Accept-Language": "en"})


def refused(response, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert {"code", "message", "details"} <= set(body)
    if field:
        assert field in [d.get("field") for d in body["details"] or []], body
    if code:
        assert body["code"] == code, body
    return body


def test_a_table_as_xlsx_is_the_ui_file_and_audited(client, figures):
    leader = figures["users"]["leader"]
    response = api_get(client, leader, "export", area="320508", table="ranking", kpi="reported", on=ON)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == XLSX and response["Cache-Control"] == "private, no-store"
    assert 'filename="320508-ranking-2026-11-01_2026-11-30.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[-2:] == ["Definitions", "About"]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header, data = list(rows[2]), rows[3:]
    assert [(r[2], r[header.index("Reported")]) for r in data] == [("320508001", 5), ("320508002", 1)]
    # the same bytes as the UI's download but for the export time
    ui = client_for(leader).get("/analytics/export.xlsx", {"area": "320508", "table": "ranking", "kpi": "reported",
                                                          "on": ON})
    ui_rows = list(load_workbook(io.BytesIO(ui.content)).worksheets[0].iter_rows(values_only=True))
    assert ui_rows == rows
    entry = AuditEntry.objects.filter(action="analytics.export").first()
    assert (entry.actor, entry.object_id, entry.after["what"], entry.after["format"]) == (leader, "320508",
                                                                                         "ranking", "xlsx")


def test_a_handler_downloads_their_department_table_only(client, figures):
    handler = figures["users"]["handler"]
    response = api_get(client, handler, "export", table="department", on=ON)
    assert response.status_code == 200 and response.content[:2] == b"PK"
    rows = list(load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True))
    assert {r[0]: r[3] for r in rows[3:]}["reported"] == 2
    refused(api_get(client, handler, "export", table="department", department="WATER", on=ON), 404, "department")
    refused(api_get(client, handler, "report.xlsx", month="2026-11"), 403, code="forbidden")


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"table": "nope"}, 422, "table"),
    ({"table": "ranking", "grid": "320508001001001"}, 422, "table"),
    ({"table": "ranking", "kpi": "nope"}, 422, "kpi"),
    ({"table": "ranking", "area": "nope"}, 404, "area"),
    ({"table": "ranking", "area": "320508002"}, 404, "area"),  # not the dispatcher's street
    ({"table": "department"}, 422, "department"),
    ({"table": "ranking", "start": "2026-02-01", "end": "2026-01-01"}, 422, "end"),
])
def test_bad_or_foreign_export_parameters_are_refused_and_nothing_audited(client, figures, params, status, field):
    refused(api_get(client, figures["users"]["dispatcher"], "export", on=ON, **params), status, field)
    assert not AuditEntry.objects.filter(action="analytics.export").exists()


def test_who_may_not_read_figures_gets_a_403(client, figures):
    resident = figures["users"]["resident"]
    for endpoint in ("export", "report.xlsx", "report.pdf"):
        refused(api_get(client, resident, endpoint), 403, code="forbidden")
    assert client.get(f"{BASE}/report.pdf").status_code == 401
    assert not AuditEntry.objects.filter(action="analytics.export").exists()


def test_the_monthly_report_as_xlsx_and_pdf(client, figures, monkeypatch):
    stub_index(monkeypatch)
    leader = figures["users"]["leader"]
    response = api_get(client, leader, "report.xlsx", area="320508001", month="2026-11")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert 'filename="320508001-report-2026-11.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["KPIs", "Ranking", "Category", "Governance index", "Definitions", "About"]
    pdf = api_get(client, leader, "report.pdf", area="320508001", month="2026-11")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "320508001-report-2026-11.pdf" in pdf["Content-Disposition"]
    formats = sorted(e.after["format"] for e in AuditEntry.objects.filter(action="analytics.export"))
    assert formats == ["pdf", "xlsx"]


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"month": "2026-13"}, 422, "month"),
    ({"month": "11/2026"}, 422, "month"),
    ({"month": "2026-11-01"}, 422, "month"),  # longer than YYYY-MM
    ({"area": "320508002", "month": "2026-11"}, 404, "area"),
    ({"kpi": "nope"}, 422, "kpi"),
])
def test_bad_or_foreign_report_parameters(client, figures, params, status, field):
    for endpoint in ("report.xlsx", "report.pdf"):
        refused(api_get(client, figures["users"]["dispatcher"], endpoint, **params), status, field)
    assert not AuditEntry.objects.filter(action="analytics.export").exists()


def test_the_area_outline_layer_is_the_dashboard_map(client, figures):
    leader = figures["users"]["leader"]
    response = api_get(client, leader, "map/nodes", area="320508001001", on=ON)
    assert response.status_code == 200, response.content[:500]
    layer = response.json()
    ui = client_for(leader).get("/analytics/map/nodes.json", {"area": "320508001001", "on": ON}).json()
    def shown(collection):  # the API's schema lists every property, null when the UI's JSON leaves it out
        return [{k: v for k, v in f["properties"].items() if v is not None} for f in collection["features"]]

    assert shown(layer) == shown(ui) and layer["node"] == ui["node"] and layer["kpi"] == ui["kpi"]
    assert [f["geometry"] for f in layer["features"]] == [f["geometry"] for f in ui["features"]]
    props = {f["properties"]["code"]: f["properties"] for f in layer["features"]}
    assert set(props) == {figures["g1"].code, figures["g2"].code}
    assert props[figures["g1"].code]["value"] == 66.7 and props[figures["g1"].code]["rank"] == 1
    grid = api_get(client, leader, "map/nodes", grid=figures["g1"].code).json()
    assert [f["properties"]["self"] for f in grid["features"]] == [True]
    city = api_get(client, leader, "map/nodes").json()
    (district,) = city["features"]  # no boundary: the extent of its grids
    assert district["geometry"]["coordinates"][0][0] == [120.60, 31.30]


def test_the_area_outline_layer_refuses_bad_or_foreign_nodes(client, figures):
    other = figures["users"]["other_dispatcher"]
    refused(api_get(client, other, "map/nodes", area="320508001"), 404, "area", "unknown_area")
    refused(api_get(client, other, "map/nodes", kpi="nope"), 422, "kpi")
    refused(api_get(client, other, "map/nodes", period="fortnight"), 422, "period")
    refused(api_get(client, figures["users"]["resident"], "map/nodes"), 404)
