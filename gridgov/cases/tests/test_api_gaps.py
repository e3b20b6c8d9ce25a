"""What the web UI did and the API now does too: the queue pages' counters in one call, the category import
(dry run, every problem, all or nothing) and its template."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from gridgov.accounts.services import token_create
from gridgov.cases import services
from gridgov.cases.category_import import HEADERS
from gridgov.cases.models import Category
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db

IN_G3 = {"lon": 120.625, "lat": 31.305}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bearer(user):
    return {"Authorization": f"Bearer {token_create(user=user, name='t')[1]}", "Accept-Language": "en"}


def get(client, user, path, **params):
    return client.get(f"/api/v1{path}", params, headers=bearer(user))


# --- the queue pages' counters -------------------------------------------------------------------------------

@pytest.fixture
def queues(world, drive):
    """In street 1: reported, registered, returned, dispatched, in progress with a pending extension request,
    handled, verified; in street 2 (another dispatcher's): one reported case."""
    u = world["users"]
    cases = {state: drive(state) for state in ("reported", "registered", "dispatched", "handled", "verified")}
    returned = drive("dispatched")
    services.case_return(case_id=returned.pk, by=u["handler"], reason="不归我们")
    asking = drive("in_progress")
    services.case_request_extension(case_id=asking.pk, by=u["handler"], amount=2, unit="days", reason="材料未到")
    services.case_report(by=u["gm3"], category="T0101", description="另一街道", **IN_G3)
    return cases


def test_counters_for_a_dispatcher_match_the_console_and_the_filtered_lists(client, world, queues):
    dispatcher = world["users"]["dispatcher"]
    response = get(client, dispatcher, "/cases/counters")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["department"] is None and body["today"] is None
    assert body["console"] == {"open": 7, "to_register": 1, "to_dispatch": 2, "returned": 1, "extensions": 1,
                               "handling": 2, "to_verify": 1, "to_close": 1, "overdue": 0, "all": 7}
    # the same numbers as the console page (both read selectors.console_counts) and the filtered lists
    client.force_login(dispatcher)
    page = client.get("/cases/console/")
    assert {q.key: n for q, n in page.context["queues"]} == body["console"]
    listed = get(client, dispatcher, "/cases", state=["registered"]).json()["count"]
    assert listed == body["console"]["to_dispatch"]


def test_counters_follow_scope_and_role(client, world, queues):
    u = world["users"]
    other = get(client, u["other_dispatcher"], "/cases/counters").json()
    assert other["console"]["all"] == 1 and other["console"]["to_register"] == 1  # street 2 only

    handler = get(client, u["handler"], "/cases/counters").json()
    assert handler["console"] is None and handler["today"] is None
    # urban's live tasks: the dispatched case (to accept) and the one in progress; returned and done ones not
    assert handler["department"] == {"pending": 1, "accepted": 1, "overdue": 0}

    gm = get(client, u["gm"], "/cases/counters").json()
    assert gm["console"] is None and gm["department"] is None
    assert gm["today"] == {"to_verify": 1, "overdue": 0, "my_reports": 7}

    admin = get(client, u["admin"], "/cases/counters").json()
    assert admin["console"]["all"] == 8 and admin["today"] is None
    assert admin["department"] == {"pending": 0, "accepted": 0, "overdue": 0}  # no department of their own

    assert get(client, u["resident"], "/cases/counters").json() == {"console": None, "department": None,
                                                                   "today": None}
    assert client.get("/api/v1/cases/counters").status_code == 401


# --- category import -----------------------------------------------------------------------------------------

ROWS = [
    ["Z01", "新类别", "", "事件", "", "", "", "", "", "URBAN", "", "", "", "", "", "否"],
    ["Z0101", "共享单车乱停", "Z01", "事件", 2, 2, 3, "工作时", "工作日", "URBAN", 60, 5, "是", "否", "", "否"],
    ["T0101", "暴露垃圾（改名）", "T01", "", "", "", "", "", "", "", "", "", "", "", "", ""],
]


def xlsx(rows, name="categories.xlsx"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue(), content_type=XLSX)


def upload(client, user, file, **fields):
    data = {**fields} | ({"spreadsheet": file} if file is not None else {})
    return client.post("/api/v1/categories/import", data, headers=bearer(user))


def state():
    return (list(Category.objects.order_by("code").values_list("code", "name", "parent_id")),
            AuditEntry.objects.exclude(action="token.create").count())  # a token per request is audited too


def test_dry_run_reports_and_writes_nothing(client, world):
    before = state()
    response = upload(client, world["users"]["admin"], xlsx(ROWS), dry_run="true")
    assert response.status_code == 200, response.content
    assert response.json() == {"dry_run": True, "rows": 3, "created": ["Z01", "Z0101"], "updated": ["T0101"]}
    assert state() == before


def test_import_writes_the_file_with_an_audit_entry(client, world):
    audits = AuditEntry.objects.count()
    response = upload(client, world["users"]["admin"], xlsx(ROWS))
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is False and response.json()["created"] == ["Z01", "Z0101"]
    z = Category.objects.get(code="Z0101")
    assert z.parent.code == "Z01" and z.handle_limit == 3 and z.default_department.code == "URBAN"
    assert Category.objects.get(code="T0101").name == "暴露垃圾（改名）"
    assert AuditEntry.objects.count() > audits


def test_a_bad_file_is_refused_whole_with_every_problem(client, world):
    bad = [*ROWS, ["Z0102", "", "NOPE", "怪", "", "", "x", "", "", "NODEPT", "", "", "也许", "", "", ""]]
    before = state()
    response = upload(client, world["users"]["admin"], xlsx(bad))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_file"
    problems = {(p["line"], p["column"]) for p in body["details"]}
    assert {(5, "名称"), (5, "大类编码"), (5, "类型(部件/事件/社会治理)"), (5, "处置时限"), (5, "默认部门编码"),
            (5, "反馈需照片(是/否)")} <= problems
    assert all(set(p) >= {"line", "column", "reason", "code"} for p in body["details"])
    assert state() == before


@pytest.mark.parametrize("file, field", [
    (SimpleUploadedFile("cats.txt", b"code,name\n", content_type="text/plain"), "spreadsheet"),
    (SimpleUploadedFile("cats.csv", b"x" * (5 * 1024 * 1024 + 1), content_type="text/csv"), "spreadsheet"),
    (SimpleUploadedFile("cats.csv", b"", content_type="text/csv"), "spreadsheet"),
    (SimpleUploadedFile("cats.xlsx", b"PK not a workbook", content_type=XLSX), None),
    (None, "spreadsheet"),
])
def test_bad_uploads_are_4xx_and_write_nothing(client, world, file, field):
    before = state()
    response = upload(client, world["users"]["admin"], file)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] in ("invalid_file", "validation_error")
    if field:
        assert any(d.get("field") == field or d.get("line") == 0 for d in body["details"]), body
    assert state() == before


