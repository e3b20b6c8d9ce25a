"""Importing categories from an xlsx or CSV file (UTF-8 or GBK), and the template to fill in.

Categories are configuration, so an import is all or nothing: every row is checked first and every problem
is reported with its line, column and reason; if there is any, nothing is written. A valid file is written
through `categories_upsert` (one audited transaction): rows create categories by code or update them.

Columns (Chinese headers; the short form before the parenthesis and English names are accepted too):
编码, 名称, 大类编码 (empty: a main class), 类型(部件/事件/社会治理), 立案时限, 派遣时限, 处置时限,
时限单位(工作时/工作日) (of the register and dispatch limits), 处置时限单位, 默认部门编码, 查重半径(米), 查重天数,
反馈需照片(是/否), 核查需照片(是/否), 服务编码, 矛盾纠纷(是/否). An empty cell keeps the current value (or the
default for a new category), except 大类编码, whose empty cell makes the row a main class.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from gridgov.accounts.models import Department
from gridgov.core.errors import InvalidInput

from .categories import categories_upsert
from .choices import CategoryKind, LimitUnit
from .models import Category

MAX_ROWS = 5000

# (key in the row given to categories_upsert, the Chinese header, English aliases)
COLUMNS = [
    ("code", "编码", ["code"]),
    ("name", "名称", ["name"]),
    ("parent", "大类编码", ["parent", "parent code", "main class"]),
    ("kind", "类型(部件/事件/社会治理)", ["kind", "type"]),
    ("register_limit", "立案时限", ["register limit", "register within"]),
    ("dispatch_limit", "派遣时限", ["dispatch limit", "dispatch within"]),
    ("handle_limit", "处置时限", ["handle limit", "handle within"]),
    ("limit_unit", "时限单位(工作时/工作日)", ["limit unit", "unit"]),
    ("handle_unit", "处置时限单位", ["handle unit"]),
    ("department", "默认部门编码", ["department", "default department"]),
    ("duplicate_radius_m", "查重半径(米)", ["duplicate radius", "duplicate radius (m)"]),
    ("duplicate_window_days", "查重天数", ["duplicate window", "duplicate window (days)"]),
    ("photo_required_report_back", "反馈需照片(是/否)", ["photo required to report back"]),
    ("photo_required_verify", "核查需照片(是/否)", ["photo required to verify"]),
    ("service_code", "服务编码", ["service code"]),
    ("is_dispute", "矛盾纠纷(是/否)", ["dispute", "is dispute"]),
]
HEADERS = [header for _, header, _ in COLUMNS]
REQUIRED_COLUMNS = ("code", "name", "parent")
KINDS = {"部件": CategoryKind.COMPONENT, "事件": CategoryKind.EVENT, "社会治理": CategoryKind.SOCIAL,
         **{k.value: k for k in CategoryKind}}
UNITS = {"工作时": LimitUnit.HOURS, "工作小时": LimitUnit.HOURS, "小时": LimitUnit.HOURS,
         "工作日": LimitUnit.DAYS, "天": LimitUnit.DAYS, **{u.value: u for u in LimitUnit}}
YES = {"是", "y", "yes", "true", "1", "√"}
NO = {"否", "n", "no", "false", "0", "×"}
CODE_RE = re.compile(r"[A-Za-z0-9_.-]{1,20}")
SERVICE_CODE_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
NUMBER_RANGES = {"register_limit": (1, 10000), "dispatch_limit": (1, 10000), "handle_limit": (1, 10000),
                 "duplicate_radius_m": (0, 100000), "duplicate_window_days": (0, 3650)}
BOOLEANS = ("photo_required_report_back", "photo_required_verify", "is_dispute")


@dataclass
class CategoryImportReport:
    dry_run: bool
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _norm_header(text: str) -> str:
    text = (text or "").strip().replace("（", "(").replace("）", ")").lower()
    return re.sub(r"\s+", " ", text)


def _header_map() -> dict[str, str]:
    names: dict[str, str] = {}
    for key, header, aliases in COLUMNS:
        for name in [header, header.split("(")[0], key, *aliases]:
            names[_norm_header(name)] = key
    return names


def _cell(value) -> str:
    """A cell as text: numbers from a spreadsheet lose their '.0', booleans read 是/否."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- reading ------------------------------------------------------------------------------------------------

