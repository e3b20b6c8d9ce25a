"""The public API (no account): report, follow by tracking code, confirm and rate — as the public pages do."""

import io
import json

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from gridgov.cases import services
from gridgov.cases.choices import Source, State
from gridgov.cases.models import Attachment, Case, Step
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
IP = "203.0.113.7"
BODY = {"category": "T0101", "description": "路边垃圾堆放三天了", "lon": 120.605, "lat": 31.305,
        "address": "人民路 12 号旁", "reporter_name": "李四", "reporter_phone": PHONE}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def jpeg(name="photo.jpg"):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def upload(client, path, data, ip=IP):
    return client.post(f"/api/v1/public{path}", data, REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    # a plain HTTP client: no cookies, no CSRF token, no credentials
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")


def post(client, path, body, ip=IP):
    return client.post(f"/api/v1/public{path}", json.dumps(body), content_type="application/json", REMOTE_ADDR=ip)


def get(client, path, ip=IP):
    return client.get(f"/api/v1/public{path}", REMOTE_ADDR=ip)


def handled_case(world):
    u = world["users"]
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305,
                                   reporter_name="李四", reporter_phone=PHONE, ip="198.51.100.1")
    services.case_register(case_id=case.pk, by=u["dispatcher"], note="内部备注：联系李四")
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"])
    services.case_accept(case_id=case.pk, by=u["handler"])
    return services.case_report_back(case_id=case.pk, by=u["handler"], result="已清理完毕")


# --- report ---------------------------------------------------------------------------------------------------

def test_report_without_an_account_answers_201_with_the_tracking_code(client, world):
    response = post(client, "/reports", BODY)
    assert response.status_code == 201, response.content
    data = response.json()
    case = Case.objects.get(tracking_code=data["tracking_code"])
    assert case.reporter is None and case.source == Source.PUBLIC and case.reporter_ip_hash
    assert case.state == State.REPORTED and data["state"] == State.REPORTED and data["state_text"]
    assert case.address == "人民路 12 号旁" and case.reporter_name == "李四"
    assert PHONE not in json.dumps(data) and "李四" not in json.dumps(data, ensure_ascii=False)
    assert AuditEntry.objects.filter(action="case.report").exists()


@pytest.mark.parametrize("change, field", [
    ({"description": "   "}, "description"),
    ({"category": "NOPE"}, "category"),
    ({"lon": 999}, "lon"),
    ({"reporter_phone": "12"}, "reporter_phone"),
    ({"lon": 121.5, "lat": 31.2}, "location"),  # outside the area served
])
def test_bad_report_is_422_and_writes_nothing(client, world, change, field):
    response = post(client, "/reports", BODY | change)
    assert response.status_code == 422, response.content
    body = response.json()
    assert {"code", "message", "details"} <= set(body)
    assert field in json.dumps(body["details"])
    assert not Case.objects.exists() and not Step.objects.exists()


def test_outside_the_area_is_outside_jurisdiction(client, world):
    response = post(client, "/reports", BODY | {"lon": 121.5, "lat": 31.2})
    assert response.status_code == 422 and response.json()["code"] == "outside_jurisdiction"


def test_too_many_reports_from_one_address_is_429(client, world, settings):
    settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR = 2
    assert post(client, "/reports", BODY).status_code == 201
    assert post(client, "/reports", BODY).status_code == 201
    response = post(client, "/reports", BODY)
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert response.json()["code"] == "rate_limited"
    assert Case.objects.count() == 2
    assert post(client, "/reports", BODY, ip="203.0.113.8").status_code == 201  # another address


def test_report_with_photos_multipart(client, world):
    data = {k: str(v) for k, v in BODY.items()} | {"extra": "{}", "photos": [jpeg(), jpeg("b.jpg")]}
    response = upload(client, "/reports/upload", data)
    assert response.status_code == 201, response.content
    assert response.json()["photo_count"] == 2
    case = Case.objects.get(tracking_code=response.json()["tracking_code"])
    assert case.attachments.filter(kind=Attachment.Kind.REPORT).count() == 2


def test_too_many_or_bad_photos_are_422_and_write_nothing(client, world):
    base = {k: str(v) for k, v in BODY.items()}
    response = upload(client, "/reports/upload", base | {"photos": [jpeg(f"{i}.jpg") for i in range(7)]})
    assert response.status_code == 422 and "photos" in json.dumps(response.json()["details"])
    text = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    assert upload(client, "/reports/upload", base | {"photos": [text]}).status_code == 422
    assert not Case.objects.exists() and not Attachment.objects.exists()


# --- track ----------------------------------------------------------------------------------------------------

def test_tracking_shows_the_public_page_and_no_personal_data_or_staff_names(client, world):
    u = world["users"]
    for name, shown in (("dispatcher", "王调度员"), ("handler", "赵处置员")):
        u[name].display_name = shown
        u[name].save()
    case = handled_case(world)
    response = get(client, f"/reports/{case.tracking_code.lower()[:5]}-{case.tracking_code[5:]}")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["tracking_code"] == case.tracking_code and data["state"] == State.HANDLED
    assert data["state_label"] == "Handled" and data["can_verify"] and not data["can_rate"]
    assert data["steps"] and all(set(s) == {"action", "action_label", "at", "department"} for s in data["steps"])
    text = json.dumps(data, ensure_ascii=False)
    assert "城管" in text  # the department is shown, the people are not
    for secret in (PHONE, "5678", "李四", "王调度员", "赵处置员", "内部备注", "已清理完毕"):
        assert secret not in text
    assert set(data) == {"tracking_code", "number", "category", "reported_at", "state", "state_label",
                         "state_text", "merged_state", "merged_state_label", "merged_state_text", "steps",
                         "photo_count", "rated", "can_verify", "can_rate", "version"}


