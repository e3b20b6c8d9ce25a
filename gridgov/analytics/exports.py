"""Downloads of the governance figures: every table of the dashboards as an xlsx workbook, and the monthly report
of an area as xlsx and as PDF.

Each workbook holds the table (a title line naming the table, the node and the period, then the header row and
the rows; every KPI with its value in the previous period), an "About" sheet (node, period, previous period, who
exported it and when) and a "Definitions" sheet (each KPI's numerator, denominator and unit, from kpis.KPIS).
The PDF uses reportlab's built-in CID font STSong-Light (as the mediation agreements do,
gridgov.disputes.documents): Chinese renders with nothing embedded.

Every download is audited: `analytics.export` with the node, the table or report, the format and the period.
The figures come from the selectors (and the index), with the requesting user's scope.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from gridgov.core.audit import audit_log
from gridgov.core.errors import InvalidInput

from . import selectors, views_data
from .kpis import KPIS
from .views_common import ASPECTS, Params, fmt, fmt_change, fmt_index, index_module, index_of, index_ranking

TABLES = ("kpis", "ranking", "breakdown", "departments", "index", "department")
BREAKDOWN_KEYS = ("category", "source", "kind")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Table:
    key: str
    title: str  # the title line of its sheet
    headers: list[str]
    rows: list[list]
    sheet: str = ""  # the sheet's (short) name; the title when empty


def _bad(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


# --- the tables -------------------------------------------------------------------------------------------------

def _unit(unit: str) -> str:
    return {"%": "%", "hours": _("hours"), "count": _("count")}.get(unit, unit)


def _kpi_headers() -> list[str]:
    # the hours are in the labels already ("… (hours)")
    now = [f"{k.label} (%)" if k.unit == "%" else str(k.label) for k in KPIS]
    before = [_("%(kpi)s, previous period") % {"kpi": k.label} for k in KPIS]
    return now + before


def _better(higher_is_better: bool | None) -> str:
    return "—" if higher_is_better is None else _("yes") if higher_is_better else _("no")


def _kpi_values(row: dict) -> list:
    previous = row.get("previous") or {}
    return [row.get(k.code) for k in KPIS] + [previous.get(k.code) for k in KPIS]


def _level(level: str) -> str:
    from .views_common import LEVEL_LABELS

    return str(LEVEL_LABELS.get(level, level))


def kpis_table(rows: list[dict], title: str | None = None) -> Table:
    """selectors.kpi_summary()["kpis"] (or the same rows for a department)."""
    headers = [_("Code"), _("KPI"), pgettext("kpi", "Unit"), _("Value"), _("Previous period"), _("Change"), _("Higher is better")]
    out = [[r["code"], r["label"], _unit(r["unit"]), r["value"], r["previous"], r["change"],
            _better(r["higher_is_better"])] for r in rows]
    return Table("kpis", title or _("KPIs"), headers, out, _("KPIs"))


def ranking_table(ranking: dict, *, by_level: bool = False) -> Table:
    """selectors.kpi_ranking(); `by_level`: it ranks every area at a level (the title names the level)."""
    headers = [_("Rank"), _("Previous rank"), _("Code"), _("Name"), _("Level")] + _kpi_headers()
    rows = [[r["rank"], r["previous_rank"], r["code"], r["name"], _level(r["level"])] + _kpi_values(r)
            for r in ranking["rows"]]
    kpi = selectors.label_of(ranking["kpi"])
    if by_level and ranking["level"]:
        title = _("%(level)s ranking by %(kpi)s") % {"level": _level(ranking["level"]), "kpi": kpi}
    else:
        title = _("Ranking by %(kpi)s") % {"kpi": kpi}
    return Table("ranking", title, headers, rows, _("Ranking"))


def breakdown_table(breakdown: dict) -> Table:
    by = breakdown["by"]
    label = {"category": _("Category"), "source": _("Source"), "kind": _("Category kind"),
             "department": _("Department")}.get(by, by)
    headers = [_("Code"), label] + _kpi_headers()
    rows = [[r["key"], r["label"]] + _kpi_values(r) for r in breakdown["rows"]]
    return Table("breakdown", _("By %(by)s") % {"by": label}, headers, rows, label)


def departments_table(league: list[dict], kpi: str) -> Table:
    headers = [_("Rank"), _("Previous rank"), _("Code"), _("Department")] + _kpi_headers()
    rows = [[r["rank"], r["previous_rank"], r["key"], r["label"]] + _kpi_values(r) for r in league]
    return Table("departments", _("Departments by %(kpi)s") % {"kpi": selectors.label_of(kpi)}, headers, rows,
                 _("Departments"))


def index_table(ranking: dict) -> Table:
    headers = [_("Rank"), _("Previous rank"), _("Code"), _("Name"), _("Level"), _("Index"), _("Previous index")]
    headers += [str(label) for label in ASPECTS.values()]
    rows = []
    for r in ranking.get("rows", []):
        aspects = r.get("aspects") or {}
        rows.append([r.get("rank"), r.get("previous_rank"), r.get("code"), r.get("name"), _level(r.get("level", "")),
                     r.get("index"), r.get("previous_index")] + [aspects.get(k) for k in ASPECTS])
    return Table("index", _("Governance index"), headers, rows)


def index_of_table(index: dict) -> Table:
    headers = [_("Code"), _("Indicator"), _("Aspect"), _("Value"), _("Weight")]
    rows = [["index", _("Governance index"), "", index.get("index"), None],
            ["previous_index", _("Previous index"), "", index.get("previous_index"), None]]
    rows += [[f"aspect:{k}", str(label), str(label), (index.get("aspects") or {}).get(k), None]
             for k, label in ASPECTS.items()]
    rows += [[i.get("code"), i.get("label"), str(ASPECTS.get(i.get("aspect"), i.get("aspect") or "")),
              i.get("value"), i.get("weight")] for i in index.get("indicators") or []]
    return Table("index", _("Governance index"), headers, rows)


def definitions_table() -> Table:
    headers = [_("Code"), _("KPI"), _("Numerator"), _("Denominator"), pgettext("kpi", "Unit"), _("Higher is better")]
    rows = []
    for k in KPIS:
        numerator = " + ".join(k.numerator) if k.numerator else _("hours from report to closure (closed cases)")
        rows.append([k.code, str(k.label), numerator, " + ".join(k.denominator), _unit(k.unit),
                     _better(k.higher_is_better)])
    rows.append([])
    rows.append([_("Counters are counted on the day of their workflow timestamp; a rate is numerator / "
                   "denominator in percent with one decimal, empty when the denominator is 0; the previous period "
                   "is the calendar month, quarter or year before, or the same number of days before. "
                   "See docs/kpis.md.")])
    return Table("definitions", _("Definitions"), headers, rows)


# --- workbooks ---------------------------------------------------------------------------------------------------

def _sheet_name(title: str, taken: set[str]) -> str:
    base = SHEET_BAD.sub(" ", title).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" {n}"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    taken.add(name.lower())
    return name


def workbook(*, tables: list[Table], heading: str, about: list[tuple[str, str]]) -> bytes:
    """The tables, each on a sheet (a title line, a blank line, the header row, the rows), then About and
    Definitions."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    taken: set[str] = set()
    bold = Font(bold=True)
    for i, table in enumerate([*tables, definitions_table()]):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = _sheet_name(table.sheet or table.title, taken)
        if table.key != "definitions":
            ws.append([f"{table.title} — {heading}"])
            ws["A1"].font = Font(bold=True, size=13)
            ws.append([])
        ws.append(table.headers)
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font = bold
        for row in table.rows:
            ws.append(row)
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        for col, header in enumerate(table.headers, start=1):
            ws.column_dimensions[get_column_letter(col)].width = min(max(10, len(str(header)) + 2), 40)
    ws = wb.create_sheet(_sheet_name(_("About"), taken))
    for label, value in about:
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=1).font = bold
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    wb.properties.creator = "gridgov"
    wb.properties.title = heading
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _about(*, user, node: dict, period: dict, previous: dict, what: str) -> list[tuple[str, str]]:
    return [
        (_("Contents"), what),
        (_("Area or grid"), f"{node['name']} ({node['code']})"),
        (_("Level"), _level(node["level"])),
        (_("Period"), f"{period['start']} – {period['end']}"),
        (_("Previous period"), f"{previous['start']} – {previous['end']}"),
        (_("Exported by"), user.get_username()),
        (_("Exported at"), timezone.localtime().strftime("%Y-%m-%d %H:%M")),
    ]