def _read_bytes(file) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def _read_table(data: bytes, filename: str) -> list[list[str]]:
    """The first sheet (xlsx) or the CSV as rows of text cells."""
    name = (filename or "").lower()
    if name.endswith(".xls"):
        raise InvalidInput("Old .xls files are not supported: save the file as .xlsx or CSV.", code="invalid_file",
                           details=[{"line": 0, "column": "", "reason": "unsupported file type .xls"}])
    if name.endswith(".xlsx") or (not name.endswith(".csv") and data[:2] == b"PK"):
        return _read_xlsx(data)
    if name.endswith(".csv") or not name:
        return _read_csv(data)
    raise InvalidInput("Upload an .xlsx or .csv file.", code="invalid_file",
                       details=[{"line": 0, "column": "", "reason": f"unsupported file type {filename!r}"}])


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("The file is not a readable .xlsx workbook.", code="invalid_file",
                           details=[{"line": 0, "column": "", "reason": f"not an xlsx workbook ({exc.__class__.__name__})"}]
                           ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([_cell(v) for v in row])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        workbook.close()


def _read_csv(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 reads every GBK file
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost any byte string
        raise InvalidInput("The CSV file is neither UTF-8 nor GBK.", code="invalid_file",
                           details=[{"line": 0, "column": "", "reason": "unknown text encoding"}])
    if "\x00" in text:
        raise InvalidInput("The file is not a CSV text file.", code="invalid_file",
                           details=[{"line": 0, "column": "", "reason": "binary content"}])
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for row in csv.reader(io.StringIO(text), dialect):
        rows.append([_cell(v) for v in row])
        if len(rows) > MAX_ROWS + 1:
            break
    return rows


# --- checking -----------------------------------------------------------------------------------------------

def _parse(table: list[list[str]]) -> tuple[list[dict], list[dict]]:
    """Rows for categories_upsert, and the problems ({"line", "column", "reason"}) of the whole file."""
    problems: list[dict] = []

    def problem(line: int, column: str, reason: str, code: str = "") -> None:
        problems.append({"line": line, "column": column, "reason": reason, "code": code})

    while table and not any(table[0]):
        table = table[1:]
    if not table:
        problem(0, "", "the file is empty")
        return [], problems
    names = _header_map()
    header_line = 1
    columns: dict[int, str] = {}
    for index, text in enumerate(table[0]):
        if not text:
            continue
        key = names.get(_norm_header(text))
        if key is None:
            problem(header_line, text, "unknown column")
        elif key in columns.values():
            problem(header_line, text, "the column appears twice")
        else:
            columns[index] = key
    label = {key: header for key, header, _ in COLUMNS}
    for key in REQUIRED_COLUMNS:
        if key not in columns.values():
            problem(header_line, label[key], "required column missing")
    if problems:
        return [], problems
    body = table[1:]
    if len(body) > MAX_ROWS:
        problem(0, "", f"more than {MAX_ROWS} rows")
        return [], problems

    departments = set(Department.objects.values_list("code", flat=True))
    existing = {c["code"]: c for c in Category.objects.values("code", "parent_id", "service_code", "id")}
    existing_main = {code for code, c in existing.items() if c["parent_id"] is None}
    rows: list[dict] = []
    seen_codes: dict[str, int] = {}
    for offset, cells in enumerate(body):
        line = header_line + 1 + offset
        values = {key: (cells[i] if i < len(cells) else "") for i, key in columns.items()}
        if not any(values.values()):
            continue  # blank line
        row: dict = {"_line": line}
        code = values.get("code", "")
        if not code:
            problem(line, label["code"], "required")
        elif not CODE_RE.fullmatch(code):
            problem(line, label["code"], "use 1 to 20 letters, digits, '-', '_' or '.'", code)
        elif code in seen_codes:
            problem(line, label["code"], f"duplicate code (also on line {seen_codes[code]})", code)
            row["_duplicate"] = True
        else:
            seen_codes[code] = line
        row["code"] = code
        name = values.get("name", "")
        if not name:
            problem(line, label["name"], "required", code)
        elif len(name) > 100:
            problem(line, label["name"], "longer than 100 characters", code)
        row["name"] = name
        row["parent"] = values.get("parent", "") or None
        kind = values.get("kind", "")
        if kind:
            if kind.lower() not in KINDS and kind not in KINDS:
                problem(line, label["kind"], f"unknown type {kind!r} (部件, 事件 or 社会治理)", code)
            else:
                row["kind"] = str(KINDS.get(kind, KINDS.get(kind.lower())))
        for key in ("limit_unit", "handle_unit"):
            unit = values.get(key, "")
            if unit:
                found = UNITS.get(unit, UNITS.get(unit.lower()))
                if found is None:
                    problem(line, label[key], f"unknown unit {unit!r} (工作时 or 工作日)", code)
                else:
                    row[key] = str(found)
        for key, (low, high) in NUMBER_RANGES.items():
            text = values.get(key, "")
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is None or not number.is_integer() or not low <= number <= high:
                problem(line, label[key], f"not a whole number from {low} to {high}: {text!r}", code)
            else:
                row[key] = int(number)
        for key in BOOLEANS:
            text = values.get(key, "")
            if not text:
                continue
            if text.lower() in YES:
                row[key] = True
            elif text.lower() in NO:
                row[key] = False
            else:
                problem(line, label[key], f"expected 是 or 否, not {text!r}", code)
        department = values.get("department", "")
        if department:
            if department not in departments:
                problem(line, label["department"], f"unknown department code {department!r}", code)
            else:
                row["department"] = department
        service_code = values.get("service_code", "")
        if service_code:
            if not SERVICE_CODE_RE.fullmatch(service_code):
                problem(line, label["service_code"], "use 1 to 40 letters, digits, '-', '_' or '.'", code)
            row["service_code"] = service_code
        rows.append(row)

    # across rows: parents exist and are main classes; service codes stay unique after the import
    in_file = {row["code"]: row for row in rows if row["code"]}
    main_after = {c for c in existing_main if c not in in_file} | {c for c, r in in_file.items() if not r["parent"]}
    code_of = {c["id"]: code for code, c in existing.items()}
    children_after: dict[str, int] = {}
    for code, c in existing.items():
        if code not in in_file and c["parent_id"] is not None:
            parent_code = code_of[c["parent_id"]]
            children_after[parent_code] = children_after.get(parent_code, 0) + 1
    for row in rows:
        if row["parent"]:
            children_after[row["parent"]] = children_after.get(row["parent"], 0) + 1
    for row in rows:
        parent = row["parent"]
        if not parent:
            continue
        if parent == row["code"]:
            problem(row["_line"], label["parent"], "a category cannot be its own main class", row["code"])
        elif parent not in in_file and parent not in existing:
            problem(row["_line"], label["parent"], f"unknown parent code {parent!r}", row["code"])
        elif parent not in main_after:
            problem(row["_line"], label["parent"],
                    f"{parent!r} is itself a sub-class (categories have two levels)", row["code"])
        elif children_after.get(row["code"]):
            problem(row["_line"], label["parent"],
                    "this category has sub-classes, so it must stay a main class", row["code"])
    # the service code each category will have: given, kept, or (new, none given) the code in lower case
    owners = {c["service_code"]: code for code, c in existing.items() if code not in in_file}
    seen_service: dict[str, int] = {}
    for row in rows:
        if not row["code"] or row.get("_duplicate"):
            continue  # already reported
        given = row.get("service_code")
        service_code = given or (existing[row["code"]]["service_code"] if row["code"] in existing
                                 else row["code"].lower())
        column = label["service_code"] if given else label["code"]
        if service_code in owners:
            problem(row["_line"], column, f"service code {service_code!r} is used by category {owners[service_code]!r}",
                    row["code"])
        elif service_code in seen_service:
            problem(row["_line"], column,
                    f"duplicate service code {service_code!r} (also on line {seen_service[service_code]})", row["code"])
        else:
            seen_service[service_code] = row["_line"]
    if not rows and not problems:
        problem(0, "", "the file has no category rows")
    problems.sort(key=lambda p: (p["line"], HEADERS.index(p["column"]) if p["column"] in HEADERS else 99))
    return rows, problems


def category_import_file(*, file, filename: str, by=None, dry_run: bool = False) -> CategoryImportReport:
    """Check a file of categories and, unless `dry_run`, write it. Refuses the whole file with InvalidInput
    (details: every problem as {"line", "column", "reason", "code"}) if any row is bad."""
    data = _read_bytes(file)
    if not data.strip():
        raise InvalidInput("The file is empty.", code="invalid_file",
                           details=[{"line": 0, "column": "", "reason": "the file is empty", "code": ""}])
    rows, problems = _parse(_read_table(data, filename))
    if problems:
        summary = "; ".join(
            (f"line {p['line']}, {p['column']}: {p['reason']}" if p["column"] else f"line {p['line']}: {p['reason']}")
            for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidInput(f"The file was refused ({len(problems)} problems; nothing was written): {summary}{more}",
                           code="invalid_file", details=problems)
    existing = set(Category.objects.filter(code__in=[r["code"] for r in rows]).values_list("code", flat=True))
    report = CategoryImportReport(dry_run=dry_run, rows=len(rows),
                                  created=[r["code"] for r in rows if r["code"] not in existing],
                                  updated=[r["code"] for r in rows if r["code"] in existing])
    if not dry_run:
        categories_upsert(rows=[{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], by=by)
    return report


# --- the template and the current categories as a file --------------------------------------------------------

def _row_of(category: Category) -> list:
    yes_no = {True: "是", False: "否"}
    kinds = {v: k for k, v in KINDS.items() if not k.isascii()}
    units = {LimitUnit.HOURS: "工作时", LimitUnit.DAYS: "工作日"}
    return [category.code, category.name, category.parent.code if category.parent_id else "",
            kinds.get(category.kind, category.kind), category.register_limit, category.dispatch_limit,
            category.handle_limit, units.get(category.limit_unit, category.limit_unit),
            units.get(category.handle_unit, category.handle_unit),
            category.default_department.code if category.default_department_id else "",
            category.duplicate_radius_m, category.duplicate_window_days,
            yes_no[category.photo_required_report_back], yes_no[category.photo_required_verify],
            category.service_code, yes_no[category.is_dispute]]


def category_workbook(*, with_categories: bool = False) -> bytes:
    """The import template (.xlsx): the headers, a sheet explaining each column and the department codes;
    with `with_categories`, the current categories filled in (edit and import back)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "分类"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, header in enumerate(HEADERS, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(10, len(header) * 2)
    sheet.freeze_panes = "A2"
    if with_categories:
        for category in Category.objects.select_related("parent", "default_department").order_by(
                "parent__code", "sort", "code"):
            sheet.append(_row_of(category))
    notes = workbook.create_sheet("说明")
    notes.append(["列", "说明"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for row in [
        ("编码", "必填，唯一，1–20位字母、数字、-、_ 或 .；已有编码则更新该分类"),
        ("名称", "必填，最多100字"),
        ("大类编码", "小类填所属大类的编码（文件中或系统中已有的大类）；大类留空"),
        ("类型(部件/事件/社会治理)", "部件、事件或社会治理；留空保持不变"),
        ("立案时限 / 派遣时限 / 处置时限", "正整数，按工作时间计算"),
        ("时限单位(工作时/工作日)", "立案、派遣时限的单位：工作时 或 工作日"),
        ("处置时限单位", "处置时限的单位：工作时 或 工作日"),
        ("默认部门编码", "系统中已有的部门编码（见下表）"),
        ("查重半径(米) / 查重天数", "非负整数"),
        ("反馈需照片 / 核查需照片 / 矛盾纠纷", "是 或 否"),
        ("服务编码", "Open311 服务编码，唯一；新分类留空则取编码的小写"),
        ("", "空单元格保持原值（新分类取默认值）。任一行有错，整个文件不导入。CSV 可用 UTF-8 或 GBK 编码。"),
    ]:
        notes.append(list(row))
    notes.append([])
    notes.append(["部门编码", "部门名称"])
    for code, name in Department.objects.order_by("code").values_list("code", "name"):
        notes.append([code, name])
    notes.column_dimensions["A"].width = 34
    notes.column_dimensions["B"].width = 80
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
