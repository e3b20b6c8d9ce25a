"""The import page: upload with a dry-run preview, small files imported at once, large files queued for the
`residents.imports` job with progress, the error table and the error report (masked), refused files, the
status partial, permissions, and the export download (masked)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from gridgov.core.scheduler import REGISTRY, run_job
from gridgov.residents.models import ImportJob, Resident
from gridgov.residents.tests.conftest import make_id

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "民族", "联系电话", "户籍地址", "网格编码", "道路", "门牌号", "楼栋", "单元", "楼层",
          "房号", "户号", "与户主关系", "居住类型", "人户状态", "职业", "政治面貌"]
G1 = "320508001001001"
BAD_ID = "320508198001010099"  # a wrong check digit


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield tmp_path


def row(name, id_number, grid=G1, phone=""):
    return [name, id_number, "汉族", phone, "江苏省苏州市", grid, "", "", "", "", "", "", "", "", "户籍", "人户一致", "",
            "群众"]


def csv_upload(rows, header=HEADER, name="people.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8"), content_type="text/csv")


def good_and_bad():
    good = [row("赵一", make_id(seq=101), phone="13911112222"), row("钱二", make_id(seq=102))]
    bad = [row("孙三", BAD_ID), row("", make_id(seq=104))]
    return good, bad


def upload(client, user, file, dry_run=False):
    client.force_login(user)
    data = {"file": file}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("residents:import"), data)


def test_small_csv_is_imported_at_once_with_counts_errors_and_a_masked_error_report(client, registry, media):
    good, bad = good_and_bad()
    before = Resident.objects.count()
    response = upload(client, registry["users"]["gm"], csv_upload(good + bad))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("residents:import_job", args=[job.pk])
    assert job.state == "done" and (job.rows_done, job.created, job.updated, job.error_count) == (4, 2, 0, 2)
    assert Resident.objects.count() == before + 2
    assert not job.file  # the upload (plaintext identifiers) is not kept
    assert not [p for p in media.rglob("*") if p.is_file() and p.suffix == ".csv"]

    page = client.get(response["Location"]).content.decode()
    assert 'data-state="done"' in page and 'hx-trigger' not in page  # finished: no polling
    assert 'data-testid="created">2<' in page and 'data-testid="error-count">2<' in page
    assert "3205" + "*" * 10 + BAD_ID[-4:] in page and BAD_ID not in page
    assert "13911112222" not in page and make_id(seq=101) not in page
    table = page.split('data-testid="import-errors"')[1]
    assert table.count("<tr>") == 3  # header + two errors

    report = client.get(reverse("residents:import_errors", args=[job.pk]))
    assert report.status_code == 200 and report["Content-Type"].startswith("application/vnd.openxmlformats")
    data = b"".join(report.streaming_content)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [4, 5]
    assert rows[1][2] == "3205" + "*" * 10 + BAD_ID[-4:]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert BAD_ID not in "".join(archive.read(n).decode() for n in archive.namelist())


def test_a_dry_run_writes_no_resident_and_says_what_would_change(client, registry):
    good, bad = good_and_bad()
    before = Resident.objects.count()
    response = upload(client, registry["users"]["gm"], csv_upload(good + bad), dry_run=True)
    job = ImportJob.objects.get()
    assert job.dry_run and job.state == "done" and job.created == 2 and job.error_count == 2
    assert Resident.objects.count() == before
    page = client.get(response["Location"]).content.decode()
    assert "Would be created" in page and "dry run" in page


def test_a_file_with_wrong_headers_is_refused_with_its_message(client, registry):
    header = ["名字", *HEADER[1:]]
    response = upload(client, registry["users"]["gm"], csv_upload([row("赵一", make_id(seq=101))], header=header))
    job = ImportJob.objects.get()
    assert job.state == "refused" and "姓名" in job.message and "名字" in job.message
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-message"' in page and "名字" in page
    assert not Resident.objects.filter(name="赵一").exists()


def test_an_empty_upload_is_a_form_error(client, registry):
    response = upload(client, registry["users"]["gm"], SimpleUploadedFile("x.csv", b"", content_type="text/csv"))
    assert response.status_code == 422 and not ImportJob.objects.exists()


def test_a_large_file_is_queued_then_imported_by_the_periodic_job_with_progress(client, registry, settings):
    from gridgov.residents import importer

    settings.GRIDGOV_IMPORT_INLINE_MAX_BYTES = 10  # every file counts as large
    rows = [row(f"居民{i}", make_id(birth=dt.date(1970, 1, 1) + dt.timedelta(days=i), seq=11)) for i in range(25)]
    seen = []
    original = importer.import_file

    def spy(**kwargs):
        progress = kwargs["progress"]

        def report(n):
            progress(n)
            seen.append(ImportJob.objects.get().rows_done)

        return original(**{**kwargs, "progress": report})

    response = upload(client, registry["users"]["dispatcher"], csv_upload(rows))
    job = ImportJob.objects.get()
    assert job.state == "pending" and job.rows_done == 0
    page = client.get(response["Location"]).content.decode()
    assert 'data-state="pending"' in page and 'hx-trigger="every 2s"' in page
    assert reverse("residents:import_status", args=[job.pk]) in page

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(importer, "BATCH_SIZE", 10)
        mp.setattr(importer, "import_file", spy)
        assert run_job(REGISTRY["residents.imports"])
    job.refresh_from_db()
    assert job.state == "done" and job.rows_done == 25 and job.created == 25 and job.error_count == 0
    assert seen and seen[0] < 25 and seen == sorted(seen)  # rows_done grew batch by batch
    assert Resident.objects.filter(name__startswith="居民").count() == 25

    partial = client.get(reverse("residents:import_status", args=[job.pk]))
    text = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in text and 'data-state="done"' in text
    assert 'data-testid="rows-done">25<' in text and 'data-testid="no-errors"' in text


def test_the_status_partial_polls_while_the_job_runs(client, registry):
    user = registry["users"]["gm"]
    job = ImportJob.objects.create(created_by=user, filename="big.csv", file="imports/big.csv", state="running",
                                   rows_done=4000)
    client.force_login(user)
    text = client.get(reverse("residents:import_status", args=[job.pk])).content.decode()
    assert 'data-state="running"' in text and "4000 rows read so far" in text and 'hx-trigger="every 2s"' in text


def test_residents_and_leaders_may_not_import_and_jobs_are_private(client, registry):
    users = registry["users"]
    job = ImportJob.objects.create(created_by=users["gm"], filename="a.csv", file="imports/a.csv")
    for key in ("resident", "leader"):
        client.force_login(users[key])
        assert client.get(reverse("residents:import")).status_code == 403
        assert client.post(reverse("residents:import"), {"file": csv_upload([])}).status_code == 403
        assert client.get(reverse("residents:export")).status_code == 403
    client.force_login(users["resident"])
    assert client.get(reverse("residents:import_job", args=[job.pk])).status_code == 403
    client.force_login(users["gm3"])  # another grid member: the job does not exist for them
    assert client.get(reverse("residents:import_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("residents:import_status", args=[job.pk])).status_code == 404
    client.force_login(users["admin"])
    assert client.get(reverse("residents:import_job", args=[job.pk])).status_code == 200


def test_a_grid_member_cannot_import_into_a_grid_outside_their_scope(client, registry):
    g3 = registry["g3"].code
    upload(client, registry["users"]["gm"], csv_upload([row("赵一", make_id(seq=101), grid=g3)]))
    job = ImportJob.objects.get()
    assert job.state == "done" and job.created == 0 and job.error_count == 1
    assert not Resident.objects.filter(name="赵一").exists()


def test_the_page_links_the_template_and_the_index_links_the_page(client, registry):
    client.force_login(registry["users"]["gm"])
    assert reverse("residents:import") in client.get(reverse("residents:index")).content.decode()
    page = client.get(reverse("residents:import")).content.decode()
    assert reverse("residents:import_template") in page and 'name="dry_run"' in page
    template = client.get(reverse("residents:import_template"))
    sheet = load_workbook(io.BytesIO(template.content), read_only=True).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[:2] == ("姓名", "身份证号")


def test_export_downloads_a_masked_scoped_xlsx(client, registry):
    client.force_login(registry["users"]["gm"])
    response = client.get(reverse("residents:export"))
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    data = b"".join(response.streaming_content)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == ["张三", "李四"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = "".join(archive.read(n).decode() for n in archive.namelist())
    for key in ("zhang", "li", "wang"):
        assert registry["ids"][key] not in xml and registry["phones"][key] not in xml
    assert registry["ids"]["zhang"][-4:] in xml  # masked, not blank

    client.force_login(registry["users"]["dispatcher"])  # street 1: g1 and g2
    one = client.get(reverse("residents:export"), {"grid": registry["g2"].code})
    rows = list(load_workbook(io.BytesIO(b"".join(one.streaming_content)), read_only=True)
                .worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1  # only the header: g2 has no residents
    client.force_login(registry["users"]["gm"])
    assert client.get(reverse("residents:export"), {"grid": registry["g3"].code}).status_code == 404


def test_an_unexpected_error_fails_the_job_with_a_message_not_a_500(client, registry, monkeypatch, caplog):
    from gridgov.residents import importer

    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer, "import_file", boom)
    response = upload(client, registry["users"]["gm"], csv_upload([row("赵一", make_id(seq=101))]))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.state == "failed" and "unexpectedly" in job.message
    assert "disk on fire" not in client.get(response["Location"]).content.decode()
    assert "disk on fire" in caplog.text


def test_a_job_left_running_by_a_restart_is_reported_failed(registry):
    import datetime as dt

    from django.utils import timezone

    from gridgov.residents.jobs_import import import_jobs_fail_stale
    from gridgov.residents.models import ImportJob

    old = ImportJob.objects.create(created_by=registry["users"]["gm"], filename="a.csv", file="imports/a.csv",
                                   state=ImportJob.State.RUNNING)
    fresh = ImportJob.objects.create(created_by=registry["users"]["gm"], filename="b.csv", file="imports/b.csv",
                                     state=ImportJob.State.RUNNING)
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=7))
    assert import_jobs_fail_stale() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.state == ImportJob.State.FAILED and "Upload the file again" in old.message
    assert fresh.state == ImportJob.State.RUNNING
