"""The case page: who sees it, which action forms it offers, and every main action posted through it."""

import io
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from gridgov.cases import services
from gridgov.cases.choices import State
from gridgov.cases.models import Attachment, Case, Extension, Step

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def as_user():
    """as_user(user) → a test client logged in as that user, reading the English page."""

    def login(user):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    return login


@pytest.fixture
def case_in(world):
    """case_in(state) → a T0101 case in grid g1 reported by the grid member, brought to `state` by the services."""
    u = world["users"]

    def bring(state: str, **report):
        report = {"category": "T0101", "description": "垃圾堆放", "lon": 120.605, "lat": 31.305, **report}
        case, _ = services.case_report(by=report.pop("by", u["gm"]), **report)
        steps = [
            lambda c: services.case_register(case_id=c.pk, by=u["dispatcher"]),
            lambda c: services.case_dispatch(case_id=c.pk, by=u["dispatcher"], lead=world["urban"],
                                             assist=[world["water"]]),
            lambda c: services.case_accept(case_id=c.pk, by=u["handler"]),
            lambda c: services.case_report_back(case_id=c.pk, by=u["handler"], result="已清理"),
            lambda c: services.case_verify(case_id=c.pk, by=u["gm"], ok=True),
            lambda c: services.case_close(case_id=c.pk, by=u["dispatcher"]),
        ]
        for step in steps:
            if case.state == state:
                break
            case = step(case)
        assert case.state == state
        return Case.objects.get(pk=case.pk)

    return bring


