"""In Chromium, a neighbourhood dispute from registration to closing, each role in a browser context of its own.

The grid member of g1 (`gm`, on a phone) opens Disputes from the menu and registers a neighbourhood dispute
found by screening in the grid: one party is 张三, found through the registry search of the party row, the other
a neighbour not in the registry, with a phone. The dispute page shows it registered with both parties, each
phone masked. The community's mediator (`med`, on a desktop, a fresh context) finds it waiting in the queue,
assesses the risk, assigns themselves, records a session and the agreement, downloads the agreement as a Word
document through the page, and checks that it was fulfilled; the grid member records the follow-up visit on
the phone; the mediator closes the dispute. The timeline lists every step in order, and no page ever carried a
party's phone number in plain text.

The UI is Chinese (the default, from the browser's language): states and steps are read from data-state and
data-testid attributes, and the labels a user sees are compared with the Chinese catalogue's (whatever the
catalogue says for them, computed with translation.override), never with hard-coded text.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from gridgov.accounts.tests.factories import PASSWORD
from gridgov.browser_fixtures import login
from gridgov.core.models import AuditEntry
from gridgov.disputes.choices import Action, Grade, State
from gridgov.disputes.models import Dispute, FollowUp

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DESCRIPTION = "楼上卫生间漏水，楼下天花板受损，双方多次争执"
NEIGHBOUR, NEIGHBOUR_PHONE = "楼上住户赵六", "13600003333"
STEPS = [Action.REGISTER, Action.ASSESS, Action.ASSIGN, Action.SESSION, Action.AGREE, Action.CHECK_FULFILMENT,
         Action.FOLLOW_UP, Action.CLOSE]


def zh(label) -> str:
    """A label as the Chinese UI shows it."""
    with translation.override("zh-hans"):
        return str(label)


def _state(page, state: State) -> None:
    """The dispute page shows the dispute in `state`, with its label."""
    from playwright.sync_api import expect

    badge = page.get_by_test_id("dispute-state")
    expect(badge).to_have_attribute("data-state", state.value)
    expect(badge).to_have_text(zh(state.label))


def _timeline(page) -> list[str]:
    """The steps on the dispute page's timeline, oldest first (their data-testid: step-<action>)."""
    return page.get_by_test_id("timeline").locator(":scope > li").evaluate_all(
        "items => items.map(li => li.dataset.testid)")


def _action(page, action: str, *, next_step: bool = True):
    """The form of one action on the dispute page. The next step of the dispute's state is shown unfolded; any
    other action is folded away under its summary, which is clicked."""
    from playwright.sync_api import expect

    box = page.locator(f"#action-{action} > details")
    if next_step:
        expect(box).to_have_attribute("open", "")
    else:
        expect(box).not_to_have_attribute("open", re.compile(".*"))
        box.locator("summary").click()
    form = page.get_by_test_id(f"action-{action}")
    expect(form).to_be_visible()
    return form


def _submit(page, action: str, state: State) -> None:
    """Press the submit button of an action form; the page comes back showing `state`."""
    from playwright.sync_api import expect

    page.get_by_test_id(f"action-{action}").locator("button[type=submit]").click()
    expect(page.get_by_test_id("action-error")).to_have_count(0)
    _state(page, state)


