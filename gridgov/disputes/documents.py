"""The mediation agreement (人民调解协议书) as a document: DOCX (python-docx) and PDF (reportlab).

Both come from one text, rendered from the Django template `disputes/documents/agreement.txt` (a city
overrides it by putting its own under that name in a template directory listed before the app's, e.g.
`gridgov/templates/`). The wording is translatable; the document is written in the site's default language
(settings.LANGUAGE_CODE, Simplified Chinese) unless `language` is given, whatever language the downloading
user's screens are in: it is a record the parties sign.

The document format (one block per line, leading and trailing spaces ignored):

    # Title               the document's title (centred, large)
    ## Heading            a section heading; the numbering of terms starts again after it
    - text                a numbered term: 1., 2., … in order until the next heading
    | a | b | c |         a table row, cells separated by "|"; consecutive rows form one table (blank lines
                          between rows do not end it, any other line does); the first row is the header.
                          A row with empty cells (for signatures) is given room to write in.
    > text                a right-aligned line (the committee's seal, the date)
    \\text                 a literal line: the backslash is dropped and the rest is plain text, even if it
                          starts with "#", "-", "|" or ">"
    text                  plain text; consecutive text lines make one paragraph, kept as separate lines
    (blank line)          ends a paragraph; runs of blank lines count as one

The values the template receives are made safe for this format: names and terms are single lines, "|" in a
table cell becomes "｜", and a line of the facts that would read as markup is prefixed with "\\". The renderers
escape the text for their own formats (reportlab's Paragraph markup).

API: `agreement_docx(*, dispute, by=None)`, `agreement_pdf(*, dispute, by=None)` → bytes (NotFound when the
dispute has no agreement; with `by`, a `dispute.agreement_download` audit entry) and
`agreement_filename(*, dispute, ext)`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cache
from xml.sax.saxutils import escape

from django.conf import settings
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.translation import gettext

from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.errors import NotFound

from .choices import Level, PartyKind
from .models import Agreement, Dispute

TEMPLATE = "disputes/documents/agreement.txt"
EAST_ASIAN_FONT = "宋体"  # SimSun: present wherever Word or WPS shows Chinese
LATIN_FONT = "Times New Roman"
PDF_FONT = "STSong-Light"  # one of reportlab's built-in CID fonts: nothing to embed, every reader has it
MARKUP = ("#", "-", "|", ">", "\\")


# --- the text -------------------------------------------------------------------------------------------

def _agreement(dispute: Dispute) -> Agreement:
    agreement = Agreement.objects.select_related("mediator").filter(dispute_id=dispute.pk).first()
    if agreement is None:
        raise NotFound("No agreement yet.")
    return agreement


def _line(value) -> str:
    """A value on one line (names, terms): whitespace runs, newlines included, become one space."""
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _cell(value) -> str:
    return _line(value).replace("|", "｜")


def _lines(value) -> str:
    """Multi-line text (the facts): each line kept, a line that would read as markup made literal."""
    out = []
    for raw in str(value or "").splitlines():
        line = raw.strip()
        out.append("\\" + line if line.startswith(MARKUP) else line)
    return "\n".join(out)


def _masked_phone(party) -> str:
    cipher = party.phone or (party.resident.phone if party.resident_id else "")
    if not cipher:
        return ""
    try:
        return crypto.mask_phone(crypto.decrypt(cipher))
    except Exception:  # an unreadable value (a key missing): never fail the document for it
        return "***"


def _committee(dispute: Dispute, agreement: Agreement) -> str:
    """The committee named on the agreement, or the people's mediation committee of the area it was reached in."""
    if (agreement.committee or dispute.committee).strip():
        return (agreement.committee or dispute.committee).strip()
    from gridgov.core.scope import ancestor_paths
    from gridgov.geo.models import Area

    level = dispute.resolution_level or dispute.level
    wanted = "community" if level in ("", Level.GRID) else level
    area = (Area.objects.filter(path__in=ancestor_paths(dispute.path), level=wanted).first()
            or Area.objects.filter(path__in=ancestor_paths(dispute.path), level="community").first())
    name = area.name if area is not None else dispute.grid.name
    return gettext("%(area)s People's Mediation Committee") % {"area": name}