def png(name="result.png", color=(20, 120, 200)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def act(client, case, action, **data):
    data.setdefault("version", Case.objects.get(pk=case.pk).version)
    return client.post(f"/cases/{case.pk}/act/{action}/", data)


def shown_actions(response) -> set[str]:
    return set(re.findall(r'data-testid="action-([a-z_]+)"', response.content.decode()))


def test_the_page_needs_a_login(client, case_in):
    case = case_in("reported")
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_page_renders_for_each_role_that_can_see_the_case_and_404_for_others(world, case_in, as_user):
    u = world["users"]
    case = case_in("reported")
    for name in ("gm", "dispatcher", "community_dispatcher", "district_dispatcher", "leader", "admin"):
        assert as_user(u[name]).get(f"/cases/{case.pk}/").status_code == 200, name
    for name in ("other_dispatcher", "gm3", "handler", "resident"):
        assert as_user(u[name]).get(f"/cases/{case.pk}/").status_code == 404, name
    dispatched = case_in("dispatched")
    for name in ("handler", "water_handler"):
        assert as_user(u[name]).get(f"/cases/{dispatched.pk}/").status_code == 200, name
    assert as_user(u["police_handler"]).get(f"/cases/{dispatched.pk}/").status_code == 404


def test_header_shows_state_due_times_reporter_with_masked_phone_map_and_timeline(world, case_in, as_user):
    u = world["users"]
    case, _ = services.case_report(by=u["dispatcher"], category="T0101", description="热线：路边垃圾",
                                   lon=120.6051, lat=31.3052, reporter_name="李先生", reporter_phone="13912345678")
    page = as_user(u["dispatcher"]).get(f"/cases/{case.pk}/")
    html = page.content.decode()
    assert case.number in html and "暴露垃圾" in html
    assert re.search(r'data-testid="case-state">\s*Reported\s*<', html)
    assert "李先生" in html and "139****5678" in html and "13912345678" not in html
    assert 'data-lon="120.6051000"' in html and 'data-lat="31.3052000"' in html
    assert 'id="case-grid-outline"' in html  # the grid outline drawn under the point
    assert 'data-testid="step-report"' in html
    local = timezone.localtime(case.reported_at).strftime("%Y-%m-%d %H:%M")
    assert local in html  # times in the configured zone
    assert 'data-testid="overdue-due"' not in html
    Case.objects.filter(pk=case.pk).update(register_due=timezone.now() - timedelta(hours=1))
    html = as_user(u["dispatcher"]).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="overdue-due"' in html


def test_action_forms_match_role_and_state(world, case_in, as_user):
    u = world["users"]
    reported = case_in("reported")
    assert {"register", "reject", "comment"} <= shown_actions(as_user(u["dispatcher"]).get(f"/cases/{reported.pk}/"))
    assert "accept" not in shown_actions(as_user(u["dispatcher"]).get(f"/cases/{reported.pk}/"))
    assert shown_actions(as_user(u["gm"]).get(f"/cases/{reported.pk}/")) == {"comment"}
    assert shown_actions(as_user(u["leader"]).get(f"/cases/{reported.pk}/")) == {"supervise", "comment"}

    dispatched = case_in("dispatched")
    handler_actions = shown_actions(as_user(u["handler"]).get(f"/cases/{dispatched.pk}/"))
    assert {"accept", "return", "request_extension"} <= handler_actions and "register" not in handler_actions
    # the assisting department accepts its part but cannot return the case or ask for more time
    water_actions = shown_actions(as_user(u["water_handler"]).get(f"/cases/{dispatched.pk}/"))
    assert "accept" in water_actions and not {"return", "request_extension"} & water_actions
    services.case_accept(case_id=dispatched.pk, by=u["water_handler"])
    assert "accept" not in shown_actions(as_user(u["water_handler"]).get(f"/cases/{dispatched.pk}/"))
    assert "accept" in shown_actions(as_user(u["handler"]).get(f"/cases/{dispatched.pk}/"))
    dispatcher_actions = shown_actions(as_user(u["dispatcher"]).get(f"/cases/{dispatched.pk}/"))
    assert "accept" not in dispatcher_actions and "summon" in dispatcher_actions
    # 吹哨报到 is a street-level tool: not offered to the community centre
    assert "summon" not in shown_actions(as_user(u["community_dispatcher"]).get(f"/cases/{dispatched.pk}/"))

    closed = case_in("closed")
    assert shown_actions(as_user(u["dispatcher"]).get(f"/cases/{closed.pk}/")) == {"reopen"}
    assert shown_actions(as_user(u["handler"]).get(f"/cases/{closed.pk}/")) == set()


def test_the_whole_loop_through_the_page(world, case_in, as_user):
    u = world["users"]
    case = case_in("reported")
    dispatcher, handler, gm = as_user(u["dispatcher"]), as_user(u["handler"]), as_user(u["gm"])

    response = act(dispatcher, case, "register")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert Case.objects.get(pk=case.pk).state == State.REGISTERED
    page = dispatcher.get(f"/cases/{case.pk}/")
    assert "Register: done." in page.content.decode()

    # the dispatch form suggests the category's default department
    html = page.content.decode()
    lead = re.search(r'<select name="lead"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.search(rf'<option value="{world["urban"].pk}" selected>', lead)
    assert "Suggested by the category: 城管" in html
    response = act(dispatcher, case, "dispatch", lead=world["urban"].pk, assist=[world["water"].pk],
                   instructions="请尽快处理")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == world["urban"]
    assert sorted(case.tasks.values_list("department__code", "role")) == [("URBAN", "lead"), ("WATER", "assist")]

    assert act(handler, case, "accept").status_code == 302
    assert Case.objects.get(pk=case.pk).state == State.IN_PROGRESS

    response = handler.post(f"/cases/{case.pk}/act/report_back/", {
        "version": Case.objects.get(pk=case.pk).version, "result": "已清理完毕",
        "photos": [png("a.png"), png("b.png", (200, 20, 20))]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.HANDLED
    evidence = list(case.attachments.filter(kind=Attachment.Kind.EVIDENCE))
    assert len(evidence) == 2 and all(a.content_type == "image/png" for a in evidence)
    html = gm.get(f"/cases/{case.pk}/").content.decode()
    assert f'/cases/attachments/{evidence[0].pk}/' in html and 'data-testid="photos"' in html

    assert act(gm, case, "verify_ok", note="现场已清理", photos=[png("v.png")]).status_code == 302
    case.refresh_from_db()
    assert case.state == State.VERIFIED and case.attachments.filter(kind=Attachment.Kind.VERIFY).count() == 1

    assert act(dispatcher, case, "close").status_code == 302
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closed_at is not None
    assert [s.action for s in case.steps.all()] == ["report", "register", "dispatch", "accept", "report_back",
                                                   "verify_ok", "close"]


def test_attachment_is_served_only_within_scope(world, case_in, as_user, client):
    u = world["users"]
    case = case_in("in_progress")
    services.case_report_back(case_id=case.pk, by=u["handler"], result="done", photos=[png()])
    attachment = Attachment.objects.get(case=case)
    response = as_user(u["gm"]).get(f"/cases/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).size == (40, 30)
    for name in ("police_handler", "other_dispatcher", "gm3", "resident"):
        assert as_user(u[name]).get(f"/cases/attachments/{attachment.pk}/").status_code == 404, name
    assert as_user(u["gm"]).get(f"/cases/attachments/{attachment.pk + 999}/").status_code == 404
    assert client.get(f"/cases/attachments/{attachment.pk}/").status_code == 302  # anonymous: to the login


def test_wrong_state_post_shows_the_error_and_changes_nothing(world, case_in, as_user):
    case = case_in("reported")
    steps = Step.objects.count()
    response = act(as_user(world["users"]["dispatcher"]), case, "close")
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="action-error"' in html and "This cannot be done now: the case is reported." in html
    assert "Possible now:" in html and "Register" in html
    after = Case.objects.get(pk=case.pk)
    assert after.state == State.REPORTED and after.version == case.version and Step.objects.count() == steps


def test_stale_version_shows_the_reload_message(world, case_in, as_user):
    u = world["users"]
    case = case_in("reported")
    seen = case.version
    services.case_comment(case_id=case.pk, by=u["gm"], note="补充：垃圾越来越多")  # someone acts meanwhile
    response = act(as_user(u["dispatcher"]), case, "register", version=seen)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="stale-version"' in html and "The case was changed meanwhile; reload." in html
    now = Case.objects.get(pk=case.pk)
    assert now.state == State.REPORTED and now.version == seen + 1
    # the page is redrawn as the case is now: its forms carry the current version
    assert f'name="version" value="{now.version}"' in html and f'name="version" value="{seen}"' not in html


def test_missing_reason_and_bad_upload_are_422_and_write_nothing(world, case_in, as_user):
    u = world["users"]
    case = case_in("reported")
    steps = Step.objects.count()
    response = act(as_user(u["dispatcher"]), case, "reject", reason="  ")
    assert response.status_code == 422
    assert 'data-testid="field-error-reason"' in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == State.REPORTED

    progress = case_in("in_progress")
    steps = Step.objects.count()
    fake = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    response = act(as_user(u["handler"]), progress, "report_back", result="done", photos=[fake])
    assert response.status_code == 422
    assert "not a JPEG, PNG or WebP image" in response.content.decode()
    assert Case.objects.get(pk=progress.pk).state == State.IN_PROGRESS
    assert Step.objects.count() == steps and not Attachment.objects.filter(case=progress).exists()

    response = act(as_user(u["handler"]), progress, "request_extension", amount=0, unit="days", reason="x")
    assert response.status_code == 422 and not Extension.objects.exists()


def test_other_department_and_unknown_actions_get_404(world, case_in, as_user):
    u = world["users"]
    case = case_in("dispatched")
    assert act(as_user(u["police_handler"]), case, "accept").status_code == 404
    assert act(as_user(u["handler"]), case, "fly").status_code == 404
    assert as_user(u["handler"]).get(f"/cases/{case.pk}/act/accept/").status_code == 405
    assert Case.objects.get(pk=case.pk).state == State.DISPATCHED


def test_wrong_role_is_403_with_the_message(world, case_in, as_user):
    case = case_in("reported")
    response = act(as_user(world["users"]["gm"]), case, "register")
    assert response.status_code == 403 and 'data-testid="action-error"' in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == State.REPORTED


def test_dispatcher_merges_a_duplicate_from_the_panel(world, case_in, as_user):
    u = world["users"]
    first = case_in("reported")
    second = case_in("reported", description="同一处垃圾", lon=120.6051, lat=31.3051)
    dispatcher = as_user(u["dispatcher"])
    html = dispatcher.get(f"/cases/{second.pk}/").content.decode()
    assert f'data-testid="duplicate-{first.pk}"' in html and f'data-testid="merge-into-{first.pk}"' in html
    assert 'data-testid="duplicates"' not in as_user(u["gm"]).get(f"/cases/{second.pk}/").content.decode()
    response = act(dispatcher, second, "merge", into=first.pk)
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.state == State.MERGED and second.merged_into == first


def test_extension_request_and_approval(world, case_in, as_user):
    u = world["users"]
    case = case_in("in_progress")
    due = case.handle_due
    assert act(as_user(u["handler"]), case, "request_extension", amount=2, unit="days",
               reason="材料未到").status_code == 302
    html = as_user(u["dispatcher"]).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="pending-extension"' in html and "材料未到" in html
    assert 'data-testid="action-approve_extension"' in html and 'data-testid="action-reject_extension"' in html
    assert "request_extension" not in shown_actions(as_user(u["handler"]).get(f"/cases/{case.pk}/"))
    assert act(as_user(u["dispatcher"]), case, "approve_extension").status_code == 302
    case.refresh_from_db()
    assert case.extension_count == 1 and case.handle_due > due


def test_reporter_rates_a_closed_case(world, case_in, as_user):
    u = world["users"]
    case = case_in("closed", by=u["resident"])
    resident = as_user(u["resident"])
    assert "rate" in shown_actions(resident.get(f"/cases/{case.pk}/"))
    assert "rate" not in shown_actions(as_user(u["gm"]).get(f"/cases/{case.pk}/"))  # not the reporter
    assert act(resident, case, "rate", satisfaction=6).status_code == 422
    assert act(resident, case, "rate", satisfaction=4, comment="及时").status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == 4 and case.satisfaction_comment == "及时"
    assert "rate" not in shown_actions(resident.get(f"/cases/{case.pk}/"))  # once only


def test_return_suspend_resume_and_summon(world, case_in, as_user):
    u = world["users"]
    case = case_in("in_progress")
    dispatcher = as_user(u["dispatcher"])
    assert act(dispatcher, case, "suspend", reason="资金未到位").status_code == 302
    assert Case.objects.get(pk=case.pk).state == State.SUSPENDED
    assert act(dispatcher, case, "resume").status_code == 302
    assert act(dispatcher, case, "summon", departments=[world["police"].pk], amount=1, unit="days",
               instructions="联合执法").status_code == 302
    assert case.tasks.filter(department=world["police"], role="summoned").exists()
    assert act(as_user(u["handler"]), case, "return", reason="不属于本部门").status_code == 302
    case.refresh_from_db()
    assert case.state == State.REGISTERED and case.return_count == 1


def test_failed_verification_sends_the_case_back_for_rework(world, case_in, as_user):
    u = world["users"]
    case = case_in("handled")
    gm = as_user(u["gm"])
    assert {"verify_ok", "verify_fail"} <= shown_actions(gm.get(f"/cases/{case.pk}/"))
    response = act(gm, case, "verify_fail", note="")
    assert response.status_code == 422 and Case.objects.get(pk=case.pk).state == State.HANDLED
    assert act(gm, case, "verify_fail", note="垃圾还在", photos=[png()]).status_code == 302
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and case.rework_count == 1
    assert case.attachments.filter(kind=Attachment.Kind.VERIFY).count() == 1
