"""Collect once: importing residents from xlsx or CSV, streamed, with a row-level error report.

Functions for the upload screens and the `residents_import` command:

    template_xlsx() -> bytes
        The empty template (first sheet: the Chinese headers of COLUMNS, drop-down lists for the enumerations;
        a second sheet explains how to fill it in).
    import_file(*, fileobj, filename, by, dry_run, progress=None) -> ImportResult
        Read an xlsx (openpyxl read-only) or CSV (UTF-8 with or without BOM, GBK/GB18030) file from a binary,
        seekable file object, row by row — the file is never held in memory whole. Raises
        `gridgov.core.errors.InvalidInput` (code "invalid_file", "bad_headers" or "bad_encoding") when the file
        is refused as a whole: not xlsx/CSV, wrong headers (missing and unknown ones are named), undecodable.
        Otherwise every row is validated (name, GB 11643 ID number with its birth date, ethnicity by GB/T 3304
        code or name, grid code existing and in `by`'s scope, phone, enumerations, lengths, an ID number
        appearing twice in the file); bad rows are reported in `result.errors` (line, column header, masked
        value, reason) and the good rows are upserted by ID number in batches of BATCH_SIZE, each batch in one
        transaction (all or nothing). Addresses (geo.Address) and houses are found or created from the address
        columns, households from 户号. History rows are written with simple_history's bulk helpers and one audit
        entry records the import's counts. With `dry_run=True` nothing is written: the result tells what
        would be created/updated. `progress(rows_done)` is called after every batch.
    error_report_xlsx(result) -> bytes
        The errors as an xlsx (line, column, value, reason); ID numbers and phones are masked.

Blank optional cells leave an existing resident's value unchanged on re-import. Memory grows only with the
number of distinct ID numbers in the file (one Python int each, for the duplicate check) and the first
MAX_ERRORS errors kept.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, BinaryIO

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.dbstats import analyze
from gridgov.core.errors import InvalidInput
from gridgov.core.scope import in_scope
from gridgov.geo.models import Address, Grid

from .choices import PersonStatus, PoliticalStatus, Presence, Relation, ResidenceType
from .models import House, Household, Resident
from .services import completeness
from .validators import ETHNICITIES, IdentityError, ethnicity_code, parse_citizen_id, valid_mobile

BATCH_SIZE = 10_000  # rows per transaction: fewer commits (each may checkpoint the WAL)
ANALYZE_AFTER = 10_000  # residents created by one import before PostgreSQL's statistics are refreshed (dbstats)
MAX_ERRORS = 50_000
CHUNK = 64 * 1024

# (key, header in the template, extra accepted header names — compared after normalisation)
COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("name", "姓名", ("name", "full name")),
    ("id_number", "身份证号", ("id number", "id", "id no", "id card", "身份证", "身份证号码", "公民身份号码")),
    ("ethnicity", "民族", ("ethnicity", "nationality")),
    ("phone", "联系电话", ("phone", "mobile", "telephone", "电话", "手机", "手机号", "手机号码")),
    ("registered_address", "户籍地址", ("registered address", "户籍地", "户籍所在地")),
    ("grid", "网格编码", ("grid", "grid code", "网格")),
    ("road", "道路", ("road", "路名")),
    ("number", "门牌号", ("number", "house number", "门牌")),
    ("building_no", "楼栋", ("building", "building no", "楼号", "幢")),
    ("unit", "单元", ("unit", "stairwell")),
    ("floor", "楼层", ("floor",)),
    ("room", "房号", ("room", "房间号")),
    ("household", "户号", ("household", "household number", "household no")),
    ("relation", "与户主关系", ("relation", "relation to head", "relation to the head")),
    ("residence_type", "居住类型", ("residence type",)),
    ("presence", "人户状态", ("presence", "residence and registration")),
    ("occupation", "职业", ("occupation", "job")),
    ("political_status", "政治面貌", ("political status",)),
]
HEADERS = {key: header for key, header, _aliases in COLUMNS}
TEMPLATE_HEADERS = [
    "居住类型(户籍/流动/境外)" if key == "residence_type" else
    "人户状态(人户一致/人在户不在/户在人不在)" if key == "presence" else header
    for key, header, _aliases in COLUMNS
]
REQUIRED = ("name", "id_number", "grid")
ADDRESS_KEYS = ("road", "number", "building_no", "unit", "floor", "room")
MAX_LENGTH = {"name": 50, "registered_address": 200, "road": 100, "number": 20, "building_no": 20, "unit": 20,
              "floor": 10, "room": 20, "household": 30, "occupation": 50}


def _norm_header(value: Any) -> str:
    text = str(value or "").replace("\ufeff", "").replace("\u200b", "").strip().lower()
    text = re.sub(r"^[*＊]+|[*＊]+$", "", text)  # "*姓名": a required-column marker
    text = re.sub(r"\s*[(（].*[)）]\s*$", "", text)  # "居住类型(户籍/流动/境外)"
    return re.sub(r"[\s_\-]+", " ", text).strip()


HEADER_MAP = {}
for _key, _header, _aliases in COLUMNS:
    for _name in (_header, _key, *_aliases):
        HEADER_MAP[_norm_header(_name)] = _key


# --- results -------------------------------------------------------------------------------------------------


@dataclass
class RowError:
    line: int
    column: str  # the header name (Chinese), "" for the whole row
    value: str  # masked when it is an ID number or a phone
    reason: str


@dataclass
class ImportResult:
    filename: str
    dry_run: bool
    file_type: str = ""
    encoding: str = ""
    rows: int = 0  # data rows read (blank rows skipped)
    created: int = 0  # residents created (or that would be, in a dry run)
    updated: int = 0
    addresses_created: int = 0
    houses_created: int = 0
    households_created: int = 0
    bad_rows: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def good_rows(self) -> int:
        return self.created + self.updated

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def counts(self) -> dict[str, Any]:
        return {"file": self.filename, "dry_run": self.dry_run, "rows": self.rows, "created": self.created,
                "updated": self.updated, "bad_rows": self.bad_rows, "errors": self.error_count,
                "addresses_created": self.addresses_created, "houses_created": self.houses_created,
                "households_created": self.households_created, "seconds": round(self.seconds, 2)}


def mask_value(column_key: str, value: str) -> str:
    """What an error report may show of a cell: ID numbers and phones masked, whatever their validity."""
    value = str(value or "")
    if column_key == "id_number":
        return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "*" * len(value)
    if column_key == "phone":
        return crypto.mask_phone(re.sub(r"\s", "", value))
    return value[:200]


# --- reading the file ----------------------------------------------------------------------------------------


def _refuse(message: str, code: str = "invalid_file", **details) -> InvalidInput:
    return InvalidInput(message, code=code, details=[{"line": 0, "column": "", **details}])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).replace("\ufeff", "").strip()


def _read_chunks(fileobj: BinaryIO) -> Iterator[bytes]:
    fileobj.seek(0)
    while True:
        chunk = fileobj.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _decodes(fileobj: BinaryIO, encoding: str) -> bool:
    """Whether the whole file decodes in `encoding` (streamed: one chunk at a time)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for chunk in _read_chunks(fileobj):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _detect_encoding(fileobj: BinaryIO, head: bytes) -> str:
    candidates = ["utf-8-sig", "gb18030"]
    try:  # the first chunk decides which to try first
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        candidates.reverse()
    for encoding in candidates:
        if _decodes(fileobj, encoding):
            return encoding
    raise _refuse(_("The file's text encoding cannot be read: save the CSV as UTF-8 or GBK."),
                  code="bad_encoding", reason="neither UTF-8 nor GBK/GB18030")


