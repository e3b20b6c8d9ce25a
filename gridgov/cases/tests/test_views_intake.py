"""The intake screens: the grid member's phone report and the hotline operator's entry."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from gridgov.cases.choices import Source, State
from gridgov.cases.models import Attachment, Case
from gridgov.core import crypto
from gridgov.geo.coords import from_wgs84


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png(name="photo.png", size=(12, 8)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def form_key(response) -> str:
    match = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', response.content.decode())
    assert match, "the form carries an idempotency key"
    return match.group(1)


def report_data(**kw):
    data = {"category": "T0101", "description": "楼道口垃圾堆放", "lon": "120.605", "lat": "31.305",
            "coord_sys": "wgs84", "address": "枫桥路1号", "idempotency_key": "k" * 32}
    data.update(kw)
    return data


# --- the grid member's report -------------------------------------------------------------------------------

def test_report_form_renders_with_categories_key_and_map(client, world):
    client.force_login(world["users"]["gm"])
    response = client.get(reverse("cases:report"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<optgroup label="市容">' in html and 'value="T0101"' in html
    assert 'accept="image/*"' in html and 'capture="environment"' in html and "multiple" in html
    assert "data-location-picker" in html and "data-category-search" in html
    assert f'/geo/areas/{world["community"].code}/map.geojson' in html  # the grid member's grids on the map
    assert form_key(response) != form_key(client.get(reverse("cases:report")))  # a fresh key per form


def test_report_creates_a_case_in_the_right_grid_with_a_photo(client, world):
    client.force_login(world["users"]["gm"])
    response = client.post(reverse("cases:report"), report_data(photos=[png(), png("b.png")]))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assert case.grid == world["g1"] and case.state == State.REPORTED and case.source == Source.GRID_MEMBER
    assert case.reporter == world["users"]["gm"] and case.address == "枫桥路1号"
    attachments = list(Attachment.objects.filter(case=case))
    assert len(attachments) == 2 and {a.content_type for a in attachments} == {"image/png"}
    assert attachments[0].width == 12 and attachments[0].file.read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_double_submit_creates_one_case(client, world):
    client.force_login(world["users"]["gm"])
    key = form_key(client.get(reverse("cases:report")))
    first = client.post(reverse("cases:report"), report_data(idempotency_key=key, photos=[png()]))
    second = client.post(reverse("cases:report"), report_data(idempotency_key=key, photos=[png()]), follow=True)
    assert Case.objects.count() == 1 and Attachment.objects.count() == 1
    assert second.redirect_chain[0][0] == first["Location"]
    assert "already received" in second.content.decode()
    client.post(reverse("cases:report"), report_data(idempotency_key="another-form"))
    assert Case.objects.count() == 2


def test_outside_every_grid_says_so_in_plain_words(client, world):
    client.force_login(world["users"]["gm"])
    response = client.post(reverse("cases:report"), report_data(lon="121.5", lat="31.2", photos=[png()]))
    assert response.status_code == 422
    assert "This place is outside every grid we serve." in response.content.decode()
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_missing_location_is_a_form_error(client, world):
    client.force_login(world["users"]["gm"])
    response = client.post(reverse("cases:report"), report_data(lon="", lat=""))
    assert response.status_code == 422 and "Set the location" in response.content.decode()
    assert not Case.objects.exists()


def test_a_required_extra_field_is_asked_and_checked(client, world):
    client.force_login(world["users"]["gm"])
    partial = client.get(reverse("cases:report"), {"partial": "extra", "category": "T0102"})
    html = partial.content.decode()
    assert "<html" not in html and 'name="extra_size"' in html and "面积" in html
    assert client.get(reverse("cases:report"), {"partial": "extra", "category": "T0101"}).content.decode().strip() == ""
    missing = client.post(reverse("cases:report"), report_data(category="T0102"))
    assert missing.status_code == 422 and 'data-testid="error-extra_size"' in missing.content.decode()
    assert not Case.objects.exists()
    wrong = client.post(reverse("cases:report"), report_data(category="T0102", extra_size="huge"))
    assert wrong.status_code == 422 and not Case.objects.exists()
    client.post(reverse("cases:report"), report_data(category="T0102", extra_size="small"))
    assert Case.objects.get().extra == {"size": "small"}


def test_every_kind_of_extra_field(client, world):
    from gridgov.cases.categories import categories_upsert

    categories_upsert(rows=[{"code": "T0103", "name": "占道经营", "kind": "event", "parent": "T01", "extra_fields": [
        {"code": "stalls", "label": "摊位数", "datatype": "number", "required": True},
        {"code": "goods", "label": "经营品类", "datatype": "multivaluelist", "required": False,
         "values": [{"key": "food", "name": "食品"}, {"key": "fruit", "name": "水果"}, {"key": "other", "name": "其他"}]},
        {"code": "plate", "label": "车牌号", "datatype": "string"},
        {"code": "notes", "label": "备注", "datatype": "text"},
    ]}])
    client.force_login(world["users"]["gm"])
    html = client.get(reverse("cases:report"), {"partial": "extra", "category": "T0103"}).content.decode()
    assert 'type="number"' in html and 'type="checkbox" name="extra_goods"' in html and "<textarea" in html
    bad = client.post(reverse("cases:report"), report_data(category="T0103", extra_stalls="many"))
    assert bad.status_code == 422 and 'data-testid="error-extra_stalls"' in bad.content.decode()
    client.post(reverse("cases:report"), report_data(category="T0103", extra_stalls="3", extra_goods=["food", "fruit"],
                                                     extra_plate="苏E12345", extra_notes=""))
    assert Case.objects.get().extra == {"stalls": 3.0, "goods": ["food", "fruit"], "plate": "苏E12345"}


def test_unknown_category_and_missing_description_are_form_errors(client, world):
    client.force_login(world["users"]["gm"])
    response = client.post(reverse("cases:report"), report_data(category="NOPE", description=""))
    html = response.content.decode()
    assert response.status_code == 422
    assert 'data-testid="error-category"' in html and 'data-testid="error-description"' in html
    assert not Case.objects.exists()


def test_a_file_that_is_not_an_image_is_refused(client, world):
    client.force_login(world["users"]["gm"])
    fake = SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png")
    response = client.post(reverse("cases:report"), report_data(photos=[fake]))
    assert response.status_code == 422 and 'data-testid="error-photos"' in response.content.decode()
    assert not Case.objects.exists()


def test_handled_on_the_spot_needs_a_photo(client, world):
    client.force_login(world["users"]["gm"])
    refused = client.post(reverse("cases:report"), report_data(self_handle="on"))
    assert refused.status_code == 422 and "needs a photo" in refused.content.decode()
    assert not Case.objects.exists()
    client.post(reverse("cases:report"), report_data(self_handle="on", handle_note="已清扫", photos=[png()]))
    case = Case.objects.get()
    assert case.state == State.HANDLED and case.self_handled
    assert case.attachments.get().kind == Attachment.Kind.EVIDENCE


def test_handling_on_the_spot_outside_my_grids_is_refused(client, world):
    client.force_login(world["users"]["gm"])
    response = client.post(reverse("cases:report"),
                           report_data(lon="120.625", lat="31.305", self_handle="on", photos=[png()]))
    assert response.status_code == 422 and "grid member handles a case on the spot" in response.content.decode()
    assert not Case.objects.exists()


# --- the hotline entry ---------------------------------------------------------------------------------------

def hotline_data(**kw):
    data = {"caller_name": "李先生", "caller_phone": "138 1234 5678", "category": "T0101",
            "description": "小区门口垃圾无人清运", "address": "枫桥路2号", "lon": "120.615", "lat": "31.305",
            "coord_sys": "wgs84", "idempotency_key": "h" * 32}
    data.update(kw)
    return data


def test_hotline_stores_the_caller_and_converts_bd09(client, world):
    lon, lat = from_wgs84(120.615, 31.305, "bd09")  # copied from Baidu maps
    assert abs(lon - 120.615) > 0.005  # BD-09 is hundreds of metres off: a real conversion is needed
    client.force_login(world["users"]["dispatcher"])
    response = client.post(reverse("cases:hotline"), hotline_data(lon=f"{lon:.7f}", lat=f"{lat:.7f}",
                                                                  coord_sys="bd09"))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assert case.grid == world["g2"] and case.source == Source.HOTLINE
    assert case.lon == pytest.approx(120.615, abs=1e-6) and case.lat == pytest.approx(31.305, abs=1e-6)
    assert case.reporter_name == "李先生"
    assert "13812345678" not in case.reporter_phone and crypto.decrypt(case.reporter_phone) == "13812345678"
    assert case.reporter_phone_index == crypto.blind_index("13812345678")


def test_hotline_page_offers_the_coordinate_systems(client, world):
    client.force_login(world["users"]["dispatcher"])
    html = client.get(reverse("cases:hotline")).content.decode()
    for value in ("wgs84", "gcj02", "bd09"):
        assert f'<option value="{value}"' in html
    assert 'name="caller_phone"' in html
    assert f'/geo/areas/{world["street"].code}/map.geojson' in html


@pytest.mark.parametrize(("field", "value", "message"), [
    ("caller_phone", "", "error-caller_phone"), ("caller_phone", "12ab", "error-caller_phone"),
    ("caller_name", "", "error-caller_name"), ("coord_sys", "mars", "error-coord_sys"),
])
def test_hotline_refuses_bad_input(client, world, field, value, message):
    client.force_login(world["users"]["dispatcher"])
    response = client.post(reverse("cases:hotline"), hotline_data(**{field: value}))
    assert response.status_code == 422 and f'data-testid="{message}"' in response.content.decode()
    assert not Case.objects.exists()


def test_hotline_outside_every_grid(client, world):
    client.force_login(world["users"]["dispatcher"])
    response = client.post(reverse("cases:hotline"), hotline_data(lon="116.4", lat="39.9", coord_sys="gcj02"))
    assert response.status_code == 422
    assert "This place is outside every grid we serve." in response.content.decode()
    assert not Case.objects.exists()


# --- in the browser, on a phone -----------------------------------------------------------------------------
@pytest.fixture
def seeded_categories(transactional_db):
    """The seeded categories, for a browser test that follows another one: the live-server tests flush the
    database (the migration's seed with it), and the demo city needs them."""
    from gridgov.cases.categories import categories_upsert, seed_rows
    from gridgov.cases.models import Category

    if not Category.objects.exists():
        categories_upsert(rows=seed_rows())


@pytest.mark.browser
def test_grid_member_reports_from_a_phone(seeded_categories, page, live_server, demo_city, js_errors, tmp_path):
    from playwright.sync_api import expect

    from gridgov.browser_fixtures import login

    grid = demo_city.grid
    lon, lat = (grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"longitude": lon, "latitude": lat})
    login(page, live_server, "gridmember")
    page.goto(live_server.url + reverse("cases:today"))
    page.get_by_test_id("report-problem").click()
    expect(page.get_by_test_id("picker-map").locator("path").first).to_be_attached()  # the grids are drawn
    page.locator("#category-search").fill("塌陷")
    select = page.get_by_test_id("category-select")
    expect(select).to_have_value("S0501")  # the only match is chosen, and its extra fields come in
    expect(page.get_by_test_id("extra-fields")).to_be_visible()
    page.locator("select[name=extra_size]").select_option("small")
    page.locator("textarea[name=description]").fill("人行道塌陷一处")
    page.get_by_test_id("use-my-location").click()
    expect(page.locator("[data-location-status]")).to_contain_text(f"{lon:.4f}"[:8])
    photo = tmp_path / "p.png"
    Image.new("RGB", (20, 20), (0, 120, 0)).save(photo)
    page.locator("input[name=photos]").set_input_files(str(photo))
    page.screenshot(path="/tmp/q_report.png", full_page=True)
    assert not js_errors  # (the case page is someone else's screen: only this form's scripts are checked)
    page.get_by_test_id("submit-report").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+/$"))
    case = Case.objects.get(description="人行道塌陷一处")
    assert case.grid_id == grid.pk and case.extra == {"size": "small"} and case.attachments.count() == 1
    assert case.lon == pytest.approx(lon, abs=1e-6)
