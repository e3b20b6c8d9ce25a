import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    t = make_tree()
    other_street = AreaFactory(code="320508009", level="street", parent=t["district"], name="别的街道")
    other_community = AreaFactory(code="320508009001", level="community", parent=other_street, name="别的社区")
    mine = GridFactory(code="320508001001001", community=t["community"], name="枫桥第1网格")
    theirs = GridFactory(code="320508009001001", community=other_community, name="别的网格",
                         bounds=(120.7, 31.3, 120.71, 31.31))
    gm = UserFactory(username="gm", role="grid_member", display_name="张网格")
    mine.members.add(gm)
    return {**t, "mine": mine, "theirs": theirs, "gm": gm, "leader": UserFactory(role="leader", area=t["city"])}


def test_pages_need_login(client, city):
    response = client.get("/geo/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_grid_member_browser_starts_at_their_community(client, city):
    client.force_login(city["gm"])
    response = client.get("/geo/")
    assert response.status_code == 302 and response["Location"] == f"/geo/areas/{city['community'].code}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert list(page.context["grids_page"]) == [city["mine"]]


def test_leader_walks_the_tree(client, city):
    client.force_login(city["leader"])
    assert client.get("/geo/")["Location"] == f"/geo/areas/{city['city'].code}/"
    district = client.get(f"/geo/areas/{city['district'].code}/")
    assert district.context["grid_total"] == 2
    assert [a.code for a in district.context["children"]] == [city["street"].code, "320508009"]
    assert [a.code for a in district.context["ancestors"]] == [city["city"].code]


def test_grid_page_shows_members(client, city):
    client.force_login(city["gm"])
    page = client.get(f"/geo/grids/{city['mine'].code}/")
    assert page.status_code == 200
    assert "张网格" in page.content.decode()


def test_out_of_scope_pages_are_404(client, city):
    client.force_login(city["gm"])
    assert client.get(f"/geo/grids/{city['theirs'].code}/").status_code == 404
    assert client.get("/geo/areas/320508009001/").status_code == 404
    assert client.get("/geo/areas/320508009001/map.geojson").status_code == 404


def test_map_layer_carries_colour_and_link(client, city):
    client.force_login(city["leader"])
    data = client.get(f"/geo/areas/{city['city'].code}/map.geojson").json()
    props = {f["properties"]["code"]: f["properties"] for f in data["features"]}
    assert set(props) == {city["mine"].code, city["theirs"].code}
    assert props[city["mine"].code]["url"] == f"/geo/grids/{city['mine'].code}/"
    assert props[city["mine"].code]["color"].startswith("#")


def test_export_download(client, city):
    client.force_login(city["leader"])
    response = client.get(f"/geo/areas/{city['street'].code}/export.geojson")
    assert response["Content-Disposition"] == f'attachment; filename="{city["street"].code}.geojson"'
    assert "枫桥第1网格" in response.content.decode()


def test_search_by_code_and_name_within_scope(client, city):
    client.force_login(city["gm"])
    by_name = client.get("/geo/search/", {"q": "网格"}, HTTP_HX_REQUEST="true")
    assert list(by_name.context["results"]) == [city["mine"]]  # not the other community's grid
    client.force_login(city["leader"])
    by_code = client.get("/geo/search/", {"q": "320508009"})
    assert list(by_code.context["results"]) == [city["theirs"]]
    assert by_code.templates[0].name == "geo/search.html"
    # areas and addresses too, as the API's search: the street by its name, not the other community's grid
    by_street = client.get("/geo/search/", {"q": city["street"].name})
    assert city["street"] in by_street.context["areas"]
    client.force_login(city["gm"])
    assert city["theirs"] not in client.get("/geo/search/", {"q": "3205"}).context["results"]


def test_home_page_per_role(client, city):
    client.force_login(city["gm"])
    page = client.get("/").content.decode()
    assert "枫桥第1网格" in page
    client.force_login(city["leader"])
    assert client.get("/").context["top_areas"] == [city["city"]]