def _text_lines(fileobj: BinaryIO, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    for chunk in _read_chunks(fileobj):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _csv_rows(fileobj: BinaryIO, encoding: str) -> Iterator[tuple[int, list[str]]]:
    lines = _text_lines(fileobj, encoding)
    first = next(lines, "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","

    def all_lines():
        yield first
        yield from lines

    reader = csv.reader(all_lines(), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise _refuse(_("The CSV file is malformed near line %(line)s.") % {"line": reader.line_num},
                      reason=str(exc)) from exc


def _xlsx_rows(fileobj: BinaryIO) -> Iterator[tuple[int, tuple]]:
    from openpyxl import load_workbook

    fileobj.seek(0)
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException, XML errors…
        raise _refuse(_("The file is not a readable .xlsx workbook."),
                      reason=f"not an xlsx workbook ({exc.__class__.__name__})") from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record a wrong dimension; read every row
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _open_rows(fileobj: BinaryIO, filename: str, result: ImportResult) -> Iterator[tuple[int, Any]]:
    ext = os.path.splitext((filename or "").lower())[1]
    fileobj.seek(0)
    head = fileobj.read(CHUNK)
    if isinstance(head, str):
        raise TypeError("import_file needs a binary file object")
    if not head.strip():
        raise _refuse(_("The file is empty."), reason="empty file")
    if ext == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(_("Old .xls files are not supported: save the file as .xlsx or CSV."),
                      reason="unsupported file type .xls")
    if head.startswith(b"PK\x03\x04") and ext in ("", ".xlsx", ".xlsm"):
        result.file_type = "xlsx"
        return _xlsx_rows(fileobj)
    if ext in (".xlsx", ".xlsm") or zipfile.is_zipfile(io.BytesIO(head)) or head.startswith(b"PK\x03\x04"):
        raise _refuse(_("The file is not a readable .xlsx workbook."), reason="not an xlsx workbook")
    if ext not in ("", ".csv", ".txt"):
        raise _refuse(_("Upload an .xlsx or .csv file (not %(ext)s).") % {"ext": ext},
                      reason=f"unsupported file type {ext}")
    if b"\x00" in head:
        raise _refuse(_("The file is not a spreadsheet: upload an .xlsx workbook or a CSV text file."),
                      reason="binary content")
    result.file_type = "csv"
    result.encoding = _detect_encoding(fileobj, head)
    return _csv_rows(fileobj, result.encoding)


def _header_columns(cells) -> list[str | None]:
    """The column keys of a header row; refuses unknown, duplicate or missing headers, naming them."""
    keys: list[str | None] = []
    unknown, duplicate = [], []
    for cell in cells:
        text = _cell(cell)
        if not text:
            keys.append(None)
            continue
        key = HEADER_MAP.get(_norm_header(text))
        if key is None:
            unknown.append(text)
        elif key in keys:
            duplicate.append(text)
        keys.append(key)
    missing = [HEADERS[k] for k in REQUIRED if k not in keys]
    problems = []
    if missing:
        problems.append(_("missing columns: %(names)s") % {"names": "、".join(missing)})
    if unknown:
        problems.append(_("unknown columns: %(names)s") % {"names": "、".join(unknown)})
    if duplicate:
        problems.append(_("columns given twice: %(names)s") % {"names": "、".join(duplicate)})
    if problems:
        raise InvalidInput(_("The headers are wrong (%(problems)s). Use the template's headers.")
                           % {"problems": "; ".join(problems)}, code="bad_headers",
                           details=[{"line": 0, "column": "", "missing": missing, "unknown": unknown,
                                     "duplicate": duplicate}])
    return keys


# --- enumerations ------------------------------------------------------------------------------------------

EXTRA_ALIASES = {
    "relation": {"本人": "head", "配偶": "spouse", "妻": "spouse", "妻子": "spouse", "夫": "spouse",
                 "丈夫": "spouse", "子": "child", "女": "child", "儿子": "child", "女儿": "child", "子女": "child",
                 "长子": "child", "长女": "child", "次子": "child", "次女": "child", "父亲": "parent",
                 "母亲": "parent", "父": "parent", "母": "parent", "父母": "parent", "孙子": "grandchild",
                 "孙女": "grandchild", "孙子女": "grandchild", "外孙子": "grandchild", "外孙女": "grandchild", "兄": "sibling",
                 "弟": "sibling", "姐": "sibling", "妹": "sibling", "兄弟姐妹": "sibling", "兄弟": "sibling",
                 "姐妹": "sibling", "其他": "other", "其他亲属": "other", "租户": "tenant", "租客": "tenant",
                 "租住": "tenant"},
    "residence_type": {"户籍人口": "registered", "流动人口": "floating", "境外人员": "foreign",
                       "境外人口": "foreign"},
    "political_status": {"党员": "cpc", "中国共产党党员": "cpc", "预备党员": "probationary", "团员": "cyl",
                         "中国共产主义青年团团员": "cyl", "民革党员": "other_party", "民盟盟员": "other_party",
                         "民建会员": "other_party", "民进会员": "other_party", "农工党党员": "other_party",
                         "致公党党员": "other_party", "九三学社社员": "other_party", "台盟盟员": "other_party"},
}
ENUMS = {"relation": Relation, "residence_type": ResidenceType, "presence": Presence,
         "political_status": PoliticalStatus}


def _enum_maps() -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for key, choices in ENUMS.items():
        mapping = {}
        for value, label in zip(choices.values, choices.labels, strict=True):
            mapping[value] = value
            for language in ("en", translation.get_language() or "en"):
                with translation.override(language):
                    text = str(label)
                mapping[text.lower()] = value
                inner = re.search(r"[(（]([^)）]+)[)）]", text)
                if inner:
                    mapping[inner.group(1).strip().lower()] = value
        mapping.update(EXTRA_ALIASES.get(key, {}))
        maps[key] = mapping
    return maps


ENUM_CHINESE = {
    "relation": {"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "grandchild": "孙子女",
                 "sibling": "兄弟姐妹", "other": "其他亲属", "tenant": "租户"},
    "residence_type": {"registered": "户籍", "floating": "流动", "foreign": "境外"},
    "presence": {"consistent": "人户一致", "person_only": "人在户不在", "registration_only": "户在人不在"},
    "political_status": {"masses": "群众", "cpc": "中共党员", "probationary": "中共预备党员", "cyl": "共青团员",
                         "other_party": "民主党派"},
}


# --- validating rows -----------------------------------------------------------------------------------------


@dataclass
class CleanRow:
    line: int
    grid: Grid
    values: dict[str, str]  # the optional columns present, cleaned ("" = blank)
    id_number: str
    id_index: str
    birth_date: dt.date
    gender: str
    phone: str | None  # digits; None when the column is absent or blank
    address_key: tuple | None


def _suffix(value: str, suffix: str) -> str:
    return value if not value or value.endswith(suffix) else value + suffix


def address_full_text(community_name: str, key: dict[str, str]) -> str:
    parts = [community_name, key["road"], _suffix(key["number"], "号"), _suffix(key["building_no"], "幢"),
             _suffix(key["unit"], "单元")]
    parts.append(_suffix(key["room"], "室") if key["room"] else _suffix(key["floor"], "层"))
    return "".join(parts)[:300]


class _Importer:
    def __init__(self, *, by, dry_run: bool, result: ImportResult, progress: Callable[[int], Any] | None):
        self.by, self.dry_run, self.result, self.progress = by, dry_run, result, progress
        self.today = timezone.localdate()
        self.grids: dict[str, Grid | None] = {}
        self.seen_ids: set[int] = set()
        self.enums = _enum_maps()
        self.dry_addresses: set[tuple] = set()  # what a dry run would have created in earlier batches
        self.dry_households: dict[str, int] = {}
        self.batch: list[CleanRow] = []
        self.columns: list[str | None] = []

    # errors
    def error(self, line: int, key: str, value: Any, reason: str) -> None:
        self.result.error_count += 1
        if len(self.result.errors) < MAX_ERRORS:
            self.result.errors.append(RowError(line=line, column=HEADERS.get(key, ""),
                                               value=mask_value(key, _cell(value)), reason=reason))

    def _grid(self, code: str) -> Grid | None:
        if code not in self.grids:
            grid = Grid.objects.select_related("community").filter(code=code).first()
            self.grids[code] = grid if grid is not None and in_scope(self.by, grid.path) else None
        return self.grids[code]

    def row(self, line: int, cells) -> None:
        row = {}
        for key, cell in zip(self.columns, cells, strict=False):
            if key is not None:
                row[key] = cell
        # a CSV cell is already text: strip it here rather than through _cell (18 calls a row)
        texts = {key: value.strip() if type(value) is str and "\ufeff" not in value else _cell(value)
                 for key, value in row.items()}
        if not any(texts.values()):
            return
        self.result.rows += 1
        errors_before = self.result.error_count

        def bad(key: str, reason: str) -> None:
            self.error(line, key, row.get(key), reason)

        for key, limit in MAX_LENGTH.items():
            if len(texts.get(key, "")) > limit:
                bad(key, _("too long (at most %(n)s characters)") % {"n": limit})
        if not texts.get("name"):
            bad("name", _("required"))
        parsed = None
        raw_id = texts.get("id_number", "")
        if not raw_id:
            bad("id_number", _("required"))
        elif isinstance(row.get("id_number"), float | int) and len(raw_id) >= 16:
            bad("id_number", _("the ID number was stored as a number and lost digits: format the column as text"))
        else:
            try:
                parsed = parse_citizen_id(raw_id, today=self.today)
            except IdentityError as exc:
                bad("id_number", str(exc))
        if parsed is not None:
            as_int = int(parsed.number[:17]) * 11 + (10 if parsed.number[17] == "X" else int(parsed.number[17]))
            if as_int in self.seen_ids:
                bad("id_number", _("the same ID number appears on an earlier line of the file"))
                parsed = None
            else:
                self.seen_ids.add(as_int)
        grid = None
        code = texts.get("grid", "")
        if not code:
            bad("grid", _("required"))
        else:
            grid = self._grid(code)
            if grid is None:
                bad("grid", _("no grid with this code in your area"))
        values = {"name": texts.get("name", "")}
        if texts.get("ethnicity"):
            try:
                values["ethnicity"] = ethnicity_code(texts["ethnicity"])
            except IdentityError:
                bad("ethnicity", _("unknown ethnicity (use a GB/T 3304 code such as 01 or a name such as 汉族)"))
        phone = None
        if texts.get("phone"):
            phone = crypto.normalise_phone(texts["phone"])
            if not phone or not (valid_mobile(phone) or 7 <= len(phone) <= 12):
                bad("phone", _("not a phone number"))
        for key, mapping in self.enums.items():
            text = texts.get(key, "")
            if text:
                value = mapping.get(text.lower())
                if value is None:
                    bad(key, _("must be one of %(values)s") % {"values": "/".join(ENUM_CHINESE[key].values())})
                values[key] = value
        for key in ("registered_address", "occupation", "household", *ADDRESS_KEYS):
            if key in texts:
                values[key] = texts[key]
        address_key = None
        if any(values.get(k) for k in ADDRESS_KEYS):
            for key in ("road", "number"):
                if not values.get(key):
                    bad(key, _("an address needs its road and number"))
            if grid is not None:
                address_key = (grid.community_id, *(values.get(k, "") for k in ADDRESS_KEYS))
        if self.result.error_count > errors_before:
            self.result.bad_rows += 1
            return
        self.batch.append(CleanRow(line=line, grid=grid, values=values, id_number=parsed.number,
                                   id_index=crypto.blind_index(parsed.number), birth_date=parsed.birth_date,
                                   gender=parsed.gender, phone=phone, address_key=address_key))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    # writing
    def flush(self) -> None:
        rows, self.batch = self.batch, []
        if rows:
            for attempt in range(2):
                try:
                    with transaction.atomic():
                        self._write(rows)
                    break
                except IntegrityError:  # a concurrent writer took an ID number or address: re-read once
                    if attempt:
                        raise
        if self.progress is not None:
            self.progress(self.result.rows)

    def _row_error(self, row: CleanRow, key: str, value: Any, reason: str, dropped: set[int]) -> None:
        self.error(row.line, key, value, reason)
        self.result.bad_rows += 1
        dropped.add(row.line)

    def _write(self, rows: list[CleanRow]) -> None:
        by, now, dropped = self.by, timezone.now(), set()
        counts = {"created": 0, "updated": 0, "addresses": 0, "houses": 0, "households": 0}
        existing = {r.id_index: r for r in Resident.objects.filter(id_index__in=[row.id_index for row in rows])}
        for row in rows:
            found = existing.get(row.id_index)
            if found is not None and not in_scope(by, found.path):
                self._row_error(row, "id_number", row.id_number,
                                _("a resident with this ID number is registered in another area"), dropped)
        rows = [row for row in rows if row.line not in dropped]
        now_db = _adapt(now)

        # addresses and houses: found by their exact key (the unique index), the new ones inserted on the raw path
        keys = {row.address_key: row for row in rows if row.address_key}
        addresses = _addresses_by_key(list(keys)) if keys else {}  # key -> (pk, grid id, path); pk None: dry run
        for row in rows:
            a = addresses.get(row.address_key) if row.address_key else None
            if a is not None and a[1] != row.grid.pk:
                self._row_error(row, "grid", row.grid.code,
                                _("this address belongs to another grid"), dropped)
        rows = [row for row in rows if row.line not in dropped]
        new_keys = [key for key, row in keys.items() if key not in addresses and row.line not in dropped]
        if self.dry_run:
            counts["addresses"] = len([key for key in new_keys if self._dry_new(("a", *key))])
            for key in new_keys:
                addresses[key] = (None, keys[key].grid.pk, keys[key].grid.path)
        elif new_keys:
            values = []
            for key in new_keys:
                grid = keys[key].grid
                parts = dict(zip(ADDRESS_KEYS, key[1:], strict=True))
                values.append({"grid_id": grid.pk, "path": grid.path, "community_id": key[0], **parts,
                               "full_text": address_full_text(grid.community.name, parts), "created_at": now_db,
                               "updated_at": now_db, "created_by_id": by.pk, "updated_by_id": by.pk})
            for key, pk in zip(new_keys, _raw_create(Address, values, history=False), strict=True):
                addresses[key] = (pk, keys[key].grid.pk, keys[key].grid.path)
            counts["addresses"] = len(new_keys)
        houses: dict[tuple, int | None] = {}
        if not self.dry_run and addresses:
            by_address = dict(House.objects.filter(address_id__in=[a[0] for a in addresses.values()])
                              .values_list("address_id", "pk"))
            missing = [key for key, a in addresses.items() if a[0] not in by_address]
            values = [{"address_id": addresses[key][0], "grid_id": addresses[key][1], "path": addresses[key][2],
                       "confirmed_at": now_db, "created_at": now_db, "updated_at": now_db, "created_by_id": by.pk,
                       "updated_by_id": by.pk} for key in missing]
            by_address.update(zip([addresses[key][0] for key in missing],
                                  _raw_create(House, values, now=now_db, by=by), strict=True))
            houses = {key: by_address[a[0]] for key, a in addresses.items()}
            counts["houses"] = len(missing)
        elif self.dry_run and addresses:
            have = set(House.objects.filter(address_id__in=[a[0] for a in addresses.values() if a[0]])
                       .values_list("address_id", flat=True))
            counts["houses"] = len([k for k, a in addresses.items() if a[0] not in have and self._dry_new(("h", *k))])

        # households
        numbers = {row.values["household"] for row in rows if row.values.get("household")}
        households = {number: (pk, grid_id) for number, pk, grid_id in Household.objects.filter(number__in=numbers)
                      .values_list("number", "pk", "grid_id")} if numbers else {}
        new_households = {}
        for row in rows:
            number = row.values.get("household")
            if not number:
                continue
            household = households.get(number) or new_households.get(number)
            grid_id = household[1] if household is not None else self.dry_households.get(number)
            if grid_id is not None and grid_id != row.grid.pk:
                self._row_error(row, "household", number,
                                _("this household number is registered in another grid"), dropped)
                continue
            if household is None:
                new_households[number] = (row, row.grid.pk)
                if self.dry_run and number not in self.dry_households:
                    self.dry_households[number] = row.grid.pk
                    counts["households"] += 1
        rows = [row for row in rows if row.line not in dropped]
        if new_households and not self.dry_run:
            values = [{"number": number, "grid_id": row.grid.pk, "path": row.grid.path,
                       "house_id": houses.get(row.address_key) if row.address_key else None, "created_at": now_db,
                       "updated_at": now_db, "created_by_id": by.pk, "updated_by_id": by.pk}
                      for number, (row, _grid) in new_households.items()]
            for number, pk in zip(new_households, _raw_create(Household, values, now=now_db, by=by), strict=True):
                households[number] = (pk, new_households[number][1])
            counts["households"] = len(new_households)

        # residents: the new ones as plain rows (no model instances), the existing ones updated
        creates, updates = [], []
        base = {**_resident_defaults(), "status": PersonStatus.ACTIVE.value, "created_by_id": by.pk,
                "updated_by_id": by.pk, "created_at": now_db, "updated_at": now_db, "confirmed_at": now_db}
        optional = ("ethnicity", "registered_address", "occupation", "relation", "presence", "residence_type",
                    "political_status")
        for row in rows:
            resident = existing.get(row.id_index)
            if resident is None:
                if self.dry_run:
                    creates.append(row)
                    continue
                number, values = row.id_number, row.values
                new = _Attrs(base)
                new.update(name=values["name"], id_number=crypto.encrypt(number), id_index=row.id_index,
                           id_last4=number[-4:], id_region=number[:6], birth_date=_adapt(row.birth_date),
                           gender=row.gender, grid_id=row.grid.pk, path=row.grid.path)
                for key in optional:
                    if values.get(key):
                        new[key] = values[key]
                if row.phone:
                    new.update(phone=crypto.encrypt(row.phone), phone_index=crypto.blind_index(row.phone),
                               phone_last4=row.phone[-4:])
                if row.address_key:
                    new["house_id"] = houses[row.address_key]
                if values.get("household"):
                    new["household_id"] = households[values["household"]][0]
                new["completeness"] = completeness(new)
                creates.append(new)
                continue
            resident.name = row.values["name"]
            resident.birth_date, resident.gender = row.birth_date, row.gender
            for key in optional:
                if row.values.get(key):
                    setattr(resident, key, row.values[key])
            if row.phone:
                phone_index = crypto.blind_index(row.phone)
                if not (resident.phone_index == phone_index and resident.phone):
                    resident.phone = crypto.encrypt(row.phone)
                    resident.phone_index = phone_index
                    resident.phone_last4 = row.phone[-4:]
            if row.address_key and not self.dry_run:
                resident.house_id = houses[row.address_key]
            if row.values.get("household") and not self.dry_run:
                resident.household_id = households[row.values["household"]][0]
            resident.grid, resident.path = row.grid, row.grid.path
            resident.updated_by, resident.updated_at, resident.confirmed_at = by, now, now
            resident.completeness = completeness(resident)
            updates.append(resident)
        counts["created"], counts["updated"] = len(creates), len(updates)
        if not self.dry_run:
            _resident_rows_write(creates, updates, by=by, now=now)
        r = self.result
        r.created += counts["created"]
        r.updated += counts["updated"]
        r.addresses_created += counts["addresses"]
        r.houses_created += counts["houses"]
        r.households_created += counts["households"]

    def _dry_new(self, key: tuple) -> bool:
        if key in self.dry_addresses:
            return False
        self.dry_addresses.add(key)
        return True


class _Attrs(dict):
    """A row as a dict whose keys also read as attributes (for services.completeness)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:  # as for an object: getattr(row, name, default) and hasattr keep working
            raise AttributeError(name) from None


def _adapt(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _db_default(field: models.Field) -> Any:
    value = field.get_db_prep_save(field.get_default(), connection)
    return str(value) if isinstance(value, str) else value  # a TextChoices member as its plain value


def _resident_defaults() -> dict[str, Any]:
    return {f.attname: _db_default(f) for f in Resident._meta.concrete_fields if not f.primary_key}


ADDRESS_SQL = (
    "WITH k (c, r, n, b, u, f, m) AS (VALUES {values}) SELECT a.id, a.grid_id, a.path, a.community_id, a.road, "
    "a.number, a.building_no, a.unit, a.floor, a.room FROM k JOIN {table} a ON a.community_id = k.c AND "
    "a.road = k.r AND a.number = k.n AND a.building_no = k.b AND a.unit = k.u AND a.floor = k.f AND a.room = k.m")


def _addresses_by_key(keys: list[tuple]) -> dict[tuple, tuple[int, int, str]]:
    """The existing addresses with exactly these keys (community id, road, number, building, unit, floor, room):
    a join on the unique index (an IN over each column would read every address of the roads)."""
    found = {}
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            cursor.execute(ADDRESS_SQL.format(table=connection.ops.quote_name(Address._meta.db_table),
                                              values=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))),
                           [value for key in chunk for value in key])
            for pk, grid_id, path, *key in cursor.fetchall():
                found[tuple(key)] = (pk, grid_id, path)
    return found


def _bulk_cursor():
    """The driver's own cursor on SQLite, with "?" placeholders: Django's wrapper rewrites "%s" with a regular
    expression on every call, which costs more than the insert for a multi-row statement. Django's cursor
    elsewhere. Answers (cursor, placeholder)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return contextlib.closing(connection.connection.cursor()), "?"
    return connection.cursor(), "%s"


def _insert_returning(table: str, columns: list[str], rows: list[tuple]) -> list[int]:
    """Insert `rows` and answer their new ids in order (multi-row INSERT … RETURNING, as bulk_create does on
    SQLite ≥ 3.35 and PostgreSQL)."""
    quote = connection.ops.quote_name
    cm, mark = _bulk_cursor()
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = f"({', '.join([mark] * len(columns))})"
    per = max(1, (connection.features.max_query_params or 30_000) // len(columns))
    ids = []
    with cm as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            cursor.execute(f"{head}{', '.join([one] * len(chunk))} RETURNING {quote('id')}",
                           [value for row in chunk for value in row])
            ids += [pk for (pk,) in cursor.fetchall()]
    return ids


def _raw_create(model, values: list[dict], *, history: bool = True, now: Any = None, by=None) -> list[int]:
    """Insert rows of `model` given as {attname: database value} (the other fields get their defaults) and,
    with `history`, their "+" history rows as simple_history's bulk_create_with_history writes them (`now` a
    database value); answer the new ids in order. Rows are built by itemgetter over dicts merged in C: the
    residents pass through here a million at a time."""
    if not values:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: _db_default(f) for f in fields}
    merged = [{**defaults, **v} for v in values]
    ids = _insert_returning(model._meta.db_table, [f.column for f in fields],
                            list(map(_getter(f.attname for f in fields), merged)))
    if history:
        hmodel = model.history.model
        special = {"history_date": now, "history_change_reason": None, "history_type": "+",
                   "history_user_id": by.pk}
        hfields = [f for f in hmodel._meta.concrete_fields if not f.primary_key]
        take = _getter(f.attname for f in hfields)
        _executemany(hmodel._meta.db_table, [f.column for f in hfields],
                     [take({**v, "id": pk, **special}) for v, pk in zip(merged, ids, strict=True)])
    return ids


def _getter(names) -> Callable[[dict], tuple]:
    """itemgetter that always answers a tuple (itemgetter of one name answers the bare value)."""
    names = list(names)
    return itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))


def _executemany(table: str, columns: list[str], rows: list[tuple], *, where: str = "") -> None:
    quote = connection.ops.quote_name
    cm, mark = _bulk_cursor()
    if where:
        sql = (f"UPDATE {quote(table)} SET {', '.join(f'{quote(c)} = {mark}' for c in columns)} "
               f"WHERE {quote(where)} = {mark}")
    else:
        sql = (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
               f"VALUES ({', '.join([mark] * len(columns))})")
    with cm as cursor:
        for start in range(0, len(rows), 2000):
            cursor.executemany(sql, rows[start:start + 2000])


def _resident_rows_write(creates: list[dict], updates: list[Resident], *, by, now: dt.datetime) -> None:
    """Insert the new residents (rows as {attname: database value}) with their "+" history rows, update the
    existing ones and write their "~" history rows: what simple_history's bulk helpers and bulk_create do,
    without the ORM's per-value overhead, which dominated the import's time. Called inside the batch's
    transaction."""
    now_db = _adapt(now)
    _raw_create(Resident, creates, now=now_db, by=by)
    if not updates:
        return
    fields = [f for f in Resident._meta.concrete_fields if not f.primary_key]
    changed = [f for f in fields if f.attname in UPDATE_COLUMNS]
    _executemany(Resident._meta.db_table, [f.column for f in changed],
                 [(*(_adapt(getattr(r, f.attname)) for f in changed), r.pk) for r in updates], where="id")
    history = Resident.history.model
    hfields = [f for f in history._meta.concrete_fields if not f.primary_key]
    special = {"history_date": now_db, "history_change_reason": None, "history_user_id": by.pk,
               "history_type": "~"}
    _executemany(history._meta.db_table, [f.column for f in hfields],
                 [tuple(special[f.attname] if f.attname in special else _adapt(getattr(r, f.attname))
                        for f in hfields) for r in updates])


UPDATE_FIELDS = ["name", "birth_date", "gender", "ethnicity", "registered_address", "occupation", "relation",
                 "presence", "residence_type", "political_status", "phone", "phone_index", "phone_last4", "house",
                 "household", "grid", "path", "updated_by", "updated_at", "confirmed_at", "completeness"]
UPDATE_COLUMNS = {f"{name}_id" if name in ("house", "household", "grid", "updated_by") else name
                  for name in UPDATE_FIELDS}


IMPORT_CACHE_MB = 128


@contextlib.contextmanager
def _import_page_cache():
    """On SQLite, a large page cache for this connection while it imports: every resident updates several
    indexes at random places, and once they outgrow the server's small per-connection cache (16 MB) each
    insert pays for page reads (1M rows: 4× slower past 600,000). Set back afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_MB * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size={int(before)}")


def import_file(*, fileobj: BinaryIO, filename: str, by, dry_run: bool = False,
                progress: Callable[[int], Any] | None = None) -> ImportResult:
    """Import residents from an xlsx/CSV file object (binary, seekable); see the module docstring."""
    started = time.perf_counter()
    result = ImportResult(filename=os.path.basename(filename or ""), dry_run=dry_run)
    rows = _open_rows(fileobj, filename, result)
    importer = _Importer(by=by, dry_run=dry_run, result=result, progress=progress)
    header_line = 0
    with _import_page_cache():
        for line, cells in rows:
            if not header_line:
                if not any(_cell(c) for c in cells):
                    continue
                importer.columns = _header_columns(cells)
                header_line = line
                continue
            importer.row(line, cells)
        if not header_line:
            raise _refuse(_("The file has no header row."), code="bad_headers", reason="no header row")
        importer.flush()
    result.seconds = time.perf_counter() - started
    if not dry_run:
        with transaction.atomic():
            audit_log(actor=by, action="resident.import", object_type="residents.resident",
                      object_repr=result.filename[:200], after=result.counts())
        if result.created >= ANALYZE_AFTER:
            analyze(Resident, Address, House, Household)
    return result


# --- template and error report -----------------------------------------------------------------------------


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "居民"
    sheet.append(TEMPLATE_HEADERS)
    for index, header in enumerate(TEMPLATE_HEADERS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = max(10, len(header) * 2 + 2)
        cell.number_format = "@"
    keys = [key for key, _h, _a in COLUMNS]
    for key in ("id_number", "phone", "grid", "household", "number", "room"):
        letter = sheet.cell(row=1, column=keys.index(key) + 1).column_letter
        for row in range(2, 1001):  # text cells: 18-digit numbers must not turn into floats
            sheet[f"{letter}{row}"].number_format = "@"
    for key in ENUM_CHINESE:
        letter = sheet.cell(row=1, column=keys.index(key) + 1).column_letter
        validation = DataValidation(type="list", formula1='"' + ",".join(ENUM_CHINESE[key].values()) + '"',
                                    allow_blank=True)
        validation.add(f"{letter}2:{letter}1048576")
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    explanations = {
        "name": "必填", "id_number": "必填，18位公民身份号码（单元格设为文本），按身份证号更新已有记录",
        "ethnicity": "GB/T 3304 代码（01）或名称（汉族）", "phone": "手机或固定电话",
        "grid": "必填，网格编码，须在您的管辖范围内", "road": "填写地址时必填", "number": "填写地址时必填",
        "household": "同一户号的居民归入同一户", "relation": "/".join(ENUM_CHINESE["relation"].values()),
        "residence_type": "/".join(ENUM_CHINESE["residence_type"].values()),
        "presence": "/".join(ENUM_CHINESE["presence"].values()),
        "political_status": "/".join(ENUM_CHINESE["political_status"].values()),
    }
    for key, header, _aliases in COLUMNS:
        notes.append([header, explanations.get(key, "")])
    notes.append(["示例民族", "、".join(list(ETHNICITIES.values())[:5]) + "…"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def error_report_xlsx(result: ImportResult) -> bytes:
    """The row errors as an xlsx: line, column, value (ID numbers and phones masked), reason."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Errors"))
    sheet.append([_("Line"), _("Column"), _("Value"), _("Reason")])
    for error in result.errors:
        sheet.append([error.line, error.column, error.value, error.reason])
    if result.errors_truncated:
        sheet.append(["", "", "", _("… and %(n)s more errors") % {"n": result.error_count - len(result.errors)}])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
