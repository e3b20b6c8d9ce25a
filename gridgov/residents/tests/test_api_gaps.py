"""The residents API's files and the rest of the grid page: the spreadsheet import as the UI's background job
(upload, status with counts and row errors, the error report), the template, the export (masked, scoped,
audited), visits with photos (record, list, download, the same checks as the UI), a grid's buildings with the
`building` filter and resident counts on houses, and `ordering` on the visits due."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image

from gridgov.core import testing
from gridgov.core.models import AuditEntry
from gridgov.geo.models import Building
from gridgov.residents import services
from gridgov.residents.models import ImportJob, Resident, Visit, VisitPhoto
from gridgov.residents.tests.conftest import make_id
from gridgov.residents.tests.test_import_page import BAD_ID, csv_upload, good_and_bad, row

pytestmark = pytest.mark.django_db
BASE = "/api/v1/residents"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


class Api(testing.Api):
    base = BASE
    post = testing.Api.upload  # multipart/form-data


@pytest.fixture
def api(client, registry):
    return lambda user: Api(client, registry["users"][user])


def refused(response, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert {"code", "message", "details"} <= set(body)
    if field:
        # config/api.py names a multipart field that is also a location word (`file`, `form`) "file.file"
        named = [d.get("field", "").split(".")[-1] for d in body["details"] or [] if isinstance(d, dict)]
        assert field in named, body
    if code:
        assert body["code"] == code, body
    return body


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def png(name="visit.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# --- the import ------------------------------------------------------------------------------------------------

def test_a_small_file_is_imported_at_once_with_counts_row_errors_and_the_error_report(api, registry):
    good, bad = good_and_bad()
    before = Resident.objects.count()
    response = api("gm").post("/imports", {"file": csv_upload(good + bad), "dry_run": "false"})
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["state"], job["dry_run"], job["rows_done"], job["created"], job["updated"], job["error_count"]) == (
        "done", False, 4, 2, 0, 2)
    assert [(e["line"], e["column"]) for e in job["errors"]] == [(4, "身份证号"), (5, "姓名")]
    assert job["errors"][0]["value"] == "3205" + "*" * 10 + BAD_ID[-4:] and all(e["reason"] for e in job["errors"])
    assert BAD_ID not in response.content.decode() and make_id(seq=101) not in response.content.decode()
    assert Resident.objects.count() == before + 2
    assert AuditEntry.objects.filter(action="resident.import").count() == 1
    assert not ImportJob.objects.get().file  # the upload (plaintext identifiers) is not kept

    status = api("gm").get(f"/imports/{job['id']}")
    assert status.status_code == 200 and status.json()["errors"] == job["errors"]
    report = api("gm").get(job["errors_url"].removeprefix(BASE))
    assert report.status_code == 200 and report["Content-Type"] == XLSX
    data = content(report)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [4, 5]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert BAD_ID not in "".join(archive.read(n).decode() for n in archive.namelist())
    listed = api("gm").get("/imports").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == job["id"]


def test_a_dry_run_is_the_default_and_writes_no_resident(api, registry):
    good, _bad = good_and_bad()
    before = Resident.objects.count()
    job = api("gm").post("/imports", {"file": csv_upload(good)}).json()
    assert job["dry_run"] and job["state"] == "done" and job["created"] == 2 and job["errors_url"] is None
    assert Resident.objects.count() == before and not AuditEntry.objects.filter(action="resident.import").exists()
    refused(api("gm").get(f"/imports/{job['id']}/errors.xlsx"), 404)


def test_a_large_file_is_queued_for_the_background_job(api, registry, settings):
    from gridgov.core.scheduler import REGISTRY, run_job

    settings.GRIDGOV_IMPORT_INLINE_MAX_BYTES = 10  # every file counts as large
    good, _bad = good_and_bad()
    job = api("dispatcher").post("/imports", {"file": csv_upload(good), "dry_run": "false"}).json()
    assert job["state"] == "pending" and job["rows_done"] == 0
    assert run_job(REGISTRY["residents.imports"])
    done = api("dispatcher").get(f"/imports/{job['id']}").json()
    assert done["state"] == "done" and done["created"] == 2


def test_an_unreadable_file_ends_refused_with_its_message(api, registry):
    header = ["名字", "身份证号"]
    job = api("gm").post("/imports", {"file": csv_upload([["赵一", make_id(seq=101)]], header=header),
                                      "dry_run": "false"}).json()
    assert job["state"] == "refused" and "名字" in job["message"]
    assert not Resident.objects.filter(name="赵一").exists()


def test_bad_uploads_are_refused_and_nothing_written(api, registry):
    refused(api("gm").post("/imports", {"file": SimpleUploadedFile("x.csv", b"", content_type="text/csv")}),
            422, "file")
    refused(api("gm").post("/imports", {"dry_run": "false"}), 422, "file")
    refused(api("gm").post("/imports", {"file": csv_upload([]), "dry_run": "maybe"}), 422, "dry_run")
    assert not ImportJob.objects.exists()


def test_leaders_and_residents_may_not_import_or_export_and_jobs_are_private(api, registry):
    for user in ("leader", "resident"):
        refused(api(user).post("/imports", {"file": csv_upload([row("赵一", make_id(seq=101))])}), 403,
                code="forbidden")
        for path in ("/imports", "/imports/template.xlsx", "/export.xlsx"):
            refused(api(user).get(path), 403, code="forbidden")
    assert not ImportJob.objects.exists() and not AuditEntry.objects.filter(action="resident.export").exists()
    job = api("gm").post("/imports", {"file": csv_upload(good_and_bad()[1])}).json()
    refused(api("dispatcher").get(f"/imports/{job['id']}"), 404)  # another's import
    refused(api("dispatcher").get(f"/imports/{job['id']}/errors.xlsx"), 404)
    assert api("dispatcher").get("/imports").json()["count"] == 0
    assert api("admin").get(f"/imports/{job['id']}").status_code == 200


def test_the_template(api, registry):
    response = api("gm").get("/imports/template.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    sheet = load_workbook(io.BytesIO(content(response)), read_only=True).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[:2] == ("姓名", "身份证号")


# --- the export ------------------------------------------------------------------------------------------------

def test_the_export_is_masked_scoped_and_audited(api, registry):
    response = api("gm").get("/export.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="residents.xlsx"'
    data = content(response)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == ["张三", "李四"]  # not 王五, in another grid
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = "".join(archive.read(n).decode() for n in archive.namelist())
    for key in ("zhang", "li", "wang"):
        assert registry["ids"][key] not in xml and registry["phones"][key] not in xml
    assert registry["ids"]["zhang"][-4:] in xml  # masked, not blank
    entry = AuditEntry.objects.get(action="resident.export")
    assert entry.actor == registry["users"]["gm"] and entry.after == {"rows": 2}

    one = api("dispatcher").get("/export.xlsx", grid=registry["g2"].code)
    assert one["Content-Disposition"] == f'attachment; filename="residents-{registry["g2"].code}.xlsx"'
    assert len(list(load_workbook(io.BytesIO(content(one)), read_only=True).worksheets[0].iter_rows())) == 1
    refused(api("gm").get("/export.xlsx", grid=registry["g3"].code), 404, "grid")
    refused(api("gm").get("/export.xlsx", grid="nope"), 404, "grid")
    assert AuditEntry.objects.filter(action="resident.export").count() == 2


# --- visits with photos ----------------------------------------------------------------------------------------

def test_a_visit_with_photos_is_recorded_listed_and_its_photos_downloaded(api, registry):
    zhang = registry["residents"]["zhang"]
    response = api("gm").post(f"/people/{zhang.pk}/visits/upload", {
        "content": "上门走访", "form": "home", "seen": "true", "photos": [png("a.png"), png("b.png")]})
    assert response.status_code == 201, response.content
    visit = response.json()
    assert visit["content"] == "上门走访" and visit["visitor"] == "gm" and len(visit["photos"]) == 2
    assert visit["photos"][0]["content_type"] == "image/png" and visit["photos"][0]["width"] == 32
    assert AuditEntry.objects.filter(action="resident.visit").latest("id").after["photos"] == 2

    listed = api("gm").get(f"/people/{zhang.pk}/visits").json()
    assert listed["count"] == 1 and listed["items"][0]["photos"] == visit["photos"]
    photo = api("gm").get(visit["photos"][0]["api_url"].removeprefix(BASE))
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
    image = content(photo)
    assert image.startswith(b"\x89PNG")
    # the UI serves the same file
    ui = api("gm").client
    ui.force_login(registry["users"]["gm"])
    assert content(ui.get(f"/residents/visits/photos/{visit['photos'][0]['id']}/")) == image

    # another grid's member sees neither the visits nor the photo
    refused(api("gm3").get(f"/people/{zhang.pk}/visits"), 404)
    refused(api("gm3").get(visit["photos"][0]["api_url"].removeprefix(BASE)), 404)
    refused(api("gm").get("/visits/photos/999999"), 404)


def test_a_visit_under_a_sensitive_tag_and_its_photos_need_the_permission(api, registry):
    zhang = registry["residents"]["zhang"]
    officer = registry["users"]["officer"]
    sensitive = next(t for t in registry["tags"].values() if t.sensitive)
    services.resident_tag_set(resident=zhang, tag=sensitive, by=officer, grade=1, note="", active=True, since=None)
    visit = services.visit_record(resident=zhang, by=officer, tag=sensitive, content="敏感走访", photos=[png()])
    photo = VisitPhoto.objects.get(visit=visit)
    assert api("officer").get(f"/visits/photos/{photo.pk}").status_code == 200
    assert api("officer").get(f"/people/{zhang.pk}/visits").json()["count"] == 1
    refused(api("gm").get(f"/visits/photos/{photo.pk}"), 404)
    assert api("gm").get(f"/people/{zhang.pk}/visits").json()["count"] == 0
    refused(api("gm").post(f"/people/{zhang.pk}/visits/upload", {"content": "走访", "tag": sensitive.code}),
            422, "tag")
    assert Visit.objects.filter(resident=zhang).count() == 1


def test_bad_visit_uploads_record_nothing(api, registry):
    zhang = registry["residents"]["zhang"]
    path = f"/people/{zhang.pk}/visits/upload"
    not_an_image = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    body = refused(api("gm").post(path, {"content": "走访", "photos": [not_an_image]}), 422)
    assert body["code"] == "not_an_image"
    refused(api("gm").post(path, {"content": "走访", "photos": [png(f"{i}.png") for i in range(10)]}), 422, "photos")
    refused(api("gm").post(path, {"content": "", "photos": [png()]}), 422, "content")
    refused(api("gm").post(path, {"content": "走访", "form": "telepathy"}), 422, "form")
    future = (timezone.now() + dt.timedelta(days=2)).isoformat()
    refused(api("gm").post(path, {"content": "走访", "visited_at": future}), 422, "visited_at")
    refused(api("leader").post(path, {"content": "走访", "photos": [png()]}), 403, code="forbidden")
    wang = registry["residents"]["wang"]
    refused(api("gm").post(f"/people/{wang.pk}/visits/upload", {"content": "走访"}), 404)
    assert not Visit.objects.exists() and not VisitPhoto.objects.exists()


# --- a grid's buildings ----------------------------------------------------------------------------------------

def test_a_grids_buildings_the_building_filter_and_resident_counts(api, registry):
    g1 = registry["g1"]
    a, b, c = registry["addresses"]["g1"]
    one = Building.objects.create(grid=g1, path=g1.path, code="B-1", name="1幢")
    two = Building.objects.create(grid=g1, path=g1.path, code="B-2", name="2幢")
    for address, building in ((a, one), (b, one), (c, two)):
        address.building = building
        address.save(update_fields=["building"])
    response = api("gm").get(f"/grids/{g1.code}/buildings")
    assert response.status_code == 200
    assert [(x["code"], x["name"], x["houses"]) for x in response.json()["items"]] == [("B-1", "1幢", 2),
                                                                                      ("B-2", "2幢", 1)]
    houses = api("gm").get("/houses", grid=g1.code, building=one.pk).json()
    assert houses["count"] == 2
    counts = {h["id"]: h["active_residents"] for h in houses["items"]}
    assert counts[registry["houses"]["g1"][0].pk] == 2 and counts[registry["houses"]["g1"][1].pk] == 0
    assert api("gm").get(f"/houses/{registry['houses']['g1'][0].pk}").json()["active_residents"] == 2
    assert api("gm").get("/houses", building=two.pk).json()["count"] == 1

    refused(api("gm").get(f"/grids/{registry['g3'].code}/buildings"), 404, "code", "unknown_grid")
    refused(api("gm").get("/houses", building=0), 422, "building")
    refused(api("gm").get("/houses", building="x"), 422, "building")
    assert api("gm3").get("/houses", building=one.pk).json()["count"] == 0  # out of scope: nothing


# --- visits due ------------------------------------------------------------------------------------------------

def test_visits_due_take_an_ordering(api, registry):
    zhang, li = registry["residents"]["zhang"], registry["residents"]["li"]
    tag = next(t for t in registry["tags"].values() if not t.sensitive)
    gm = registry["users"]["gm"]
    long_ago = dt.date.today() - dt.timedelta(days=400)
    services.resident_tag_set(resident=zhang, tag=tag, by=gm, grade=1, note="", active=True, since=long_ago)
    services.resident_tag_set(resident=li, tag=tag, by=gm, grade=3, note="", active=True,
                              since=long_ago - dt.timedelta(days=30))

    def names(**params):
        response = api("gm").get("/visits/due", **params)
        assert response.status_code == 200, response.content
        return [r["name"] for r in response.json()["items"]]

    assert names() == ["李四", "张三"]  # the default: the most overdue first
    assert names(ordering="-due") == ["张三", "李四"]
    assert names(ordering="grade") == ["张三", "李四"]
    assert names(ordering="-grade") == ["李四", "张三"]
    assert names(ordering="name") == sorted(["张三", "李四"])
    refused(api("gm").get("/visits/due", ordering="nope"), 422, "ordering")
