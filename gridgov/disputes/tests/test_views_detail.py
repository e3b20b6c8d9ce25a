"""The dispute page: what it shows, every action form posted through it by the right role, refusals (stale
version, wrong state, bad input, wrong role) with nothing written, the agreement downloads, and the conversion
of a case from the case page."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from gridgov.core.models import AuditEntry
from gridgov.disputes import services
from gridgov.disputes.models import Agreement, Dispute, FollowUp, Session, Step
from gridgov.disputes.tests.pages import text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield




def shown_actions(response) -> set[str]:
    return set(re.findall(r'data-testid="action-([a-z_]+)"', response.content.decode()))


def local(moment) -> str:
    """A time as a datetime-local input sends it."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def act(client, d, action, **data):
    data.setdefault("version", Dispute.objects.get(pk=d.pk).version)
    return client.post(f"/disputes/{d.pk}/act/{action}/", data)


def snapshot(d) -> dict:
    return {"dispute": Dispute.objects.filter(pk=d.pk).values().get(), "steps": Step.objects.count(),
            "sessions": Session.objects.count(), "agreements": Agreement.objects.count(),
            "follow_ups": FollowUp.objects.count(),
            "audit": AuditEntry.objects.filter(action__startswith="dispute.").count()}


# --- what the page shows ------------------------------------------------------------------------------------

def test_the_page_shows_the_dispute(as_user, mediation, register, t0):
    d = register(people_count=3, amount="2000", title="楼上漏水")
    response = as_user(mediation["users"]["mediator"]).get(f"/disputes/{d.pk}/")
    assert response.status_code == 200
    page = text(response)
    for expected in (d.number, "楼上漏水", "General", "Registered", "Grid", "Neighbourhood", "screening",
                     "人民路1号1幢1单元101室", "2000", "楼上漏水，双方争执", "张三", "楼上住户赵六", "Applicant",
                     "Respondent", "136****3333", "Timeline", "Register"):
        assert expected in page, expected
    html = response.content.decode()
    assert "13600003333" not in html and "13912345678" not in html  # phones never in plain text
    assert "#e3b505" in html  # the general grade's colour
    # a mediator has no access to the residents registry: the party's name is not a link
    assert 'data-testid="party-resident-link"' not in html
    # the grid member of g1 may open the resident's page
    gm_page = as_user(mediation["users"]["gm"]).get(f"/disputes/{d.pk}/").content.decode()
    zhang = mediation["residents"]["zhang"]
    assert f'href="{reverse("residents:detail", args=[zhang.pk])}"' in gm_page


def test_the_page_shows_the_disputes_warnings(as_user, mediation, register, t0):
    d = register(people_count=8)
    page = text(as_user(mediation["users"]["mediator"]).get(f"/disputes/{d.pk}/"))
    assert "Early warnings" in page and "8 people involved" in page


def test_the_forms_offered_follow_role_and_state(as_user, mediation, register, t0):
    u = mediation["users"]
    d = register()
    assert shown_actions(as_user(u["mediator"]).get(f"/disputes/{d.pk}/")) >= {"assess", "close", "regrade",
                                                                              "comment"}
    assert "assign" not in shown_actions(as_user(u["mediator"]).get(f"/disputes/{d.pk}/"))
    assert shown_actions(as_user(u["gm"]).get(f"/disputes/{d.pk}/")) == {"comment"}
    assert shown_actions(as_user(u["cleader"]).get(f"/disputes/{d.pk}/")) == {"regrade", "comment"}


# --- every action through its form ------------------------------------------------------------------------