def _audit(*, user, node: dict, what: str, fmt_name: str, period: dict, **extra) -> None:
    audit_log(actor=user, action="analytics.export", object_type="analytics.node", object_id=node["code"],
              object_repr=node["name"], after={"what": what, "format": fmt_name, "start": period["start"],
                                               "end": period["end"], **extra})


def _safe(text: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", text).strip("_")


# --- one table -----------------------------------------------------------------------------------------------

def table_of(*, user, params: Params) -> tuple[dict, Table]:
    """(node, table) for ?table=: kpis, ranking, breakdown, departments, index (the dashboard's) or department
    (the department page's)."""
    table = params.table or "ranking"
    if table not in TABLES:
        raise _bad("table", _("one of %(tables)s") % {"tables": ", ".join(TABLES)}, "invalid_table")
    kpi = views_data.check_kpi(params.kpi)
    period = params.period
    if table == "department":
        data = views_data.department_data(user=user, params=params)
        if data["department"] is None:
            raise _bad("department", _("choose a department"), "unknown_department")
        title = _("KPIs of %(department)s") % {"department": data["department"].name}
        return data["node"].as_dict(), kpis_table(data["kpis"], title)
    node = selectors.resolve_node(user=user, **params.node_kwargs)
    at = views_data.node_arg(node)
    if table == "kpis":
        return node.as_dict(), kpis_table(selectors.kpi_summary(user=user, **at, period=period)["kpis"])
    if table == "breakdown":
        by = params.by or ("kind" if node.level == "grid" else "category")
        return node.as_dict(), breakdown_table(selectors.kpi_breakdown(user=user, by=by, **at, period=period))
    if table == "index":
        if index_module() is None:
            raise _bad("table", _("the governance index is not available"), "invalid_table")
        if node.level == "grid":
            index = index_of(user=user, node=node, period=period)
            if index is None:
                raise _bad("table", _("no index for this grid"), "invalid_table")
            return node.as_dict(), index_of_table(index)
        ranking = index_ranking(user=user, node=node, period=period)
        if ranking is None:
            raise _bad("table", _("no index ranking at this level"), "invalid_table")
        return node.as_dict(), index_table(ranking)
    if node.level == "grid":
        raise _bad("table", _("a grid has no %(table)s table") % {"table": table}, "invalid_table")
    if table == "ranking":
        ranking = selectors.kpi_ranking(user=user, **at, period=period, kpi=kpi, level=params.level or None)
        return node.as_dict(), ranking_table(ranking, by_level=bool(params.level))
    rows = selectors.kpi_breakdown(user=user, by="department", **at, period=period)["rows"]
    return node.as_dict(), departments_table(views_data.department_league(rows, kpi), kpi)


def export_table(*, user, params: Params) -> tuple[bytes, str, str]:
    """(xlsx bytes, file name, ASCII file name) of one table; audited."""
    node, table = table_of(user=user, params=params)
    period = params.period.as_dict()
    previous = params.period.previous().as_dict()
    heading = f"{node['name']} · {period['start']} – {period['end']}"
    data = workbook(tables=[table], heading=heading,
                    about=_about(user=user, node=node, period=period, previous=previous, what=table.title))
    _audit(user=user, node=node, what=params.table or "ranking", fmt_name="xlsx", period=period, kpi=params.kpi,
           by=params.by, department=params.department, level=params.level)
    stem = f"{period['start']}_{period['end']}"
    what = params.table or "ranking"
    if what == "ranking" and params.level:
        what = f"ranking-{params.level}"  # a known level: kpi_ranking refused any other
    return (data, f"{_safe(table.title)}-{_safe(node['name'])}-{stem}.xlsx", f"{node['code']}-{what}-{stem}.xlsx")


# --- the monthly report -------------------------------------------------------------------------------------

def report_month(params: Params) -> selectors.Period:
    """The month of ?month=YYYY-MM (default: the month before this one)."""
    if params.month:
        match = MONTH.match(params.month)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 2999:
            raise _bad("month", _("a month as YYYY-MM"), "invalid_period")
        first = dt.date(int(match.group(1)), int(match.group(2)), 1)
    else:
        first = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return selectors.parse_period(period="month", on=first)


def monthly_report(*, user, params: Params) -> dict:
    """The figures of an area's month: the KPIs with the previous month, the ranking of its children, the
    categories, and the governance index."""
    period = report_month(params)
    kpi = views_data.check_kpi(params.kpi)
    node = selectors.resolve_node(user=user, **params.node_kwargs)
    at = views_data.node_arg(node)
    grid = node.level == "grid"
    summary = selectors.kpi_summary(user=user, **at, period=period)
    return {
        "node": node.as_dict(),
        "period": summary["period"],
        "previous_period": summary["previous_period"],
        "month": period.start.strftime("%Y-%m"),
        "kpis": summary["kpis"],
        "kpi": kpi,
        "ranking": None if grid else selectors.kpi_ranking(user=user, **at, period=period, kpi=kpi),
        "breakdown": selectors.kpi_breakdown(user=user, by="kind" if grid else "category", **at, period=period),
        "index_ranking": None if grid else index_ranking(user=user, node=node, period=period),
        "index_of": index_of(user=user, node=node, period=period),
    }


def _report_title(report: dict) -> str:
    return _("Monthly governance report: %(name)s, %(month)s") % {"name": report["node"]["name"],
                                                                  "month": report["month"]}


def _report_tables(report: dict) -> list[Table]:
    tables = [kpis_table(report["kpis"], _("KPIs"))]
    if report["ranking"] is not None:
        tables.append(ranking_table(report["ranking"]))
    tables.append(breakdown_table(report["breakdown"]))
    if report["index_ranking"] is not None:
        tables.append(index_table(report["index_ranking"]))
    elif report["index_of"] is not None:
        tables.append(index_of_table(report["index_of"]))
    return tables


def _report_names(report: dict, ext: str) -> tuple[str, str]:
    prefix = _("Monthly report")
    return (f"{_safe(prefix)}-{_safe(report['node']['name'])}-{report['month']}.{ext}",
            f"{report['node']['code']}-report-{report['month']}.{ext}")


def report_xlsx(*, user, params: Params) -> tuple[bytes, str, str]:
    report = monthly_report(user=user, params=params)
    title = _report_title(report)
    data = workbook(tables=_report_tables(report), heading=title,
                    about=_about(user=user, node=report["node"], period=report["period"],
                                 previous=report["previous_period"], what=title))
    _audit(user=user, node=report["node"], what="monthly_report", fmt_name="xlsx", period=report["period"])
    return (data, *_report_names(report, "xlsx"))


def report_pdf(*, user, params: Params) -> tuple[bytes, str, str]:
    report = monthly_report(user=user, params=params)
    data = _pdf(report, author=user.get_username())
    _audit(user=user, node=report["node"], what="monthly_report", fmt_name="pdf", period=report["period"])
    return (data, *_report_names(report, "pdf"))


def _pdf(report: dict, *, author: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    from gridgov.disputes.documents import _pdf_font  # registers reportlab's built-in CID font STSong-Light

    font = _pdf_font()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=15, wordWrap="CJK", spaceAfter=4)
    title_style = ParagraphStyle("title", parent=base, fontSize=17, leading=26, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=base, fontSize=13, leading=19, spaceBefore=10, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11.5, spaceAfter=0)
    frame = A4[0] - 2 * 1.8 * cm

    def p(text, style=base):
        return Paragraph(escape(str(text)), style)

    def table(headers: list[str], rows: list[list], widths: list[float]):
        data = [[p(h, cell) for h in headers]] + [[p("" if v is None else v, cell) for v in r] for r in rows]
        scale = frame / sum(widths)
        t = PdfTable(data, colWidths=[w * scale for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#94a3b8")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e2e8f0")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        return t

    node, period, previous = report["node"], report["period"], report["previous_period"]
    title = _report_title(report)
    story = [p(title, title_style),
             p(_("%(level)s %(name)s (%(code)s). Period %(start)s – %(end)s, compared with %(pstart)s – %(pend)s.")
               % {"level": _level(node["level"]), "name": node["name"], "code": node["code"],
                  "start": period["start"], "end": period["end"], "pstart": previous["start"],
                  "pend": previous["end"]}),
             p(_("Generated %(at)s by %(user)s from the case workflow (gridgov).")
               % {"at": timezone.localtime().strftime("%Y-%m-%d %H:%M"), "user": author})]

    story.append(p(_("KPIs"), heading))
    story.append(table([_("KPI"), _("This month"), _("Previous month"), _("Change")],
                       [[r["label"], fmt(r["value"], r["unit"]), fmt(r["previous"], r["unit"]),
                         fmt_change(r["change"], r["unit"])] for r in report["kpis"]], [6, 2.2, 2.2, 2.2]))

    if report["ranking"] is not None:
        kpi = report["kpi"]
        unit = next(k.unit for k in KPIS if k.code == kpi)
        story.append(p(_("Ranking by %(kpi)s") % {"kpi": selectors.label_of(kpi)}, heading))
        rows = [[r["rank"] or "—", r["previous_rank"] or "—", r["name"], fmt(r[kpi], unit),
                 fmt(r["previous"][kpi], unit), fmt(r["reported"], "count"), fmt(r["closed"], "count")]
                for r in report["ranking"]["rows"]]
        story.append(table([_("Rank"), _("Previous rank"), _("Name"), selectors.label_of(kpi), _("Previous month"),
                            selectors.label_of("reported"), selectors.label_of("closed")], rows,
                           [1.2, 1.6, 5, 2.2, 2.2, 1.8, 1.8]))

    breakdown = report["breakdown"]
    by_label = _("Category") if breakdown["by"] == "category" else _("Category kind")
    story.append(p(_("By %(by)s") % {"by": by_label}, heading))
    rows = [[r["label"], fmt(r["reported"], "count"), fmt(r["previous"]["reported"], "count"),
             fmt(r["closed"], "count"), fmt(r["resolution_rate"], "%"), fmt(r["on_time_closure_rate"], "%")]
            for r in breakdown["rows"]]
    story.append(table([by_label, selectors.label_of("reported"), _("Previous month"), selectors.label_of("closed"),
                        selectors.label_of("resolution_rate"), selectors.label_of("on_time_closure_rate")],
                       rows or [[_("No cases in this month."), "", "", "", "", ""]], [5, 1.8, 1.8, 1.8, 2.2, 2.2]))

    if report["index_ranking"] is not None:
        story.append(p(_("Governance index"), heading))
        rows = []
        for r in report["index_ranking"].get("rows", []):
            aspects = r.get("aspects") or {}
            rows.append([r.get("rank") or "—", r.get("name"), fmt_index(r.get("index")),
                         fmt_index(r.get("previous_index"))] + [fmt_index(aspects.get(k)) for k in ASPECTS])
        story.append(table([_("Rank"), _("Name"), _("Index"), _("Previous index")]
                           + [str(v) for v in ASPECTS.values()], rows, [1.2, 4, 1.6, 1.8, 1.6, 1.6, 1.6, 1.8]))
    if report["index_of"] is not None:
        index = report["index_of"]
        aspects = index.get("aspects") or {}
        story.append(p(_("Governance index of %(name)s") % {"name": node["name"]}, heading))
        story.append(table([_("Index"), _("Previous index")] + [str(v) for v in ASPECTS.values()],
                           [[fmt_index(index.get("index")), fmt_index(index.get("previous_index"))]
                            + [fmt_index(aspects.get(k)) for k in ASPECTS]], [1.6, 1.8, 1.6, 1.6, 1.6, 1.8]))

    story.append(Spacer(1, 10))
    story.append(p(_("Definitions"), heading))
    story.append(table([_("KPI"), _("Numerator"), _("Denominator")],
                       [[str(k.label), " + ".join(k.numerator) or _("hours from report to closure (closed cases)"),
                         " + ".join(k.denominator)] for k in KPIS], [5, 4, 4]))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.8 * cm, topMargin=1.6 * cm,
                            bottomMargin=1.6 * cm, title=title, author=author, subject=title, creator="gridgov")
    doc.build(story)
    return out.getvalue()
