"""The mediation agreement documents: DOCX and PDF from the one template, with the parties (phones masked),
facts, numbered terms, fulfilment, committee, mediator and signature lines; audited downloads."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from gridgov.core.errors import NotFound
from gridgov.core.models import AuditEntry
from gridgov.disputes import documents, services
from gridgov.disputes.models import Dispute

pytestmark = pytest.mark.django_db

TERMS = ["楼上住户赵六于2026年11月10日前修复漏水管道，费用自理", "张三撤回向物业的投诉 | 双方不再追究"]
COMMITTEE = "枫桥1社区人民调解委员会"


@pytest.fixture
def agreed(mediation, register, clock):
    clock.set(2026, 11, 2, 10)
    u = mediation["users"]
    med = u["mediator"]
    d = register(amount="1200")
    services.dispute_assess(dispute_id=d.pk, by=med, grade="general", risk_note="邻里小事，双方情绪平稳")
    services.dispute_assign(dispute_id=d.pk, by=med, mediator_id=med.pk, committee=COMMITTEE)
    clock.advance(hours=2)
    services.dispute_record_session(dispute_id=d.pk, by=med, held_at=clock.now, place="社区调解室",
                                    participants="张三、赵六", record="双方陈述，达成一致", outcome="agreed")
    services.dispute_agree(dispute_id=d.pk, by=med, facts="楼上卫生间漏水，渗入楼下张三家。\n# 双方对维修费用有争议",
                           terms=TERMS, fulfil_by=dt.date(2026, 11, 10), fulfilment="赵六自行请人维修")
    return Dispute.objects.get(pk=d.pk)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _docx_text(data: bytes) -> str:
    import docx

    doc = docx.Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_text_follows_the_document_format(agreed):
    text = documents.agreement_text(dispute=agreed)
    blocks = documents.parse(text)
    kinds = [b.kind for b in blocks]
    assert kinds[0] == "title" and "heading" in kinds and "table" in kinds and kinds.count("term") == 2
    terms = [b for b in blocks if b.kind == "term"]
    assert [t.number for t in terms] == [1, 2]
    assert terms[1].lines[0] == "张三撤回向物业的投诉 | 双方不再追究"  # a term is one line, "|" and all
    parties, signatures = [b for b in blocks if b.kind == "table"]
    assert len(parties.rows) == 3 and len(signatures.rows) == 4  # header, 2 parties (+ the mediator)
    assert parties.rows[1][1] == "张三" and parties.rows[2][1] == "楼上住户赵六"
    assert parties.rows[2][3] == "136****3333"
    # a line of the facts that looks like markup stays text
    assert any(b.kind == "para" and "# 双方对维修费用有争议" in b.lines for b in blocks)
    assert "13600003333" not in text


def test_parse_the_format():
    blocks = documents.parse("# T\n\n## H\n- a\n- b\n## H2\n- c\n| x | y |\n\n| 1 | 2 |\nline 1\nline 2\n\n"
                             "> right\n\\- not a term\n")
    assert [(b.kind, b.number) for b in blocks] == [("title", 0), ("heading", 0), ("term", 1), ("term", 2),
                                                    ("heading", 0), ("term", 1), ("table", 0), ("para", 0),
                                                    ("right", 0), ("para", 0)]
    assert blocks[6].rows == [["x", "y"], ["1", "2"]]
    assert blocks[7].lines == ["line 1", "line 2"] and blocks[9].lines == ["- not a term"]


def test_docx(agreed, mediation):
    data = documents.agreement_docx(dispute=agreed)
    assert data[:2] == b"PK"
    text = _docx_text(data)
    for expected in ("张三", "楼上住户赵六", *TERMS, agreed.agreement.number, COMMITTEE, agreed.number,
                     "136****3333", "调解员甲"):
        assert expected in text, expected
    assert "13600003333" not in text
    import docx
    from docx.oxml.ns import qn

    doc = docx.Document(io.BytesIO(data))
    fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == documents.EAST_ASIAN_FONT
    assert doc.core_properties.author == COMMITTEE


def test_pdf(agreed):
    data = documents.agreement_pdf(dispute=agreed)
    assert data.startswith(b"%PDF")
    text = _squash(_pdf_text(data))
    for expected in ("张三", "楼上住户赵六", *TERMS, agreed.agreement.number, COMMITTEE, "136****3333"):
        assert _squash(expected) in text, expected
    assert "13600003333" not in text
    assert b"13600003333" not in data


def test_no_agreement_is_not_found(register, clock):
    clock.set(2026, 11, 2, 10)
    d = register()
    for render in (documents.agreement_docx, documents.agreement_pdf):
        with pytest.raises(NotFound):
            render(dispute=d)


def test_downloads_are_audited(agreed, mediation):
    med = mediation["users"]["mediator"]
    documents.agreement_docx(dispute=agreed)  # no user: nothing to audit (e.g. a preview in a test)
    assert not AuditEntry.objects.filter(action="dispute.agreement_download").exists()
    documents.agreement_docx(dispute=agreed, by=med)
    documents.agreement_pdf(dispute=agreed, by=med)
    entries = list(AuditEntry.objects.filter(action="dispute.agreement_download").order_by("seq"))
    assert [e.after["format"] for e in entries] == ["docx", "pdf"]
    assert all(e.actor_id == med.pk and e.object_id == str(agreed.pk) for e in entries)


def test_filename(agreed):
    name = documents.agreement_filename(dispute=agreed, ext="docx")
    assert name.endswith(f"-{agreed.number}.docx")
    assert documents.agreement_filename(dispute=agreed, ext=".pdf").endswith(f"-{agreed.number}.pdf")


def test_a_committee_left_blank_is_the_area_s(mediation, register, clock):
    clock.set(2026, 11, 2, 10)
    med = mediation["users"]["mediator"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=med, grade="general", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=med, mediator_id=med.pk)
    clock.advance(hours=1)
    services.dispute_record_session(dispute_id=d.pk, by=med, held_at=clock.now, place="p", participants="a",
                                    record="r", outcome="agreed")
    services.dispute_agree(dispute_id=d.pk, by=med, facts="f", terms=["t"])
    d = Dispute.objects.get(pk=d.pk)
    text = documents.agreement_text(dispute=d)
    assert mediation["community"].name in text
