"""The residents' public pages: report without an account, get a tracking code, follow, confirm and rate."""

import io
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from gridgov.cases import services, views_public
from gridgov.cases.choices import Source, State
from gridgov.cases.models import Attachment, Case, Step

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
OUTSIDE = "This place is outside the area this service covers"


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def jpeg(name="photo.jpg", size=(64, 48)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def report(client, ip="203.0.113.7", **overrides):
    data = {"category": "T0101", "description": "路边垃圾堆放三天了", "lon": "120.605", "lat": "31.305",
            "coord_sys": "wgs84", "address": "人民路 12 号旁", "reporter_name": "李四",
            "reporter_phone": PHONE, "website": ""}
    data.update(overrides)
    return client.post(reverse("public:report"), {k: v for k, v in data.items() if v is not None}, REMOTE_ADDR=ip)


def handled_case(world, **kwargs):
    """A publicly reported case taken through register → dispatch → accept → report back."""
    u = world["users"]
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305,
                                   reporter_phone=PHONE, ip="198.51.100.1", **kwargs)
    services.case_register(case_id=case.pk, by=u["dispatcher"])
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"])
    services.case_accept(case_id=case.pk, by=u["handler"])
    return services.case_report_back(case_id=case.pk, by=u["handler"], result="已清理完毕")


# --- the report page -----------------------------------------------------------------------------------------