def agreement_text(*, dispute: Dispute, language: str | None = None) -> str:
    """The agreement as text in the document format (see the module docstring)."""
    agreement = _agreement(dispute)
    with translation.override(language or settings.LANGUAGE_CODE):
        parties = [{"role": _cell(p.get_role_display()), "name": _cell(p.name),
                    "kind": _cell(p.get_kind_display()),
                    "phone": _cell(_masked_phone(p)) if p.kind == PartyKind.PERSON or p.phone else ""}
                   for p in dispute.parties.select_related("resident").order_by("id")]
        committee = _line(_committee(dispute, agreement))
        context = {
            "dispute": dispute, "agreement": agreement,
            "number": _line(agreement.number), "dispute_number": _line(dispute.number),
            "type": _line(dispute.get_type_display()), "amount": dispute.amount,
            "parties": parties, "facts": _lines(agreement.facts), "terms": [_line(t) for t in agreement.terms],
            "fulfil_by": agreement.fulfil_by, "fulfilment": _line(agreement.fulfilment),
            "committee": committee, "mediator": _cell(agreement.mediator),
            "signed": timezone.localtime(agreement.signed_at).date(), "copies": len(parties) + 1,
        }
        template = get_template(TEMPLATE)
        engine_template = getattr(template, "template", None)
        if engine_template is not None:  # the Django backend: render as plain text, with no HTML escaping
            text = engine_template.render(Context(context, autoescape=False))
        else:  # pragma: no cover - another template backend
            text = template.render(context)
    return text


# --- the blocks both renderers read ---------------------------------------------------------------------

@dataclass
class Block:
    kind: str  # title | heading | para | right | term | table
    lines: list[str] = field(default_factory=list)  # para/right: its lines; title/heading/term: one
    rows: list[list[str]] = field(default_factory=list)  # table
    number: int = 0  # term


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    current: Block | None = None  # the paragraph or table being filled
    term = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if current is not None and current.kind != "table":
                current = None
            continue
        literal = line.startswith("\\")
        if literal:
            line = line[1:]
        if not literal and line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None or current.kind != "table":
                current = Block("table")
                blocks.append(current)
            current.rows.append(cells)
            continue
        if not literal and (line.startswith("# ") or line == "#"):
            blocks.append(Block("title", [line[1:].strip()]))
            current, term = None, 0
        elif not literal and line.startswith("##"):
            blocks.append(Block("heading", [line.lstrip("#").strip()]))
            current, term = None, 0
        elif not literal and line.startswith("- "):
            term += 1
            blocks.append(Block("term", [line[2:].strip()], number=term))
            current = None
        else:
            kind = "right" if not literal and line.startswith(">") else "para"
            if kind == "right":
                line = line[1:].strip()
            if current is None or current.kind != kind:
                current = Block(kind)
                blocks.append(current)
            current.lines.append(line)
    return blocks


def _title(blocks: list[Block]) -> str:
    return next((b.lines[0] for b in blocks if b.kind == "title"), "")


# --- DOCX -----------------------------------------------------------------------------------------------