def test_unknown_code_is_404_and_guessing_is_slowed_down(client, world, settings):
    settings.GRIDGOV_PUBLIC_TRACK_MISSES_PER_HOUR = 3
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    for guess in ["AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC"]:
        response = get(client, f"/reports/{guess}", ip="192.0.2.50")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = get(client, f"/reports/{case.tracking_code}", ip="192.0.2.50")
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert post(client, f"/reports/{case.tracking_code}/rate", {"satisfaction": 5}, ip="192.0.2.50").status_code == 429
    assert get(client, f"/reports/{case.tracking_code}", ip="192.0.2.51").status_code == 200


# --- verify and rate ------------------------------------------------------------------------------------------

def test_confirm_then_rate_once(client, world):
    case = handled_case(world)
    response = post(client, f"/reports/{case.tracking_code}/verify", {"ok": True, "version": case.version})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == State.VERIFIED and response.json()["can_rate"]
    case.refresh_from_db()
    assert case.state == State.VERIFIED and case.verified_by_reporter

    response = post(client, f"/reports/{case.tracking_code}/rate", {"satisfaction": 4, "comment": "很快"})
    assert response.status_code == 200 and response.json()["rated"] and not response.json()["can_rate"]
    case.refresh_from_db()
    assert (case.satisfaction, case.satisfaction_comment) == (4, "很快")

    again = post(client, f"/reports/{case.tracking_code}/rate", {"satisfaction": 1})
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    case.refresh_from_db()
    assert case.satisfaction == 4 and case.steps.filter(action="rate").count() == 1


def test_not_solved_needs_a_note_then_goes_back_to_the_department(client, world):
    case = handled_case(world)
    response = post(client, f"/reports/{case.tracking_code}/verify", {"ok": False, "note": "  "})
    assert response.status_code == 422 and response.json()["code"] == "reason_required"
    case.refresh_from_db()
    assert case.state == State.HANDLED
    response = post(client, f"/reports/{case.tracking_code}/verify", {"ok": False, "note": "垃圾还在"})
    assert response.status_code == 200 and response.json()["state"] == State.IN_PROGRESS


def test_not_solved_with_photos_multipart(client, world):
    case = handled_case(world)
    url = f"/reports/{case.tracking_code}/verify/upload"
    too_many = upload(client, url, {"ok": "false", "note": "还在", "photos": [jpeg(f"{i}.jpg") for i in range(4)]})
    assert too_many.status_code == 422
    case.refresh_from_db()
    assert case.state == State.HANDLED
    response = upload(client, url, {"ok": "false", "note": "垃圾还在", "photos": [jpeg()]})
    assert response.status_code == 200, response.content
    assert case.attachments.filter(kind=Attachment.Kind.VERIFY).count() == 1


def test_wrong_state_stale_version_bad_input_and_unknown_code_change_nothing(client, world):
    reported, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    response = post(client, f"/reports/{reported.tracking_code}/verify", {"ok": True})
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert post(client, f"/reports/{reported.tracking_code}/rate", {"satisfaction": 5}).status_code == 409

    case = handled_case(world)
    stale = post(client, f"/reports/{case.tracking_code}/verify", {"ok": True, "version": case.version - 1})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert post(client, f"/reports/{case.tracking_code}/verify", {"note": "x"}).status_code == 422
    assert post(client, f"/reports/{case.tracking_code}/rate", {"satisfaction": 9}).status_code == 422
    assert post(client, "/reports/ZZZZZZZZZZ/verify", {"ok": True}).status_code == 404
    assert post(client, "/reports/ZZZZZZZZZZ/rate", {"satisfaction": 5}).status_code == 404
    reported.refresh_from_db()
    case.refresh_from_db()
    assert (reported.state, reported.version, reported.satisfaction) == (State.REPORTED, 1, None)
    assert case.state == State.HANDLED and case.satisfaction is None


def test_openapi_documents_the_errors_and_no_security(client, world):
    schema = Client().get("/api/v1/openapi.json").json()
    paths = {p: ops for p, ops in schema["paths"].items() if p.startswith("/api/v1/public/")}
    assert set(paths) == {"/api/v1/public/reports", "/api/v1/public/reports/upload",
                          "/api/v1/public/reports/{tracking_code}", "/api/v1/public/reports/{tracking_code}/verify",
                          "/api/v1/public/reports/{tracking_code}/verify/upload",
                          "/api/v1/public/reports/{tracking_code}/rate"}
    for ops in paths.values():
        for op in ops.values():
            assert not op.get("security")
            assert {"422", "429"} <= set(map(str, op["responses"]))
            assert "401" not in set(map(str, op["responses"]))