def test_a_neighbourhood_dispute_from_screening_to_closing(live_server, mediation, new_page, js_errors):
    from playwright.sync_api import expect

    users, zhang = mediation["users"], mediation["residents"]["zhang"]
    gm_user, mediator = users["gm"], users["mediator"]
    secrets = (NEIGHBOUR_PHONE, mediation["phones"]["zhang"])
    pages: dict[str, str] = {}  # step → the dispute page's HTML once loaded

    def keep(step: str, pg) -> None:
        pages[step] = pg.content()

    # --- 1. the grid member registers the dispute on a phone ------------------------------------------------
    gm = new_page("grid-member", viewport=PHONE)
    login(gm, live_server, "gm", PASSWORD)
    gm.get_by_test_id("nav-disputes").tap()
    expect(gm).to_have_url(re.compile(re.escape(reverse("disputes:queue")) + "$"))
    gm.get_by_test_id("register-dispute").tap()
    expect(gm).to_have_url(re.compile(re.escape(reverse("disputes:new")) + "$"))
    form = gm.get_by_test_id("register-form")
    form.locator("select[name=type]").select_option("neighbourhood")
    form.locator("select[name=source]").select_option("screening")
    form.locator("select[name=grid]").select_option(mediation["g1"].code)
    form.locator("textarea[name=description]").fill(DESCRIPTION)
    form.locator("input[name=address]").fill("人民路1号1幢1单元101室")

    # party 1: 张三, found in the registry by the row's live search (the option shows his phone masked)
    first = gm.get_by_test_id("party-parties-0")
    expect(first.locator("select[name='parties-0-role']")).to_have_value("applicant")
    first.locator("input[name='parties-0-resident_q']").press_sequentially("张三")
    resident = first.locator("select[name='parties-0-resident']")
    expect(resident).to_have_value(str(zhang.pk))
    expect(resident.locator("option:checked")).to_contain_text("张三")
    expect(resident.locator("option:checked")).to_contain_text("*******" + mediation["phones"]["zhang"][-4:])
    expect(resident.locator("option")).to_have_count(2)  # "not from the registry" and 张三, not 李四

    # party 2: a neighbour who is not in the registry, with a phone
    second = gm.get_by_test_id("party-parties-1")
    expect(second.locator("select[name='parties-1-role']")).to_have_value("respondent")
    second.locator("summary").tap()
    second.locator("input[name='parties-1-name']").fill(NEIGHBOUR)
    second.locator("input[name='parties-1-phone']").fill(NEIGHBOUR_PHONE)
    gm.get_by_test_id("submit-dispute").tap()

    expect(gm).to_have_url(re.compile(r"/disputes/\d+/$"))
    _state(gm, State.REGISTERED)
    dispute = Dispute.objects.get(description=DESCRIPTION)
    dispute_url = live_server.url + reverse("disputes:detail", args=[dispute.pk])
    expect(gm).to_have_url(dispute_url)
    expect(gm.get_by_test_id("dispute-number")).to_contain_text(dispute.number)
    expect(gm.get_by_test_id("grade")).to_have_attribute("data-grade", Grade.GENERAL)
    parties = gm.get_by_test_id("parties").get_by_test_id("party")
    expect(parties).to_have_count(2)
    expect(parties.nth(0)).to_contain_text("张三")
    expect(parties.nth(0).get_by_test_id("party-resident-link")).to_have_attribute(
        "href", reverse("residents:detail", args=[zhang.pk]))
    expect(parties.nth(0).get_by_test_id("party-phone")).to_have_text("*******" + mediation["phones"]["zhang"][-4:])
    expect(parties.nth(1)).to_contain_text(NEIGHBOUR)
    expect(parties.nth(1).get_by_test_id("party-phone")).to_have_text("136****3333")
    assert _timeline(gm) == ["step-register"]
    keep("registered", gm)
    assert (dispute.type, dispute.source, dispute.grid, dispute.created_by) == (
        "neighbourhood", "screening", mediation["g1"], gm_user)
    stored = {p.name or p.resident.name: p for p in dispute.parties.select_related("resident")}
    assert stored["张三"].resident == zhang and stored["张三"].role == "applicant"
    assert stored[NEIGHBOUR].role == "respondent" and stored[NEIGHBOUR].resident is None
    assert NEIGHBOUR_PHONE not in stored[NEIGHBOUR].phone  # kept encrypted

    # --- 2. the community's mediator: queue, assessment, assignment, session, agreement -------------------
    med = new_page("mediator", viewport=DESKTOP)
    login(med, live_server, "med", PASSWORD)
    med.get_by_test_id("nav-disputes").click()
    expect(med).to_have_url(re.compile(re.escape(reverse("disputes:queue")) + "$"))
    waiting = med.get_by_test_id("waiting").locator(f'li[data-dispute="{dispute.number}"]')
    expect(waiting).to_have_attribute("data-state", State.REGISTERED)
    waiting.get_by_role("link", name=dispute.number).click()
    expect(med).to_have_url(dispute_url)
    _state(med, State.REGISTERED)

    assess = _action(med, Action.ASSESS)
    assess.locator("select[name=grade]").select_option(Grade.MAJOR)
    assess.locator("textarea[name=risk_note]").fill("邻里矛盾已持续两个月，情绪激动，有升级风险")
    _submit(med, Action.ASSESS, State.ASSESSED)
    expect(med.get_by_test_id("grade")).to_have_attribute("data-grade", Grade.MAJOR)
    expect(med.get_by_test_id("grade")).to_have_text(zh(Grade.MAJOR.label))
    expect(med.get_by_test_id("summary")).to_contain_text("有升级风险")

    assign = _action(med, Action.ASSIGN)
    assign.locator("select[name=mediator]").select_option(str(mediator.pk))
    assign.locator("input[name=committee]").fill("第一社区人民调解委员会")
    _submit(med, Action.ASSIGN, State.MEDIATING)
    expect(med.get_by_test_id("mediator")).to_have_text(str(mediator))

    session = _action(med, Action.SESSION)
    session.locator("input[name=held_at]").fill(timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    session.locator("input[name=place]").fill("社区调解室")
    session.locator("textarea[name=participants]").fill("张三、赵六、调解员甲")
    session.locator("textarea[name=record]").fill("双方陈述事实，赵六承认漏水，同意维修并赔偿")
    session.locator("select[name=outcome]").select_option("agreed")
    _submit(med, Action.SESSION, State.MEDIATING)
    sessions = med.get_by_test_id("sessions").get_by_test_id("session")
    expect(sessions).to_have_count(1)
    expect(sessions).to_contain_text("社区调解室")

    agree = _action(med, Action.AGREE, next_step=False)
    agree.locator("textarea[name=facts]").fill("赵六家卫生间漏水致张三家天花板受损")
    agree.locator("textarea[name=terms]").fill("赵六于一周内修复卫生间防水\n赵六赔偿张三修缮费用800元")
    _submit(med, Action.AGREE, State.AGREED)
    agreement = med.get_by_test_id("agreement")
    terms = agreement.get_by_test_id("terms").locator("li")
    expect(terms).to_have_count(2)
    expect(terms.nth(0)).to_have_text("赵六于一周内修复卫生间防水")
    expect(terms.nth(1)).to_have_text("赵六赔偿张三修缮费用800元")
    expect(agreement.get_by_test_id("agreement-pdf")).to_have_attribute(
        "href", reverse("disputes:agreement_pdf", args=[dispute.pk]))
    keep("agreed", med)

    # the agreement, downloaded through the page: a Word document (a zip)
    with med.expect_download() as download_info:
        agreement.get_by_test_id("agreement-docx").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".docx") and dispute.number in download.suggested_filename
    with open(download.path(), "rb") as fh:
        docx = fh.read()
    assert len(docx) > 1000 and docx[:2] == b"PK"
    assert AuditEntry.objects.filter(action="dispute.agreement_download", actor=mediator,
                                     object_id=str(dispute.pk)).count() == 1

    check = _action(med, Action.CHECK_FULFILMENT)
    check.locator("input[name=fulfilled][value=yes]").check()
    check.locator("textarea[name=note]").fill("防水已修复，赔偿款已当面支付")
    _submit(med, Action.CHECK_FULFILMENT, State.FULFILLED)

    # --- 3. the grid member visits the parties again, on the phone ---------------------------------------
    gm.get_by_test_id("nav-disputes").tap()
    follow = gm.get_by_test_id("follow_up").locator(f'li[data-dispute="{dispute.number}"]')
    expect(follow).to_have_attribute("data-state", State.FULFILLED)
    follow.get_by_role("link", name=dispute.number).tap()
    expect(gm).to_have_url(dispute_url)
    _state(gm, State.FULFILLED)
    visit = _action(gm, Action.FOLLOW_UP)
    visit.locator("textarea[name=content]").fill("回访双方，关系缓和，未再发生争执")
    visit.locator("input[name=satisfied][value=yes]").check()
    expect(visit.locator("input[name=stable][value=yes]")).to_be_checked()
    _submit(gm, Action.FOLLOW_UP, State.FULFILLED)
    expect(gm.get_by_test_id("follow-ups").get_by_test_id("follow-up")).to_contain_text("关系缓和")
    expect(gm.locator(f"#action-{Action.CLOSE}")).to_have_count(0)  # closing is the mediator's

    # --- 4. the mediator closes it --------------------------------------------------------------------------
    med.reload()
    _state(med, State.FULFILLED)
    _action(med, Action.CLOSE).locator("textarea[name=note]").fill("协议履行完毕，回访稳定，结案")
    _submit(med, Action.CLOSE, State.CLOSED)
    left = med.get_by_test_id("actions").locator("form").evaluate_all("fs => fs.map(f => f.dataset.testid)")
    assert left == [f"action-{Action.COMMENT}"]  # a closed dispute may still take a comment, nothing else
    assert _timeline(med) == [f"step-{a}" for a in STEPS]
    steps = med.get_by_test_id("timeline").locator(":scope > li")
    for i, action in enumerate(STEPS):
        expect(steps.nth(i)).to_contain_text(zh(action.label))
    expect(med.get_by_test_id(f"step-{Action.REGISTER}")).to_contain_text(str(gm_user))
    expect(med.get_by_test_id(f"step-{Action.FOLLOW_UP}")).to_contain_text(str(gm_user))
    expect(med.get_by_test_id(f"step-{Action.CLOSE}")).to_contain_text(str(mediator))
    keep("closed", med)
    gm.reload()
    _state(gm, State.CLOSED)
    keep("closed-gm", gm)

    # --- the database -----------------------------------------------------------------------------------------
    dispute.refresh_from_db()
    assert (dispute.state, dispute.grade, dispute.mediator, dispute.fulfilled) == (
        State.CLOSED, Grade.MAJOR, mediator, True)
    assert dispute.outcome == "resolved" and dispute.session_count == 1 and dispute.follow_up_count == 1
    assert dispute.agreement.terms == ["赵六于一周内修复卫生间防水", "赵六赔偿张三修缮费用800元"]
    assert FollowUp.objects.get(dispute=dispute).visitor == gm_user
    stamps = [dispute.registered_at, dispute.agreed_at, dispute.closed_at]
    assert None not in stamps and stamps == sorted(stamps)

    # --- no page carried a party's phone number in plain text ------------------------------------------------
    assert len(pages) == 4
    for step, html in pages.items():
        for secret in secrets:
            assert secret not in html, f"{secret} on the {step} page"
    assert js_errors == []