def _set_fonts(element, *, east_asian: str = EAST_ASIAN_FONT) -> None:
    """Latin and East-Asian fonts on a style's or run's properties (theme fonts would override them)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), LATIN_FONT)


def _run(paragraph, text: str, *, bold: bool = False, size: float | None = None):
    from docx.shared import Pt

    run = paragraph.add_run(text)
    run.bold = bold or None
    if size:
        run.font.size = Pt(size)
    _set_fonts(run._element)
    return run


def _docx_bytes(blocks: list[Block], *, author: str) -> bytes:
    from docx import Document
    from docx.enum.table import WD_ROW_HEIGHT_RULE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin = section.bottom_margin = Cm(2.5)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(12)
    _set_fonts(normal.element)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal.element.get_or_add_rPr().append(lang)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.25

    for block in blocks:
        if block.kind == "title":
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.space_after = Pt(12)
            _run(p, block.lines[0], bold=True, size=20)
        elif block.kind == "heading":
            p = doc.add_paragraph()
            p.paragraph_format.space_before = Pt(10)
            p.paragraph_format.keep_with_next = True
            _run(p, block.lines[0], bold=True, size=14)
        elif block.kind == "term":
            p = doc.add_paragraph()
            p.paragraph_format.left_indent = Cm(0.85)
            p.paragraph_format.first_line_indent = Cm(-0.85)
            _run(p, f"{block.number}.\t{block.lines[0]}")
            p.paragraph_format.tab_stops.add_tab_stop(Cm(0.85))
        elif block.kind in ("para", "right"):
            p = doc.add_paragraph()
            if block.kind == "right":
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            for i, line in enumerate(block.lines):
                run = _run(p, line)
                if i < len(block.lines) - 1:
                    run.add_break()
        elif block.kind == "table":
            width = max(len(r) for r in block.rows)
            table = doc.add_table(rows=0, cols=width)
            table.style = "Table Grid"
            for index, cells in enumerate(block.rows):
                row = table.add_row()
                padded = cells + [""] * (width - len(cells))
                if index > 0 and any(not c for c in padded):
                    row.height = Cm(1.1)
                    row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
                for cell, text in zip(row.cells, padded, strict=True):
                    _run(cell.paragraphs[0], text, bold=index == 0)
            doc.add_paragraph()
    props = doc.core_properties
    props.title = _title(blocks)
    props.author = author
    props.last_modified_by = author
    props.comments = ""
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------------------

@cache
def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def _pdf_bytes(blocks: list[Block], *, author: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font()
    base = ParagraphStyle("base", fontName=font, fontSize=11.5, leading=18, wordWrap="CJK", spaceAfter=5)
    styles = {
        "title": ParagraphStyle("title", parent=base, fontSize=19, leading=28, alignment=TA_CENTER, spaceAfter=14),
        "heading": ParagraphStyle("heading", parent=base, fontSize=13.5, leading=20, spaceBefore=8, spaceAfter=4),
        "para": base,
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "term": ParagraphStyle("term", parent=base, leftIndent=0.85 * cm, bulletIndent=0),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10.5, leading=15, spaceAfter=0),
    }
    story = []
    frame_width = A4[0] - 2 * 2.4 * cm
    for block in blocks:
        if block.kind in ("title", "heading"):
            story.append(Paragraph(escape(block.lines[0]), styles[block.kind]))
        elif block.kind == "term":
            story.append(Paragraph(escape(block.lines[0]), styles["term"], bulletText=f"{block.number}."))
        elif block.kind in ("para", "right"):
            story.append(Paragraph("<br/>".join(escape(line) for line in block.lines), styles[block.kind]))
        elif block.kind == "table":
            width = max(len(r) for r in block.rows)
            data = []
            for cells in block.rows:
                padded = cells + [""] * (width - len(cells))
                data.append([Paragraph(escape(c) if c else "&nbsp;<br/>&nbsp;", styles["cell"]) for c in padded])
            table = Table(data, colWidths=[frame_width / width] * width, repeatRows=1)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ]))
            story.extend([table, Spacer(1, 8)])
    out = io.BytesIO()
    title = _title(blocks)
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=2.4 * cm, rightMargin=2.4 * cm, topMargin=2.2 * cm,
                            bottomMargin=2.2 * cm, title=title, author=author, subject=title, creator="gridgov")
    doc.build(story)
    return out.getvalue()


# --- the API --------------------------------------------------------------------------------------------

def _render(dispute: Dispute, fmt: str, by, language: str | None) -> bytes:
    text = agreement_text(dispute=dispute, language=language)
    blocks = parse(text)
    agreement = dispute.agreement
    with translation.override(language or settings.LANGUAGE_CODE):
        author = _line(_committee(dispute, agreement))
    data = _docx_bytes(blocks, author=author) if fmt == "docx" else _pdf_bytes(blocks, author=author)
    if by is not None:
        audit_log(actor=by, action="dispute.agreement_download", obj=dispute, after={"format": fmt})
    return data


def agreement_docx(*, dispute: Dispute, by=None, language: str | None = None) -> bytes:
    """The agreement as a Word document; NotFound when there is none. With `by`, the download is audited."""
    return _render(dispute, "docx", by, language)


def agreement_pdf(*, dispute: Dispute, by=None, language: str | None = None) -> bytes:
    """The agreement as a PDF; NotFound when there is none. With `by`, the download is audited."""
    return _render(dispute, "pdf", by, language)


def agreement_filename(*, dispute: Dispute, ext: str, language: str | None = None) -> str:
    """e.g. 调解协议书-J2026110200001.docx (UTF-8: the view gives an ASCII fallback)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        prefix = gettext("Mediation agreement")
    return f"{prefix}-{dispute.number}.{ext.lstrip('.')}"