def test_report_page_offers_active_leaf_categories_without_login(client, world):
    world["category"].__class__.objects.filter(code="T0102").update(is_active=False)
    response = client.get(reverse("public:report"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="T0101"' in html and "暴露垃圾" in html
    assert 'value="T0102"' not in html  # inactive
    assert 'value="T01"' not in html  # a main class is a group, not a choice
    assert 'name="website"' in html  # the honeypot
    assert 'data-testid="report-map"' in html and 'name="lon"' in html and 'name="coord_sys"' in html


def test_anonymous_report_creates_a_public_case_and_shows_its_tracking_code(client, world):
    response = report(client)
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("public:reported", args=[case.tracking_code])
    assert case.source == Source.PUBLIC and case.reporter is None and case.state == State.REPORTED
    assert case.grid == world["g1"] and case.path == world["g1"].path
    assert case.reporter_ip_hash and PHONE not in case.reporter_phone  # stored encrypted
    assert len(case.tracking_code) == 10

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert case.tracking_code in html and "Keep this code" in html
    assert reverse("public:track", args=[case.tracking_code]) in html


def test_gcj02_input_is_converted_and_located(client, world):
    from gridgov.geo.coords import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(120.615, 31.305)
    assert report(client, lon=f"{lon:.7f}", lat=f"{lat:.7f}", coord_sys="gcj02").status_code == 302
    case = Case.objects.get()
    assert case.grid == world["g2"] and abs(case.lon - 120.615) < 1e-5


def test_a_place_outside_every_grid_is_refused_in_plain_words(client, world):
    response = report(client, lon="121.500", lat="31.200")
    assert response.status_code == 422
    assert OUTSIDE in response.content.decode()
    assert not Case.objects.exists()


def test_a_report_without_a_place_is_refused(client, world):
    response = report(client, lon="", lat="")
    assert response.status_code == 422
    assert "Choose the place on the map" in response.content.decode()
    assert not Case.objects.exists()


def test_too_many_reports_from_one_address_get_429(client, world, settings):
    settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR = 2
    assert report(client, ip="192.0.2.10").status_code == 302
    assert report(client, ip="192.0.2.10").status_code == 302
    response = report(client, ip="192.0.2.10")
    assert response.status_code == 429
    assert "several reports in the last hour" in response.content.decode()
    assert Case.objects.count() == 2
    assert report(client, ip="192.0.2.11").status_code == 302  # another address is not affected
    assert Case.objects.count() == 3


def test_a_filled_honeypot_creates_nothing(client, world):
    response = report(client, website="http://cheap-pills.example")
    assert response.status_code == 422
    assert "could not be sent" in response.content.decode()
    assert not Case.objects.exists()


def test_the_categorys_extra_fields_are_asked_and_checked(client, world):
    fields = client.get(reverse("public:report_fields"), {"category": "T0102"}, HTTP_HX_REQUEST="true")
    assert fields.status_code == 200 and 'name="extra_size"' in fields.content.decode()
    assert 'name="extra_size"' not in client.get(reverse("public:report_fields"), {"category": "T0101"}).content.decode()

    missing = report(client, category="T0102")
    assert missing.status_code == 422 and 'data-testid="error-extra_size"' in missing.content.decode()
    assert not Case.objects.exists()
    assert report(client, category="T0102", extra_size="large").status_code == 302
    assert Case.objects.get().extra == {"size": "large"}


def test_an_invalid_phone_or_unknown_category_is_a_form_error(client, world):
    bad_phone = report(client, reporter_phone="12")
    assert bad_phone.status_code == 422 and 'data-testid="error-reporter_phone"' in bad_phone.content.decode()
    unknown = report(client, category="NOPE")
    assert unknown.status_code == 422 and 'data-testid="error-category"' in unknown.content.decode()
    assert not Case.objects.exists()


def test_photos_are_uploaded_but_never_exposed(client, world):
    response = report(client, photos=[jpeg("a.jpg"), jpeg("b.jpg")])
    assert response.status_code == 302
    case = Case.objects.get()
    attachments = list(Attachment.objects.filter(case=case))
    assert len(attachments) == 2 and {a.kind for a in attachments} == {Attachment.Kind.REPORT}
    page = client.get(reverse("public:track", args=[case.tracking_code])).content.decode()
    assert re.search(r'data-testid="photo-count">\s*2\s*<', page)
    assert "/media/" not in page and attachments[0].file.name not in page


def test_a_file_that_is_not_an_image_is_refused(client, world):
    fake = SimpleUploadedFile("x.jpg", b"not an image at all", content_type="image/jpeg")
    response = report(client, photos=[fake])
    assert response.status_code == 422
    assert "x.jpg" in response.content.decode()
    assert not Case.objects.exists()


def test_locate_and_area_answer_the_map(client, world):
    inside = client.get(reverse("public:report_locate"), {"lon": "120.605", "lat": "31.305"}).json()
    assert inside["inside"] is True and inside["grid"] == world["g1"].name
    outside = client.get(reverse("public:report_locate"), {"lon": "121.5", "lat": "31.2"}).json()
    assert outside["inside"] is False and OUTSIDE in outside["message"]
    assert client.get(reverse("public:report_locate"), {"lon": "x"}).status_code == 422
    area = client.get(reverse("public:report_area"), {"bbox": "120.60,31.30,120.615,31.31"}).json()
    assert len(area["features"]) == 2  # g1 and g2, not g3
    assert set(area["features"][0]["properties"]) == {"name"}


# --- the tracking page ---------------------------------------------------------------------------------------

def test_lookup_form_redirects_to_the_tracking_page(client, world):
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    typed = f" {case.tracking_code[:5].lower()}-{case.tracking_code[5:]} "
    response = client.get(reverse("public:track_lookup"), {"code": typed})
    assert response.status_code == 302 and response["Location"] == reverse("public:track", args=[case.tracking_code])
    assert client.get(reverse("public:track_lookup"), {"code": "??"}).status_code == 422


def test_unknown_code_is_404_with_the_lookup_form(client, world):
    response = client.get(reverse("public:track", args=["ZZZZZZZZZZ"]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "No report has this tracking code" in html and 'data-testid="track-lookup-form"' in html
    assert client.get(reverse("public:reported", args=["ZZZZZZZZZZ"])).status_code == 404


def test_guessing_codes_is_slowed_down(client, world, monkeypatch):
    monkeypatch.setattr(views_public, "LOOKUP_MISSES_PER_HOUR", 3)
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    for guess in ["AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC"]:
        assert client.get(reverse("public:track", args=[guess]), REMOTE_ADDR="192.0.2.50").status_code == 404
    assert client.get(reverse("public:track", args=[case.tracking_code]), REMOTE_ADDR="192.0.2.50").status_code == 429
    assert client.get(reverse("public:track", args=[case.tracking_code]), REMOTE_ADDR="192.0.2.51").status_code == 200


def test_tracking_page_shows_state_and_public_timeline_only(client, world):
    u = world["users"]
    u["dispatcher"].display_name = "王调度员"
    u["dispatcher"].save()
    u["handler"].display_name = "赵处置员"
    u["handler"].save()
    assert report(client).status_code == 302
    case = Case.objects.get()
    services.case_register(case_id=case.pk, by=u["dispatcher"])
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"], instructions="内部指示")
    services.case_accept(case_id=case.pk, by=u["handler"])
    services.case_comment(case_id=case.pk, by=u["dispatcher"], note="内部意见：请优先处理")
    assert Step.objects.get(case=case, action="comment").public is False

    response = client.get(reverse("public:track", args=[case.tracking_code]))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.number in html and "暴露垃圾" in html
    assert 'data-testid="state-label">In progress<' in html and "is working on it" in html
    timeline = html.split('data-testid="timeline"')[1].split("</ol>")[0]
    for label in ["Report", "Register", "Dispatch", "Accept"]:
        assert f"<strong>{label}</strong>" in timeline
    assert "城管" in timeline  # the department is named
    assert "Comment" not in timeline
    for secret in ["王调度员", "赵处置员", "h_urban", "内部意见", "内部指示", "李四", PHONE, "人民路"]:
        assert secret not in html, secret
    assert not re.search(r"\*{2,}\s*5678", html)  # not even masked
    assert 'data-testid="verify"' not in html and 'data-testid="rate"' not in html


def test_the_reporter_confirms_a_handled_case_and_rates_it_once(client, world):
    case = handled_case(world)
    url = reverse("public:track", args=[case.tracking_code])
    html = client.get(url).content.decode()
    assert 'data-testid="verify"' in html and "Handled" in html
    assert PHONE not in html and not re.search(r"\*{2,}\s*5678", html)

    response = client.post(reverse("public:verify", args=[case.tracking_code]), {"ok": "1", "version": case.version})
    assert response.status_code == 302 and response["Location"] == url
    case.refresh_from_db()
    assert case.state == State.VERIFIED and case.verified_by_reporter
    step = case.steps.get(action="verify_ok")
    assert step.actor is None and step.data == {"by_reporter": True}
    page = client.get(url).content.decode()
    assert "Thank you for confirming" in page and 'data-testid="rate"' in page and 'data-testid="verify"' not in page

    rate = reverse("public:rate", args=[case.tracking_code])
    assert client.post(rate, {"satisfaction": "4", "comment": "很快"}).status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == 4 and case.satisfaction_comment == "很快" and case.rated_at is not None
    rated_at, version = case.rated_at, case.version

    again = client.post(rate, {"satisfaction": "1", "comment": "改主意"})
    assert again.status_code == 409
    assert "already rated" in again.content.decode()
    case.refresh_from_db()
    assert (case.satisfaction, case.satisfaction_comment, case.rated_at, case.version) == (4, "很快", rated_at, version)
    assert case.steps.filter(action="rate").count() == 1
    page = client.get(url).content.decode()
    assert 'data-testid="rate"' not in page and "You rated the result 4 out of 5" in page


def test_not_solved_needs_a_note_and_sends_the_case_back(client, world):
    case = handled_case(world)
    verify = reverse("public:verify", args=[case.tracking_code])
    response = client.post(verify, {"ok": "0", "note": "  "})
    assert response.status_code == 422 and "Tell us what is still wrong" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.HANDLED

    response = client.post(verify, {"ok": "0", "note": "垃圾还在", "photos": [jpeg()]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and case.rework_count == 1
    assert case.attachments.filter(kind=Attachment.Kind.VERIFY).count() == 1


def test_confirming_or_rating_in_the_wrong_state_changes_nothing(client, world):
    case, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    response = client.post(reverse("public:verify", args=[case.tracking_code]), {"ok": "1"})
    assert response.status_code == 409 and "present stage" in response.content.decode()
    assert client.post(reverse("public:rate", args=[case.tracking_code]), {"satisfaction": "5"}).status_code == 409
    case.refresh_from_db()
    assert case.state == State.REPORTED and case.version == 1 and case.satisfaction is None


def test_a_stale_confirmation_is_409(client, world):
    case = handled_case(world)
    response = client.post(reverse("public:verify", args=[case.tracking_code]), {"ok": "1", "version": case.version - 1})
    assert response.status_code == 409 and "changed meanwhile" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.HANDLED


def test_a_merged_report_says_so_without_revealing_the_other_report(client, world):
    u = world["users"]
    first, _ = services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305)
    second, _ = services.case_report(by=None, category="T0101", description="同一处垃圾", lon=120.6051, lat=31.3051)
    services.case_register(case_id=first.pk, by=u["dispatcher"])
    services.case_merge(case_id=second.pk, into_id=first.pk, by=u["dispatcher"])
    html = client.get(reverse("public:track", args=[second.tracking_code])).content.decode()
    assert 'data-testid="state-label">Merged<' in html
    assert 'data-testid="merged"' in html and "<strong>Registered</strong>" in html
    assert first.tracking_code not in html and first.number not in html
    # the merge note on the other report is internal too
    first_page = client.get(reverse("public:track", args=[first.tracking_code])).content.decode()
    assert second.number not in first_page
    assert "<strong>Comment</strong>" not in first_page.split('data-testid="timeline"')[1]


def test_the_pages_render_in_the_default_language(world):
    zh = Client()
    assert zh.get(reverse("public:report")).status_code == 200
    assert zh.get(reverse("public:track_lookup")).status_code == 200


def test_anonymous_visitors_find_the_public_pages(client, world):
    login = client.get(reverse("login")).content.decode()
    assert reverse("public:report") in login and reverse("public:track_lookup") in login
    page = client.get(reverse("public:track_lookup")).content.decode()
    assert 'data-testid="nav-report"' in page and 'data-testid="nav-track"' in page


# --- in the browser, on a phone ------------------------------------------------------------------------------

@pytest.fixture
def browser_locale() -> str:
    return "en-US"  # these tests read English messages; the Chinese catalogue may translate them any time


@pytest.mark.browser
def test_a_resident_reports_from_a_phone_and_follows_the_report(transactional_db, live_server, world, page,
                                                                 js_errors):
    from playwright.sync_api import expect

    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"latitude": 31.305, "longitude": 120.605})
    page.goto(live_server.url + reverse("public:report"))
    expect(page.get_by_test_id("report-map")).to_have_attribute("data-ready", "1")

    page.get_by_test_id("category-search").fill("塌陷")
    page.locator("#category-results button").first.tap()
    expect(page.get_by_test_id("category")).to_have_value("T0102")
    size = page.locator("[data-testid=extra-fields] select[name=extra_size]")  # swapped in by htmx
    expect(size).to_be_visible()
    size.select_option("large")

    page.get_by_test_id("use-location").tap()
    expect(page.get_by_test_id("location-status")).to_contain_text(world["g1"].name)
    page.locator("textarea[name=description]").fill("路面塌陷一处，约一米见方")
    page.locator("input[name=reporter_phone]").fill(PHONE)
    page.get_by_test_id("submit-report").tap()

    code = page.get_by_test_id("tracking-code").inner_text().strip()
    case = Case.objects.get()
    assert case.tracking_code == code and case.grid == world["g1"] and case.extra == {"size": "large"}
    page.get_by_test_id("track-link").tap()
    expect(page.get_by_test_id("case-number")).to_have_text(case.number)
    assert PHONE not in page.content()
    assert js_errors == []


@pytest.mark.browser
def test_a_tap_on_the_map_marks_the_place_and_says_when_it_is_outside(transactional_db, live_server, world, page,
                                                                       js_errors):
    from playwright.sync_api import expect

    page.goto(live_server.url + reverse("public:report"))
    the_map = page.get_by_test_id("report-map")
    expect(the_map).to_have_attribute("data-ready", "1")
    the_map.scroll_into_view_if_needed()
    box = the_map.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the middle grid, g2
    expect(page.get_by_test_id("location-status")).to_contain_text(world["g2"].name)
    assert 120.61 <= float(page.locator("input[name=lon]").input_value()) <= 120.62
    page.wait_for_timeout(500)  # two taps, not a double tap
    page.touchscreen.tap(box["x"] + 8, box["y"] + box["height"] - 8)  # the bottom corner: outside every grid
    expect(page.get_by_test_id("location-status")).to_have_class(re.compile("error"))
    expect(page.get_by_test_id("location-status")).to_contain_text(OUTSIDE)
    assert js_errors == []