def test_only_administrators_import(client, world):
    before = state()
    for name in ("dispatcher", "leader", "handler", "resident"):
        response = upload(client, world["users"][name], xlsx(ROWS))
        assert response.status_code == 403 and response.json()["code"] == "forbidden", name
    assert client.post("/api/v1/categories/import", {"spreadsheet": xlsx(ROWS)}).status_code == 401
    assert state() == before


def test_the_template_and_the_current_categories_download(client, world):
    admin = world["users"]["admin"]
    response = get(client, admin, "/categories/import/template.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="categories-template.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADERS and sheet.max_row == 1

    current = get(client, admin, "/categories/import/template.xlsx", current="true")
    assert current["Content-Disposition"] == 'attachment; filename="categories.xlsx"'
    codes = [row[0] for row in load_workbook(io.BytesIO(current.content)).worksheets[0].iter_rows(
        min_row=2, values_only=True)]
    assert {"T01", "T0101", "T0102"} <= set(codes)
    # and it imports back unchanged
    back = upload(client, admin, SimpleUploadedFile("categories.xlsx", current.content, content_type=XLSX),
                  dry_run="true")
    assert back.status_code == 200 and back.json()["created"] == []

    assert get(client, world["users"]["dispatcher"], "/categories/import/template.xlsx").status_code == 403
    assert client.get("/api/v1/categories/import/template.xlsx").status_code == 401