def test_a_dispute_goes_through_mediation_on_its_page(as_user, mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    med = as_user(u["mediator"])

    response = act(med, d, "assess", grade="major", risk_note="邻里矛盾，情绪激动")
    assert response.status_code == 302 and response["Location"] == f"/disputes/{d.pk}/"
    d.refresh_from_db()
    assert (d.state, d.grade, d.risk_note) == ("assessed", "major", "邻里矛盾，情绪激动")
    assert "Assess the risk: done." in text(med.get(response["Location"]))

    page = med.get(f"/disputes/{d.pk}/")
    assert "assign" in shown_actions(page)
    assert str(u["mediator"]) in text(page)  # offered as a mediator
    assert str(u["mediator2"]) not in page.content.decode()  # community 2's mediator does not cover g1
    assert act(med, d, "assign", mediator=u["mediator"].pk, committee="社区人民调解委员会", note="").status_code == 302
    d.refresh_from_db()
    assert (d.state, d.mediator, d.committee) == ("mediating", u["mediator"], "社区人民调解委员会")

    clock.advance(hours=1)
    assert act(med, d, "session", held_at=local(clock.now), place="社区调解室", participants="张三、赵六",
               record="双方陈述，同意修复", outcome="agreed").status_code == 302
    session = Session.objects.get(dispute=d)
    assert (session.place, session.outcome) == ("社区调解室", "agreed")

    response = act(med, d, "agree", facts="楼上漏水致楼下受损", terms="赵六修复管道\n赔偿张三500元\n",
                   fulfil_by="2026-11-30", fulfilment="一次性支付")
    assert response.status_code == 302
    d.refresh_from_db()
    assert d.state == "agreed" and d.agreement.terms == ["赵六修复管道", "赔偿张三500元"]
    page = med.get(f"/disputes/{d.pk}/")
    assert "赔偿张三500元" in text(page)
    assert f"/disputes/{d.pk}/agreement.docx" in page.content.decode()
    assert f"/disputes/{d.pk}/agreement.pdf" in page.content.decode()

    assert act(med, d, "check_fulfilment", fulfilled="yes", note="已修复、已支付").status_code == 302
    d.refresh_from_db()
    assert d.state == "fulfilled" and d.fulfilled is True

    clock.advance(hours=2)
    assert act(med, d, "follow_up", visited_at=local(clock.now), form="home", content="无反复，双方满意",
               stable="yes", satisfied="yes").status_code == 302
    visit = FollowUp.objects.get(dispute=d)
    assert (visit.stable, visit.satisfied, visit.form) == (True, True, "home")

    assert act(med, d, "close", note="化解完毕").status_code == 302
    d.refresh_from_db()
    assert (d.state, d.outcome) == ("closed", "resolved")
    page = med.get(f"/disputes/{d.pk}/")
    assert "This dispute is closed." in text(page) or shown_actions(page) == {"comment"}
    timeline = page.content.decode().split('data-testid="timeline"')[1]
    for step in ("register", "assess", "assign", "session", "agree", "check_fulfilment", "follow_up", "close"):
        assert f'data-testid="step-{step}"' in timeline, step


def test_a_grid_member_mediates_in_the_grid(as_user, mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    med = as_user(u["mediator"])
    act(med, d, "assess", grade="general", risk_note="小事")
    assert act(med, d, "assign", mediator=u["gm"].pk, committee="").status_code == 302
    gm = as_user(u["gm"])
    assert {"session", "fail"} <= shown_actions(gm.get(f"/disputes/{d.pk}/"))
    clock.advance(hours=1)
    assert act(gm, d, "session", held_at=local(clock.now), place="楼道", participants="双方", record="未谈拢",
               outcome="failed").status_code == 302
    assert act(gm, d, "fail", reason="分歧太大").status_code == 302
    d.refresh_from_db()
    assert d.state == "failed" and d.failed_sessions == 1


def test_refer_regrade_and_comment(as_user, mediation, register, t0):
    u = mediation["users"]
    d = register()
    med = as_user(u["mediator"])
    act(med, d, "assess", grade="general", risk_note="涉及多户")
    assert act(med, d, "refer", channel="street", reference="", reason="涉及多户，社区无法化解").status_code == 302
    d.refresh_from_db()
    assert (d.state, d.level, d.referral_channel) == ("referred", "street", "street")
    assert "Street mediation" in text(med.get(f"/disputes/{d.pk}/"))

    assert act(as_user(u["cleader"]), d, "regrade", grade="serious", reason="有激化苗头").status_code == 302
    d.refresh_from_db()
    assert d.grade == "serious"

    assert act(as_user(u["gm"]), d, "comment", note="当事人情绪已稳定").status_code == 302
    assert Step.objects.filter(dispute=d, action="comment", note="当事人情绪已稳定").exists()


def test_an_external_referral_needs_its_reference(as_user, mediation, register, t0):
    d = register()
    med = as_user(mediation["users"]["mediator"])
    act(med, d, "assess", grade="general", risk_note="r")
    before = snapshot(d)
    response = act(med, d, "refer", channel="litigation", reference="", reason="起诉")
    assert response.status_code == 422
    assert 'data-testid="field-error-reference"' in response.content.decode()
    assert snapshot(d) == before


# --- refusals: nothing written --------------------------------------------------------------------------------

def test_a_stale_version_is_a_409_and_nothing_is_written(as_user, mediation, register, t0):
    d = register()
    med = as_user(mediation["users"]["mediator"])
    services.dispute_comment(dispute_id=d.pk, by=mediation["users"]["gm"], note="先到")  # someone else acts
    before = snapshot(d)
    response = act(med, d, "assess", version=1, grade="major", risk_note="r")
    assert response.status_code == 409
    assert 'data-testid="stale-version"' in response.content.decode()
    assert "changed meanwhile" in text(response)
    assert snapshot(d) == before
    # the page now carries the current version: the same form goes through
    assert f'name="version" value="{before["dispute"]["version"]}"' in response.content.decode()


def test_a_wrong_state_is_a_409_showing_what_is_possible(as_user, mediation, register, t0):
    d = register()
    med = as_user(mediation["users"]["mediator"])
    before = snapshot(d)
    response = act(med, d, "agree", facts="f", terms="t")
    assert response.status_code == 409
    page = text(response)
    assert "cannot be done now" in page and "registered" in page
    assert "Possible now:" in page and "Assess the risk" in page
    assert snapshot(d) == before


def test_a_session_dated_before_registration_is_refused(as_user, mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    med = as_user(u["mediator"])
    act(med, d, "assess", grade="general", risk_note="r")
    act(med, d, "assign", mediator=u["mediator"].pk, committee="")
    before = snapshot(d)
    response = act(med, d, "session", held_at="2026-11-01T09:00", place="调解室", participants="双方", record="r",
                   outcome="progress")
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="field-error-held_at"' in html and "before the dispute was registered" in text(response)
    assert snapshot(d) == before


def test_bad_form_input_and_a_wrong_role_are_refused(as_user, mediation, register, t0):
    u = mediation["users"]
    d = register()
    before = snapshot(d)
    response = act(as_user(u["mediator"]), d, "assess", grade="catastrophic", risk_note="")
    assert response.status_code == 422
    assert 'data-testid="field-error-grade"' in response.content.decode()
    response = act(as_user(u["gm"]), d, "assess", grade="major", risk_note="r")
    assert response.status_code == 403
    assert 'data-testid="action-error"' in response.content.decode()
    assert snapshot(d) == before
    assert as_user(u["mediator"]).post(f"/disputes/{d.pk}/act/explode/", {"version": 1}).status_code == 404
    assert as_user(u["mediator"]).get(f"/disputes/{d.pk}/act/comment/").status_code == 405


# --- the agreement documents ----------------------------------------------------------------------------------

@pytest.fixture
def agreed(mediation, register, clock, t0):
    u = mediation["users"]
    med = u["mediator"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=med, grade="general", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=med, mediator_id=med.pk)
    clock.advance(hours=1)
    services.dispute_record_session(dispute_id=d.pk, by=med, held_at=clock.now, place="p", participants="a",
                                    record="r", outcome="agreed")
    services.dispute_agree(dispute_id=d.pk, by=med, facts="漏水", terms=["修复管道"])
    return Dispute.objects.get(pk=d.pk)


@pytest.fixture
def fake_documents(monkeypatch):
    """The documents module answers with fixed bytes (its own tests check the documents)."""
    from gridgov.disputes import documents

    monkeypatch.setattr(documents, "agreement_docx", lambda *, dispute, by=None, **kw: b"PK-docx-" + dispute.number.encode())
    monkeypatch.setattr(documents, "agreement_pdf", lambda *, dispute, by=None, **kw: b"%PDF-" + dispute.number.encode())
    monkeypatch.setattr(documents, "agreement_filename",
                        lambda *, dispute, ext, **kw: f"调解协议书-{dispute.number}.{ext}")


@pytest.mark.parametrize("ext,content_type,start", [
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK-docx-"),
    ("pdf", "application/pdf", b"%PDF-"),
])
def test_the_agreement_downloads(as_user, mediation, agreed, fake_documents, ext, content_type, start):
    response = as_user(mediation["users"]["mediator"]).get(f"/disputes/{agreed.pk}/agreement.{ext}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response.content.startswith(start)
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(f'调解协议书-{agreed.number}.{ext}')}" in disposition
    # out of scope: not found
    assert as_user(mediation["users"]["mediator2"]).get(f"/disputes/{agreed.pk}/agreement.{ext}").status_code == 404


def test_no_agreement_no_download(as_user, mediation, register, fake_documents, t0):
    d = register()
    c = as_user(mediation["users"]["mediator"])
    assert c.get(f"/disputes/{d.pk}/agreement.docx").status_code == 404
    assert c.get(f"/disputes/{d.pk}/agreement.pdf").status_code == 404


def test_the_real_documents_download(as_user, mediation, agreed):
    response = as_user(mediation["users"]["mediator"]).get(f"/disputes/{agreed.pk}/agreement.docx")
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert "filename*=UTF-8''" in response["Content-Disposition"]


# --- converting a case --------------------------------------------------------------------------------------------

@pytest.fixture
def dispute_case(mediation, t0):
    from gridgov.cases.categories import categories_upsert
    from gridgov.cases.services import case_report

    categories_upsert(rows=[
        {"code": "X01", "name": "矛盾纠纷", "kind": "social", "parent": None},
        {"code": "X0101", "name": "邻里纠纷", "kind": "social", "parent": "X01", "is_dispute": True},
        {"code": "X02", "name": "市容", "kind": "event", "parent": None},
        {"code": "X0201", "name": "暴露垃圾", "kind": "event", "parent": "X02"},
    ])
    case, _ = case_report(by=mediation["users"]["gm"], category="X0101", description="楼上楼下因噪音争吵",
                          lon=120.605, lat=31.305, address="人民路1号")
    return case


def _from_case_data(mediation, case, **overrides) -> dict:
    data = {
        "version": str(case.version), "type": "neighbourhood", "grade": "general", "title": "", "people_count": "",
        "amount": "", "note": "",
        "parties-TOTAL_FORMS": "2", "parties-INITIAL_FORMS": "2", "parties-MIN_NUM_FORMS": "0",
        "parties-MAX_NUM_FORMS": "50",
        "parties-0-kind": "person", "parties-0-role": "applicant",
        "parties-0-resident": str(mediation["residents"]["zhang"].pk), "parties-0-name": "",
        "parties-1-kind": "person", "parties-1-role": "respondent", "parties-1-resident": "",
        "parties-1-name": "楼上住户赵六", "parties-1-phone": "13600003333",
    }
    data.update(overrides)
    return data


def test_a_case_is_converted_from_its_page(as_user, mediation, dispute_case):
    from gridgov.cases.models import Case

    c = as_user(mediation["users"]["dispatcher"])
    case_page = c.get(reverse("cases:detail", args=[dispute_case.pk]))
    assert 'data-testid="convert-to-dispute"' in case_page.content.decode()
    assert "Convert to a dispute" in text(case_page)

    form = c.get(f"/disputes/from-case/{dispute_case.pk}/")
    assert form.status_code == 200
    assert dispute_case.number in text(form) and "邻里纠纷" in text(form) and "楼上楼下因噪音争吵" in text(form)

    response = c.post(f"/disputes/from-case/{dispute_case.pk}/", _from_case_data(mediation, dispute_case))
    d = Dispute.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/disputes/{d.pk}/"
    assert Case.objects.get(pk=dispute_case.pk).state == "converted"
    assert (d.case_id, d.source, d.description) == (dispute_case.pk, "case", "楼上楼下因噪音争吵")
    page = c.get(response["Location"])
    history = page.content.decode().split('data-testid="case-history"')[1]
    assert dispute_case.number in history
    assert 'data-testid="step-report"' in history and 'data-testid="step-convert"' in history
    # the case page now links to its dispute and offers no conversion
    case_page = c.get(reverse("cases:detail", args=[dispute_case.pk])).content.decode()
    assert f'href="/disputes/{d.pk}/"' in case_page and 'data-testid="convert-to-dispute"' not in case_page
    again = c.get(f"/disputes/from-case/{dispute_case.pk}/")
    assert again.status_code == 409 and d.number in text(again)


def test_a_bad_conversion_writes_nothing(as_user, mediation, dispute_case):
    from gridgov.cases.models import Case
    from gridgov.cases.models import Step as CaseStep

    c = as_user(mediation["users"]["mediator"])
    steps = CaseStep.objects.count()
    one_party = _from_case_data(mediation, dispute_case, **{"parties-1-name": "", "parties-1-phone": ""})
    response = c.post(f"/disputes/from-case/{dispute_case.pk}/", one_party)
    assert response.status_code == 422 and "at least two parties" in text(response)
    stale = c.post(f"/disputes/from-case/{dispute_case.pk}/", _from_case_data(mediation, dispute_case, version="99"))
    assert stale.status_code == 409
    assert Dispute.objects.count() == 0 and CaseStep.objects.count() == steps
    assert Case.objects.get(pk=dispute_case.pk).state == dispute_case.state


def test_only_dispute_cases_in_scope_convert(as_user, mediation, dispute_case):
    from gridgov.cases.services import case_report

    u = mediation["users"]
    litter, _ = case_report(by=u["gm"], category="X0201", description="垃圾", lon=120.605, lat=31.305)
    c = as_user(u["dispatcher"])
    assert 'data-testid="convert-to-dispute"' not in c.get(reverse("cases:detail", args=[litter.pk])).content.decode()
    assert c.get(f"/disputes/from-case/{litter.pk}/").status_code == 409
    assert as_user(u["other_dispatcher"]).get(f"/disputes/from-case/{dispute_case.pk}/").status_code == 404
    assert as_user(u["gm"]).get(f"/disputes/from-case/{dispute_case.pk}/").status_code == 403
    assert Dispute.objects.count() == 0
