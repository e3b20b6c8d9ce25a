"""Collect once: importing residents from xlsx and CSV (UTF-8, UTF-8 with BOM, GBK), row errors with line,
column and reason, files refused whole, dry run, upsert by ID number, batches all or nothing, the error report,
the template, the command, a 100,000-row file, and no plaintext identifier in the database afterwards."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import tracemalloc

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation
from openpyxl import Workbook, load_workbook

from gridgov.core import crypto
from gridgov.core.errors import InvalidInput
from gridgov.core.models import AuditEntry
from gridgov.geo.models import Address
from gridgov.residents import importer
from gridgov.residents.importer import TEMPLATE_HEADERS, error_report_xlsx, import_file, template_xlsx
from gridgov.residents.models import House, Household, Resident
from gridgov.residents.tests.conftest import make_id
from gridgov.residents.validators import id_check_char

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "民族", "联系电话", "户籍地址", "网格编码", "道路", "门牌号", "楼栋", "单元", "楼层",
          "房号", "户号", "与户主关系", "居住类型", "人户状态", "职业", "政治面貌"]
G1, G2, G3 = "320508001001001", "320508001001002", "320508002001001"


@pytest.fixture(autouse=True)
def english_ui():
    with translation.override("en"):
        yield


def person(name, id_number, grid=G1, *, ethnicity="汉族", phone="", road="", number="", room="", household="",
           relation="", residence="户籍", presence="人户一致", occupation="", political="群众"):
    return [name, id_number, ethnicity, phone, "江苏省苏州市", grid, road, number, "1" if road else "",
            "1" if road else "", room[:1], room, household, relation, residence, presence, occupation, political]


def csv_bytes(rows, *, header=HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, *, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(data: bytes, filename="residents.csv", *, by, dry_run=False, progress=None):
    return import_file(fileobj=io.BytesIO(data), filename=filename, by=by, dry_run=dry_run, progress=progress)


def future_id() -> str:
    first17 = f"320508{dt.date.today().year + 1}0101001"
    return first17 + id_check_char(first17)


def bad_check_digit(number: str) -> str:
    return number[:17] + ("1" if number[17] != "1" else "2")


def resident_by_id(number: str) -> Resident | None:
    return Resident.objects.filter(id_index=crypto.blind_index(number)).first()


def errors_of(result) -> set[tuple[int, str]]:
    return {(e.line, e.column) for e in result.errors}


def test_good_rows_go_in_and_every_bad_row_is_explained(registry):
    by = registry["users"]["dispatcher"]  # street 1: grids g1 and g2, not g3
    new1, new2 = make_id(seq=101), make_id(birth=dt.date(1990, 6, 1), seq=202)
    rows = [
        person("赵一", new1, phone="13911112222", road="人民路", number="8", room="301", household="H001",
               relation="户主"),  # line 2
        person("钱二", new2, G2, ethnicity="03", household="H002", relation="配偶", residence="流动",
               presence="人在户不在", political="中共党员"),  # line 3
        person("孙三", bad_check_digit(make_id(seq=303))),  # line 4
        person("李未来", future_id()),  # line 5
        person("周重复", new1),  # line 6: the ID number of line 2 again
        person("吴族", make_id(seq=505), ethnicity="77"),  # line 7
        person("郑外", make_id(seq=607), G3),  # line 8: grid outside the user's area
        person("张三改", registry["ids"]["zhang"], phone="13500009999", occupation="教师"),  # line 9: update
        person("王坏", make_id(seq=709), phone="12345", relation="邻居"),  # line 10: two bad columns
    ]
    before = Resident.objects.count()
    result = run(csv_bytes(rows), by=by)

    assert (result.rows, result.created, result.updated, result.bad_rows) == (9, 2, 1, 6)
    assert errors_of(result) == {(4, "身份证号"), (5, "身份证号"), (6, "身份证号"), (7, "民族"), (8, "网格编码"),
                                 (10, "联系电话"), (10, "与户主关系")}
    reasons = {(e.line, e.column): e.reason for e in result.errors}
    assert "check digit" in reasons[(4, "身份证号")]
    assert "future" in reasons[(5, "身份证号")]
    assert "earlier line" in reasons[(6, "身份证号")]
    assert "ethnicity" in reasons[(7, "民族")]
    assert "grid" in reasons[(8, "网格编码")]
    assert Resident.objects.count() == before + 2

    zhao = resident_by_id(new1)
    assert zhao.name == "赵一" and zhao.grid == registry["g1"] and zhao.gender == "male"
    assert zhao.birth_date == dt.date(1980, 1, 1) and zhao.ethnicity == "01"
    assert crypto.decrypt(zhao.phone) == "13911112222" and zhao.phone_index == crypto.blind_index("13911112222")
    assert zhao.house.address.full_text == "Community人民路8号1幢1单元301室"
    assert zhao.house.grid == registry["g1"] and zhao.household.number == "H001" and zhao.relation == "head"
    assert zhao.household.grid == registry["g1"] and zhao.household.house == zhao.house
    qian = resident_by_id(new2)
    assert (qian.grid, qian.ethnicity, qian.relation, qian.residence_type, qian.presence, qian.political_status) == (
        registry["g2"], "03", "spouse", "floating", "person_only", "cpc")
    zhang = resident_by_id(registry["ids"]["zhang"])
    assert zhang.pk == registry["residents"]["zhang"].pk and zhang.name == "张三改" and zhang.occupation == "教师"
    assert crypto.decrypt(zhang.phone) == "13500009999"
    assert zhang.house == registry["houses"]["g1"][0]  # no address in the row: the actual address is kept
    assert not resident_by_id(make_id(seq=505)) and not resident_by_id(make_id(seq=607))
    # history rows written with the acting user, one audit entry with the counts
    assert zhao.history.count() == 1 and zhao.history.first().history_user == by
    created = zhao.history.first()
    assert created.history_type == "+" and (created.name, created.id_index, created.house_id, created.grid_id) == (
        zhao.name, zhao.id_index, zhao.house_id, zhao.grid_id)
    assert zhang.history.first().name == "张三改"
    entry = AuditEntry.objects.filter(action="resident.import").get()
    assert entry.after["created"] == 2 and entry.after["updated"] == 1 and entry.after["bad_rows"] == 6
    # the errors never carry a full ID number or phone
    report_values = " ".join(e.value for e in result.errors)
    assert future_id() not in report_values and "12345" not in report_values
    bad = bad_check_digit(make_id(seq=303))
    assert bad not in report_values and bad[:4] + "**********" + bad[-4:] in report_values


def test_a_resident_of_another_area_and_a_household_of_another_grid_are_row_errors(registry):
    by = registry["users"]["dispatcher"]
    Household.objects.create(number="HX", grid=registry["g2"], path=registry["g2"].path)
    rows = [person("王五", registry["ids"]["wang"]),  # registered in g3, outside street 1
            person("新人", make_id(seq=811), household="HX"),
            person("好人", make_id(seq=813))]
    result = run(csv_bytes(rows), by=by)
    assert errors_of(result) == {(2, "身份证号"), (3, "户号")}
    assert "another area" in result.errors[0].reason and "another grid" in result.errors[1].reason
    assert resident_by_id(registry["ids"]["wang"]).name == "王五" and resident_by_id(registry["ids"]["wang"]).grid == registry["g3"]
    assert result.created == 1 and not resident_by_id(make_id(seq=811))


def test_gbk_csv(registry):
    rows = [person("欧阳娜娜", make_id(seq=12), ethnicity="满族", road="干将路", number="12", room="502",
                   household="甲-01", relation="户主", occupation="个体户")]
    result = run(csv_bytes(rows, encoding="gbk"), by=registry["users"]["admin"])
    assert result.encoding == "gb18030" and not result.errors and result.created == 1
    resident = resident_by_id(make_id(seq=12))
    assert resident.name == "欧阳娜娜" and resident.ethnicity == "11" and resident.occupation == "个体户"
    assert resident.house.address.road == "干将路" and resident.household.number == "甲-01"


def test_utf8_csv_with_bom_and_english_headers(registry):
    english = ["name", "id_number", "ethnicity", "phone", "registered address", "grid code", "road", "number",
               "building", "unit", "floor", "room", "household", "relation", "residence type", "presence",
               "occupation", "political status"]
    data = b"\xef\xbb\xbf" + csv_bytes([person("陈晨", make_id(seq=14), phone="+86 139 0000 1234")], header=english)
    result = run(data, by=registry["users"]["admin"])
    assert result.encoding == "utf-8-sig" and not result.errors and result.created == 1
    assert crypto.decrypt(resident_by_id(make_id(seq=14)).phone) == "13900001234"


def test_xlsx_with_template_headers_and_an_id_stored_as_a_number(registry):
    rows = [person("林木", make_id(seq=16), phone=13912340000),
            person("数字", int(make_id(seq=18)[:17] + "0"))]
    result = run(xlsx_bytes(rows, header=TEMPLATE_HEADERS), "名单.xlsx", by=registry["users"]["admin"])
    assert result.file_type == "xlsx" and result.created == 1
    assert errors_of(result) == {(3, "身份证号")} and "as text" in result.errors[0].reason
    assert crypto.decrypt(resident_by_id(make_id(seq=16)).phone) == "13912340000"


def test_wrong_headers_refuse_the_whole_file_naming_them(registry):
    header = ["姓名", "年龄", "民族", "网格编码", "住址"]
    before = Resident.objects.count()
    for data, name in [(csv_bytes([["甲", "30", "汉", G1, "x"]], header=header), "a.csv"),
                       (xlsx_bytes([["甲", "30", "汉", G1, "x"]], header=header), "a.xlsx")]:
        with pytest.raises(InvalidInput) as exc:
            run(data, name, by=registry["users"]["admin"])
        assert exc.value.code == "bad_headers"
        assert "身份证号" in exc.value.message and "年龄" in exc.value.message and "住址" in exc.value.message
        assert exc.value.details[0]["missing"] == ["身份证号"] and exc.value.details[0]["unknown"] == ["年龄", "住址"]
    assert Resident.objects.count() == before


@pytest.mark.parametrize("data,name,words", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "photo.png", ".png"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00<<>>", "list.csv", "not a spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
    (b"PK\x03\x04 this is not a workbook at all", "broken.xlsx", "xlsx"),
    (b"", "empty.csv", "empty"),
])
def test_a_file_that_is_not_a_spreadsheet_is_refused(registry, data, name, words):
    with pytest.raises(InvalidInput) as exc:
        run(data, name, by=registry["users"]["admin"])
    assert exc.value.code == "invalid_file" and words in exc.value.message


def test_an_undecodable_file_is_refused_whole(registry):
    good = csv_bytes([person("甲", make_id(birth=dt.date(1950, 1, 1) + dt.timedelta(days=i), seq=20))
                      for i in range(3000)])  # more than one batch
    data = good + b"\x80\xff\xfe garbage," + b"\n"
    with pytest.raises(InvalidInput) as exc:
        run(data, by=registry["users"]["admin"])
    assert exc.value.code == "bad_encoding" and "UTF-8" in exc.value.message and "GBK" in exc.value.message
    assert not resident_by_id(make_id(birth=dt.date(1950, 1, 1), seq=20))  # refused before anything was written


def test_dry_run_writes_nothing_and_tells_what_would_happen(registry):
    by = registry["users"]["admin"]
    rows = [person("甲", make_id(seq=31), road="新路", number="1", room="101", household="D1", relation="户主"),
            person("乙", make_id(seq=32), road="新路", number="1", room="101", household="D1", relation="配偶"),
            person("张三", registry["ids"]["zhang"]),
            person("坏", bad_check_digit(make_id(seq=33)))]
    counts = [Resident.objects.count(), Resident.history.count(), Address.objects.count(), House.objects.count(),
              Household.objects.count(), AuditEntry.objects.count()]
    result = run(csv_bytes(rows), by=by, dry_run=True)
    assert [Resident.objects.count(), Resident.history.count(), Address.objects.count(), House.objects.count(),
            Household.objects.count(), AuditEntry.objects.count()] == counts
    assert (result.created, result.updated, result.bad_rows) == (2, 1, 1)
    assert (result.addresses_created, result.houses_created, result.households_created) == (1, 1, 1)
    assert errors_of(result) == {(5, "身份证号")}
    real = run(csv_bytes(rows), by=by)
    assert (real.created, real.updated, real.addresses_created, real.houses_created, real.households_created) == (
        2, 1, 1, 1, 1)


def test_re_import_updates_instead_of_duplicating(registry):
    by = registry["users"]["admin"]
    rows = [person(f"人{i}", make_id(seq=100 + i), phone=f"1390000{i:04d}", road="东路", number="2",
                   room=f"{i + 1}01", household=f"R{i}", relation="户主") for i in range(5)]
    first = run(csv_bytes(rows), by=by)
    assert (first.created, first.updated) == (5, 0)
    counts = (Resident.objects.count(), Address.objects.count(), House.objects.count(), Household.objects.count())
    rows[0][0], rows[0][3] = "人零改名", "13811110000"
    second = run(csv_bytes(rows), by=by)
    assert (second.created, second.updated, second.addresses_created, second.households_created) == (0, 5, 0, 0)
    assert (Resident.objects.count(), Address.objects.count(), House.objects.count(),
            Household.objects.count()) == counts
    changed = resident_by_id(make_id(seq=100))
    assert changed.name == "人零改名" and changed.phone_index == crypto.blind_index("13811110000")
    assert changed.history.count() == 2


def test_a_failing_batch_leaves_nothing_half_written(registry, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", 3)
    calls = {"n": 0}
    real = importer._resident_rows_write

    def flaky(creates, updates, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(creates, updates, **kwargs)

    monkeypatch.setattr(importer, "_resident_rows_write", flaky)
    rows = [person(f"批{i}", make_id(seq=400 + i), road="批路", number=str(i), household=f"B{i}") for i in range(6)]
    with pytest.raises(RuntimeError):
        run(csv_bytes(rows), by=registry["users"]["admin"])
    assert [bool(resident_by_id(make_id(seq=400 + i))) for i in range(6)] == [True] * 3 + [False] * 3
    # the second batch's addresses, houses and households went with it
    assert Address.objects.filter(road="批路").count() == 3 and Household.objects.filter(number__startswith="B").count() == 3
    assert House.objects.filter(address__road="批路").count() == 3


def test_progress_is_reported_every_batch(registry, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    seen = []
    rows = [person(f"进{i}", make_id(seq=500 + i)) for i in range(25)]
    result = run(csv_bytes(rows), by=registry["users"]["admin"], progress=seen.append)
    assert seen == [10, 20, 25] and result.created == 25


def test_every_value_of_the_template_drop_downs_is_accepted():
    maps = importer._enum_maps()
    for key, labels in importer.ENUM_CHINESE.items():
        assert {label: maps[key].get(label.lower()) for label in labels.values()} == {
            label: value for value, label in labels.items()}


def test_error_report_is_an_xlsx_with_masked_identifiers(registry):
    bad_id, bad_phone = bad_check_digit(make_id(seq=601)), "139123"
    rows = [person("甲", bad_id), person("乙", make_id(seq=603), phone=bad_phone),
            person("丙", make_id(seq=605), G3)]
    result = run(csv_bytes(rows), by=registry["users"]["dispatcher"])
    sheet = load_workbook(io.BytesIO(error_report_xlsx(result))).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0] == ["Line", "Column", "Value", "Reason"]
    assert [(r[0], r[1]) for r in table[1:]] == [(2, "身份证号"), (3, "联系电话"), (4, "网格编码")]
    assert table[1][2] == bad_id[:4] + "*" * 10 + bad_id[-4:] and "check digit" in table[1][3]
    assert table[3][2] == G3
    cells = " ".join(str(c) for row in table for c in row)
    assert bad_id not in cells and bad_phone not in cells


def test_the_template_has_the_chinese_headers_and_imports(registry):
    sheet = load_workbook(io.BytesIO(template_xlsx())).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["姓名", "身份证号", "民族", "联系电话", "户籍地址", "网格编码"]
    assert "居住类型(户籍/流动/境外)" in header and "人户状态(人户一致/人在户不在/户在人不在)" in header
    assert len(header) == 18
    sheet.append(person("模板", make_id(seq=701)))
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    result = run(buffer.getvalue(), "template.xlsx", by=registry["users"]["admin"])
    assert result.created == 1 and not result.errors


def test_command_prints_counts_and_errors_and_refuses_with_status_2(registry, tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([person("命令", make_id(seq=801)), person("坏", bad_check_digit(make_id(seq=803)))],
                               encoding="gbk"))
    call_command("residents_import", str(path), "--user", "adm")
    out = capsys.readouterr().out
    assert "2 rows read" in out and "created: 1" in out and "rows/s" in out
    assert "line 3, 身份证号: the check digit" in out and bad_check_digit(make_id(seq=803)) not in out
    call_command("residents_import", str(path), "--dry-run")
    assert "updated: 1" in capsys.readouterr().out
    bad = tmp_path / "people.pdf"
    bad.write_bytes(b"%PDF-1.4\x00")
    with pytest.raises(CommandError) as exc:
        call_command("residents_import", str(bad), "--user", "adm")
    assert exc.value.returncode == 2 and ".pdf" in str(exc.value)


def _all_text_in_database() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                chunks.extend(str(v) for v in row if v is not None)
    return "\n".join(chunks)


def big_csv(count: int) -> tuple[bytes, list[str], list[str]]:
    """`count` residents with distinct valid ID numbers over 100 addresses and households in g1/g2."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    ids, phones = [], []
    start = dt.date(1940, 1, 1)
    for i in range(count):
        number = make_id(birth=start + dt.timedelta(days=i // 900), seq=100 + i % 900)
        phone = f"139{i:08d}"
        ids.append(number)
        phones.append(phone)
        writer.writerow(person(f"居民{i}", number, G1 if i % 2 else G2, phone=phone, road="大路",
                               number=str(i % 50), room=f"{i % 7 + 1}01", household=f"BIG{i % 20000}",
                               relation="户主" if i < 20000 else "子女"))
    return out.getvalue().encode(), ids, phones


# The issue asks for a 100,000-row import; PostgreSQL imports about 850 rows/s today (see docs/residents.md),
# so its run uses 20,000 rows to keep CI within budget. Speed itself is measured in bench/, not asserted here.
ROWS_IN_SUITE = 100_000 if connection.vendor == "sqlite" else 20_000


def test_a_big_file_imports_quickly_and_no_plaintext_identifier_is_stored(registry):
    data, ids, phones = big_csv(ROWS_IN_SUITE)
    started = time.perf_counter()
    result = run(data, by=registry["users"]["admin"])
    seconds = time.perf_counter() - started
    print(f"\n{ROWS_IN_SUITE} rows in {seconds:.1f} s: {ROWS_IN_SUITE / seconds:,.0f} rows/s")
    assert not result.errors and result.created == ROWS_IN_SUITE
    assert Resident.objects.count() == ROWS_IN_SUITE + 3
    sample = resident_by_id(ids[-1])
    assert sample.name == f"居民{ROWS_IN_SUITE - 1}" and crypto.decrypt(sample.phone) == phones[-1]
    # no plaintext ID number or phone anywhere in the database (checked on a sample)
    text = _all_text_in_database()
    for plain in [*ids[::997], *phones[::997], *registry["ids"].values(), *registry["phones"].values()]:
        assert plain not in text


def test_memory_stays_flat_while_streaming(registry, monkeypatch):
    """Streaming: the peak memory of a dry run is bounded by the batch, not the file (4 times the rows)."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 2000)  # both files span several batches
    peaks = []
    for count in (4_000, 16_000):
        data, _ids, _phones = big_csv(count)
        fileobj = io.BytesIO(data)
        del data
        tracemalloc.start()
        result = import_file(fileobj=fileobj, filename="big.csv", by=registry["users"]["admin"], dry_run=True)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert result.created == count and not result.errors
    print(f"\npeak memory: 4,000 rows {peaks[0] / 1e6:.1f} MB, 16,000 rows {peaks[1] / 1e6:.1f} MB")
    assert peaks[1] < peaks[0] * 1.6


def test_a_plain_row_reads_like_a_resident_for_completeness():
    row = importer._Attrs(name="甲", id_index="x", ethnicity="", phone_index="", phone_last4="", house_id=None,
                          registered_address="", household_id=None)
    assert row.name == "甲" and getattr(row, "missing", "default") == "default" and not hasattr(row, "missing")
    assert importer.completeness(row) == 29  # name and ID of the seven facts


def test_a_large_import_refreshes_the_planner_statistics(registry, monkeypatch):
    # PostgreSQL's statistics (gridgov.core.dbstats; a no-op on SQLite) once an import created ANALYZE_AFTER
    calls = []
    monkeypatch.setattr(importer, "analyze", lambda *models: calls.append(models))
    monkeypatch.setattr(importer, "ANALYZE_AFTER", 2)
    by = registry["users"]["dispatcher"]
    assert run(csv_bytes([person("甲一", make_id(seq=801))]), by=by).created == 1
    assert calls == []
    assert run(csv_bytes([person("乙二", make_id(seq=802)), person("丙三", make_id(seq=803))]), by=by).created == 2
    assert calls == [(Resident, Address, House, Household)]
    assert run(csv_bytes([person("丁四", make_id(seq=804)), person("戊五", make_id(seq=805))]), by=by,
               dry_run=True).created == 2
    assert len(calls) == 1  # a dry run writes nothing
