"""Export to xlsx: streamed, scoped to the user, ID numbers and phones masked (never plaintext), audited."""

from __future__ import annotations

import html
import io
import zipfile

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from gridgov.core.models import AuditEntry
from gridgov.residents.exporter import export_xlsx
from gridgov.residents.models import Resident

pytestmark = pytest.mark.django_db


def exported(user, queryset=None) -> tuple[list[list], bytes]:
    data = b"".join(export_xlsx(user=user, queryset=queryset))
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)], data


def raw_xml(data: bytes) -> str:
    # with lxml installed openpyxl writes non-ASCII text as character references (&#24352;): undo them
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return html.unescape("".join(archive.read(name).decode() for name in archive.namelist()))


def test_export_is_scoped_and_masked(registry):
    table, data = exported(registry["users"]["gm"])  # grid member of g1: zhang and li, not wang
    header, rows = table[0], table[1:]
    assert header[:4] == ["姓名", "身份证号", "民族", "联系电话"]
    assert sorted(r[0] for r in rows) == ["张三", "李四"]
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    zhang = by_name["张三"]
    assert zhang["身份证号"] == "3205**********" + registry["ids"]["zhang"][-4:]
    assert zhang["联系电话"] == "*******" + registry["phones"]["zhang"][-4:]
    assert zhang["民族"] == "汉族" and zhang["网格编码"] == registry["g1"].code and zhang["道路"] == "人民路"
    assert zhang["性别"] == "男" and zhang["出生日期"] == "1980-01-01"
    text = raw_xml(data)
    for key in ("zhang", "li", "wang"):
        assert registry["ids"][key] not in text and registry["phones"][key] not in text
    assert "王五" not in text
    assert AuditEntry.objects.filter(action="resident.export", after__rows=2).exists()


def test_a_given_queryset_is_still_restricted_to_the_users_scope(registry):
    table, _data = exported(registry["users"]["gm3"], Resident.objects.all())
    assert [r[0] for r in table[1:]] == ["王五"]
    table, _data = exported(registry["users"]["resident"], Resident.objects.all())
    assert table[1:] == []


def test_export_command_writes_a_masked_file(registry, tmp_path):
    path = tmp_path / "out.xlsx"
    call_command("residents_export", str(path), "--user", "adm")
    text = raw_xml(path.read_bytes())
    assert "张三" in text and "王五" in text and registry["ids"]["wang"] not in text
