"""Categories: importing xlsx and CSV (UTF-8, GBK) all or nothing, the template, the upload page and command,
and editing in the admin (audited); cases are read-only there."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from gridgov.accounts.tests.factories import DepartmentFactory, UserFactory
from gridgov.cases.category_import import HEADERS, category_import_file, category_workbook
from gridgov.cases.models import Category
from gridgov.core.errors import InvalidInput
from gridgov.core.models import AuditEntry


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db

GOOD_ROWS = [
    # 编码, 名称, 大类编码, 类型, 立案, 派遣, 处置, 单位, 处置单位, 部门, 半径, 天数, 反馈照片, 核查照片, 服务编码, 纠纷
    ["Z01", "新类别", "", "事件", "", "", "", "", "", "URBAN", "", "", "", "", "", "否"],
    ["Z0101", "共享单车乱停", "Z01", "事件", 2, 2, 3, "工作时", "工作日", "URBAN", 60, 5, "是", "否", "z0101", "否"],
    ["Z0102", "楼道堆物", "Z01", "社会治理", 4, 4, 2, "工作时", "工作日", "PROPERTY", 30, 7, "否", "是", "", "否"],
    ["B0101", "上水井盖（更新）", "B01", "部件", 1, 1, 5, "工作时", "工作日", "WATER", 20, 3, "是", "是", "", "否"],
]


@pytest.fixture
def departments():
    return {code: DepartmentFactory(code=code) for code in ("URBAN", "WATER", "PROPERTY")}


def xlsx(rows, headers=HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8", headers=HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def test_a_good_xlsx_creates_and_updates(departments):
    before = Category.objects.count()
    admin = UserFactory(role="admin")
    report = category_import_file(file=xlsx(GOOD_ROWS), filename="分类.xlsx", by=admin)
    assert report.created == ["Z01", "Z0101", "Z0102"] and report.updated == ["B0101"] and not report.dry_run
    assert Category.objects.count() == before + 3
    bikes = Category.objects.get(code="Z0101")
    assert bikes.parent.code == "Z01" and bikes.name == "共享单车乱停" and bikes.kind == "event"
    assert (bikes.register_limit, bikes.dispatch_limit, bikes.handle_limit) == (2, 2, 3)
    assert (bikes.limit_unit, bikes.handle_unit) == ("hours", "days")
    assert bikes.default_department == departments["URBAN"] and bikes.duplicate_radius_m == 60
    assert bikes.duplicate_window_days == 5 and bikes.photo_required_report_back and not bikes.photo_required_verify
    assert bikes.service_code == "z0101"
    stairs = Category.objects.get(code="Z0102")
    assert stairs.kind == "social" and stairs.service_code == "z0102" and stairs.photo_required_verify
    cover = Category.objects.get(code="B0101")
    assert cover.name == "上水井盖（更新）" and cover.handle_limit == 5 and cover.service_code == "b0101"
    entry = AuditEntry.objects.get(action="category.upsert")
    assert entry.actor_id == admin.pk and entry.after == {"created": 3, "updated": 1}
    # the same file again only updates
    again = category_import_file(file=xlsx(GOOD_ROWS), filename="分类.xlsx", by=admin)
    assert again.created == [] and len(again.updated) == 4 and Category.objects.count() == before + 3


def test_a_gbk_csv_imports(departments):
    data = csv_bytes(GOOD_ROWS, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = category_import_file(file=io.BytesIO(data), filename="categories.csv", by=None)
    assert len(report.created) == 3
    assert Category.objects.get(code="Z0102").name == "楼道堆物"
    assert Category.objects.get(code="B0101").name == "上水井盖（更新）"


def test_a_utf8_csv_with_bom_and_short_headers_imports(departments):
    short = [h.split("(")[0] for h in HEADERS]
    data = "\ufeff".encode() + csv_bytes(GOOD_ROWS[:2], headers=short)
    report = category_import_file(file=data, filename="c.csv")
    assert report.created == ["Z01", "Z0101"]


def test_empty_cells_keep_current_values(departments):
    cover = Category.objects.get(code="B0101")
    limits = (cover.register_limit, cover.handle_limit, cover.handle_unit, cover.duplicate_radius_m)
    category_import_file(file=xlsx([["B0101", "上水井盖", "B01"] + [""] * 13]), filename="x.xlsx")
    cover.refresh_from_db()
    assert (cover.register_limit, cover.handle_limit, cover.handle_unit, cover.duplicate_radius_m) == limits


def test_dry_run_writes_nothing(departments):
    before = Category.objects.count()
    report = category_import_file(file=xlsx(GOOD_ROWS), filename="x.xlsx", dry_run=True)
    assert report.dry_run and report.created == ["Z01", "Z0101", "Z0102"] and report.updated == ["B0101"]
    assert Category.objects.count() == before and not AuditEntry.objects.filter(action="category.upsert").exists()
    assert Category.objects.get(code="B0101").name == "上水井盖"


BAD_ROWS = [
    ["Z01", "新类别", "", "事件", "", "", "", "", "", "URBAN", "", "", "", "", "", ""],              # line 2: fine
    ["Z0101", "单车", "Z09", "事件", 2, 2, 3, "工作时", "工作日", "URBAN", "", "", "", "", "", ""],  # 3: parent
    ["Z0102", "堆物", "Z01", "事件", "两", 2, 3, "工作时", "工作日", "NOPE", "", "", "", "", "", ""],  # 4: number, dep
    ["Z0101", "重复", "Z01", "事件", 2, 2, 3, "小时候", "工作日", "URBAN", "", "", "", "", "", ""],   # 5: dup, unit
    ["Z0103", "", "Z01", "物品", 2, 2.5, -1, "工作时", "月", "URBAN", 50, 7, "可能", "否", "", ""],  # 6: many
    ["Z0104", "子类的子类", "Z0101", "事件", 2, 2, 3, "工作时", "工作日", "URBAN", "", "", "", "", "b0101", ""],
]


def test_a_bad_file_is_refused_whole_with_every_problem(departments):
    before = Category.objects.count()
    with pytest.raises(InvalidInput) as refused:
        category_import_file(file=xlsx(BAD_ROWS), filename="bad.xlsx")
    found = {(p["line"], p["column"]): p["reason"] for p in refused.value.details}
    assert found[(3, "大类编码")] == "unknown parent code 'Z09'"
    assert found[(4, "立案时限")].startswith("not a whole number from 1 to 10000")
    assert found[(4, "默认部门编码")] == "unknown department code 'NOPE'"
    assert found[(5, "编码")] == "duplicate code (also on line 3)"
    assert found[(5, "时限单位(工作时/工作日)")].startswith("unknown unit '小时候'")
    assert found[(6, "名称")] == "required"
    assert found[(6, "类型(部件/事件/社会治理)")].startswith("unknown type '物品'")
    assert found[(6, "派遣时限")].startswith("not a whole number") and found[(6, "处置时限")].startswith("not a whole")
    assert found[(6, "处置时限单位")].startswith("unknown unit '月'")
    assert found[(6, "反馈需照片(是/否)")] == "expected 是 or 否, not '可能'"
    assert "two levels" in found[(7, "大类编码")]
    assert found[(7, "服务编码")] == "service code 'b0101' is used by category 'B0101'"
    assert not any(p["line"] == 2 for p in refused.value.details)
    assert refused.value.status == 422 and "nothing was written" in refused.value.message
    assert Category.objects.count() == before and not Category.objects.filter(code__startswith="Z").exists()


@pytest.mark.parametrize(("data", "filename", "reason"), [
    (b"", "x.csv", "the file is empty"),
    (b"PK\x03\x04 not really a zip", "x.xlsx", "not an xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "old.xls", "unsupported file type .xls"),
    (b"code,name\n", "x.txt", "unsupported file type"),
    ("编码,名称\nZ1,甲\n".encode(), "x.csv", "required column missing"),
    ("编码,名称,大类编码,颜色\nZ1,甲,,红\n".encode(), "x.csv", "unknown column"),
    ("编码,名称,大类编码\n".encode(), "x.csv", "the file has no category rows"),
])
def test_unreadable_files_are_refused_with_a_reason(data, filename, reason):
    with pytest.raises(InvalidInput) as refused:
        category_import_file(file=data, filename=filename)
    assert any(reason in p["reason"] for p in refused.value.details), refused.value.details


def test_a_sub_class_cannot_become_a_main_class_parent(departments):
    # B01 has sub-classes in the database: making it a sub-class would give three levels
    with pytest.raises(InvalidInput) as refused:
        category_import_file(file=xlsx([["B01", "公用设施", "B02"] + [""] * 13]), filename="x.xlsx")
    assert refused.value.details[0]["reason"] == "this category has sub-classes, so it must stay a main class"


def test_the_template_and_the_current_categories_round_trip(departments):
    template = load_workbook(io.BytesIO(category_workbook()))
    assert [c.value for c in template.worksheets[0][1]] == HEADERS and template.worksheets[0].max_row == 1
    notes = [row[0] for row in template["说明"].iter_rows(values_only=True)]
    assert "URBAN" in notes and "PROPERTY" in notes
    current = category_workbook(with_categories=True)
    report = category_import_file(file=current, filename="categories.xlsx", dry_run=True)
    assert report.created == [] and len(report.updated) == Category.objects.count()
    filled = load_workbook(io.BytesIO(category_workbook()))
    filled.worksheets[0].append(GOOD_ROWS[0])
    out = io.BytesIO()
    filled.save(out)
    assert category_import_file(file=out.getvalue(), filename="t.xlsx").created == ["Z01"]


# --- the page, the template download and the command ----------------------------------------------------------

def upload(client, data: bytes, name="categories.xlsx", **extra):
    return client.post(reverse("cases:category_import"), {"file": SimpleUploadedFile(name, data), **extra})


def test_the_page_imports_and_refuses(client, departments):
    client.force_login(UserFactory(role="admin"))
    page = client.get(reverse("cases:category_import"))
    assert page.status_code == 200 and reverse("cases:category_template") in page.content.decode()
    response = upload(client, xlsx(GOOD_ROWS), dry_run="on")
    assert response.status_code == 200 and 'data-testid="import-report"' in response.content.decode()
    assert not Category.objects.filter(code="Z01").exists()
    response = upload(client, xlsx(BAD_ROWS))
    content = response.content.decode()
    assert response.status_code == 422 and 'data-testid="import-problems"' in content
    assert "unknown parent code &#x27;Z09&#x27;" in content and "默认部门编码" in content
    assert not Category.objects.filter(code="Z01").exists()
    response = upload(client, csv_bytes(GOOD_ROWS, "gbk"), name="categories.csv")
    assert response.status_code == 200 and Category.objects.filter(code="Z0102", name="楼道堆物").exists()
    response = upload(client, b"anything", name="categories.pdf")
    assert response.status_code == 422 and Category.objects.filter(code="Z01").count() == 1


def test_the_template_downloads(client, departments):
    client.force_login(UserFactory(role="admin"))
    response = client.get(reverse("cases:category_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "categories-template.xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADERS
    current = client.get(reverse("cases:category_template") + "?current=1")
    assert load_workbook(io.BytesIO(current.content)).worksheets[0].max_row == Category.objects.count() + 1


@pytest.mark.parametrize("role", ["dispatcher", "grid_member", "leader", "handler"])
def test_the_page_is_for_admins_only(client, departments, role):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("cases:category_import")).status_code == 403
    assert upload(client, xlsx(GOOD_ROWS)).status_code == 403
    assert client.get(reverse("cases:category_template")).status_code == 403
    assert not Category.objects.filter(code="Z01").exists()


def test_the_page_needs_a_login(client):
    response = client.get(reverse("cases:category_import"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_command(tmp_path, capsys, departments):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx(GOOD_ROWS))
    call_command("category_import", str(good), "--dry-run")
    assert "would create 3, would update 1 (dry run" in capsys.readouterr().out
    assert not Category.objects.filter(code="Z01").exists()
    call_command("category_import", str(good))
    assert "created 3, updated 1." in capsys.readouterr().out and Category.objects.filter(code="Z01").exists()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(BAD_ROWS, "gbk"))
    with pytest.raises(CommandError, match="refused"):
        call_command("category_import", str(bad))
    err = capsys.readouterr().err
    assert "line 3, 大类编码: unknown parent code 'Z09'" in err and "line 4, 默认部门编码" in err


# --- the admin ----------------------------------------------------------------------------------------------

def test_categories_are_edited_in_the_admin_and_audited(client, departments):
    client.force_login(UserFactory(role="admin", is_staff=True, is_superuser=True))
    changelist = client.get(reverse("admin:cases_category_changelist") + "?q=井盖")
    assert changelist.status_code == 200 and "上水井盖" in changelist.content.decode()
    assert reverse("cases:category_import") in changelist.content.decode()
    main = Category.objects.get(code="B01")
    page = client.get(reverse("admin:cases_category_change", args=[main.pk]))
    assert page.status_code == 200 and "上水井盖" in page.content.decode()  # sub-classes inline
    cover = Category.objects.get(code="B0101")
    url = reverse("admin:cases_category_change", args=[cover.pk])
    form = {"code": cover.code, "name": cover.name, "parent": cover.parent_id, "kind": cover.kind,
            "description": "", "keywords": "", "sort": cover.sort, "is_active": "on", "register_limit": 1,
            "dispatch_limit": 2, "limit_unit": "hours", "handle_limit": 4, "handle_unit": "days",
            "default_department": departments["WATER"].pk, "duplicate_radius_m": 30, "duplicate_window_days": 7,
            "photo_required_report_back": "on", "extra_fields": "[]", "service_code": cover.service_code}
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    cover.refresh_from_db()
    assert cover.handle_limit == 4 and cover.register_limit == 1
    entry = AuditEntry.objects.filter(action="admin.change", object_id=str(cover.pk)).get()
    assert entry.before["handle_limit"] == 3 and entry.after["handle_limit"] == 4
    # two levels only, and extra fields must make sense: the page says so and nothing changes
    sub_class = Category.objects.get(code="B0102")
    response = client.post(url, {**form, "parent": sub_class.pk, "handle_limit": 9})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    cover.refresh_from_db()
    assert cover.parent.code == "B01" and cover.handle_limit == 4
    from gridgov.cases.admin import CategoryForm

    bad = CategoryForm(data={**form, "parent": sub_class.pk,
                             "extra_fields": '[{"code": "size", "datatype": "singlevaluelist"}]'}, instance=cover)
    assert not bad.is_valid()
    assert bad.errors["parent"] == ["Choose a main class: categories have two levels."]
    assert bad.errors["extra_fields"] == ["Field size: a list needs values, each with a key and a name."]
    main_form = CategoryForm(data={**form, "code": "B01", "service_code": main.service_code,
                                   "parent": Category.objects.get(code="B02").pk}, instance=main)
    assert main_form.errors["parent"] == ["This category has sub-classes, so it must stay a main class."]


def test_cases_are_read_only_in_the_admin(client, world):
    from gridgov.cases import services

    case, _ = services.case_report(by=world["users"]["gm"], category="T0101", description="垃圾", lon=120.605,
                                   lat=31.305)
    client.force_login(UserFactory(role="admin", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:cases_case_changelist")).status_code == 200
    change = client.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert change.status_code == 200 and case.number in change.content.decode()
    assert "reporter_phone" not in change.content.decode()
    assert client.post(reverse("admin:cases_case_change", args=[case.pk]), {"description": "x"}).status_code == 403
    assert client.get(reverse("admin:cases_case_add")).status_code == 403
    assert client.post(reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"}).status_code == 403
    for model in ("step", "task", "extension", "attachment"):
        assert client.get(reverse(f"admin:cases_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:cases_{model}_add")).status_code == 403
    case.refresh_from_db()
    assert case.description == "垃圾"
