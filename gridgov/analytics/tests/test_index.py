"""The governance effectiveness index: every indicator, aspect and index of a small city computed by hand and
compared; weights from settings; aspects without data left out; ranking and trend; scope; configuration."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridgov.analytics import index as idx
from gridgov.analytics.models import IndexSnapshot
from gridgov.analytics.rollups import rollups_update
from gridgov.analytics.selectors import Period
from gridgov.cases import services
from gridgov.cases.categories import categories_upsert
from gridgov.core.errors import NotFound
from gridgov.residents import services as resident_services
from gridgov.residents.models import KeyTag, Resident
from gridgov.residents.selectors import visits_due

pytestmark = pytest.mark.django_db

NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
G1, G3 = {"lon": 120.605, "lat": 31.305}, {"lon": 120.625, "lat": 31.305}
DEFAULT = {"concept": 0.15, "subjects": 0.25, "methods": 0.25, "effectiveness": 0.35}


def weighted(aspects: dict, weights: dict = DEFAULT) -> float | None:
    """The index by hand: the weighted mean of the aspects that have a value."""
    present = {a: v for a, v in aspects.items() if v is not None}
    total = sum(weights[a] for a in present)
    return sum(weights[a] * v for a, v in present.items()) / total if total else None


def close_through(case, world, dispatcher):
    """Register, dispatch, accept, report back, verify and close a case with the given command centre."""
    u = world["users"]
    services.case_register(case_id=case.pk, by=dispatcher)
    services.case_dispatch(case_id=case.pk, by=dispatcher, lead=world["urban"])
    services.case_accept(case_id=case.pk, by=u["handler"])
    services.case_report_back(case_id=case.pk, by=u["handler"], result="已处理")
    services.case_verify(case_id=case.pk, by=u["gm"], ok=True)
    return services.case_close(case_id=case.pk, by=dispatcher)


@pytest.fixture
def city(world, drive, clock):
    """October and November cases in street 1 (grid g1) and street 2 (grid g3), residents with known
    completeness, key-population records with and without timely visits."""
    u = world["users"]
    categories_upsert(rows=[
        {"code": "S01", "name": "社会服务", "kind": "social", "parent": None},
        {"code": "S0101", "name": "困难帮扶", "kind": "social", "parent": "S01", "department": "URBAN",
         "photo_required_report_back": False},
    ])
    # October: street 1 one grid-member report (event); street 2 one command-centre report (event)
    clock.set(2026, 10, 12, 10)
    drive.report()
    drive.report(by=u["gm3"], source="dispatcher", **G3)
    # November, street 1 (g1): six reports
    clock.set(2026, 11, 2, 10)
    a = drive("closed")                                             # grid member, event
    services.case_rate(case_id=a.pk, by=u["gm"], satisfaction=5)
    b = close_through(drive.report(category="S0101"), world, u["community_dispatcher"])  # social, community level
    services.case_rate(case_id=b.pk, by=u["gm"], satisfaction=2)
    drive("closed", source="hotline")                               # a resident by phone
    drive("dispatched")                                             # not accepted
    drive("registered", source="api")                               # another system
    drive("reported", source="dispatcher")                          # the command centre itself
    # November, street 2 (g3): two reports, nothing registered (no rates)
    drive.report(by=u["gm3"], category="S0101", **G3)               # grid member, social
    drive.report(by=u["gm3"], source="public", **G3)                # a resident on the public page
    rollups_update()

    # residents (completeness as recorded), key-population records and visits, relative to now
    now = timezone.now()
    admin = u["admin"]

    def resident(name, grid, completeness, status="active"):
        return Resident.objects.create(name=name, grid=grid, path=grid.path, completeness=completeness,
                                       status=status)

    tags = {t.code: t for t in KeyTag.objects.all()}
    r1 = resident("一", world["g1"], 80)
    r2 = resident("二", world["g1"], 60)
    resident("三", world["g1"], 10, status="moved_out")                 # not counted
    r4 = resident("四", world["g2"], 100)
    resident("五", world["g3"], 50)
    # r1: weekly (elderly_alone grade 1), visited 3 days ago -> covered
    resident_services.resident_tag_set(resident=r1, tag=tags["elderly_alone"], by=admin, grade=1,
                                       since=(now - dt.timedelta(days=200)).date())
    resident_services.visit_record(resident=r1, by=admin, content="上门", visited_at=now - dt.timedelta(days=3))
    # r1: an inactive record -> not counted
    resident_services.resident_tag_set(resident=r1, tag=tags["disabled"], by=admin, grade=1, active=False)
    # r2: quarterly (low_income grade 3) since 100 days, never visited -> due
    resident_services.resident_tag_set(resident=r2, tag=tags["low_income"], by=admin, grade=3,
                                       since=(now - dt.timedelta(days=100)).date())
    # r4: monthly (aged_80 grade 2) since 10 days, never visited -> covered
    resident_services.resident_tag_set(resident=r4, tag=tags["aged_80"], by=admin, grade=2,
                                       since=(now - dt.timedelta(days=10)).date())
    return world


def test_indicators_aspects_and_index_by_hand(city):
    leader = city["users"]["leader"]
    got = idx.index_of(user=leader, area=city["street"].code, period=NOVEMBER)
    measured = {i["code"]: i["measured"] for i in got["indicators"]}
    # street 1, November: 6 reports (A B C D E F); 1 social (B); 1 by a resident (C, hotline);
    # 4 digital (A, B, D grid member; E api); dispatched A B C D, accepted A B C; registered A–E, closed A B C;
    # closed on time A B C; resolved at the community level B; rated A (5) and B (2)
    assert measured == {
        "service_share": 16.7, "resident_share": 16.7, "response_rate": 75.0, "digital_share": 66.7,
        "data_quality": 80.0,    # (80 + 60 + 100) / 3, the moved-out resident left out
        "visit_coverage": 66.7,  # r1 and r4 of r1, r2, r4
        "resolution_rate": 60.0, "on_time_closure_rate": 100.0, "satisfaction_rate": 50.0,
        "community_level_rate": 33.3,
    }
    concept = 16.7 / 30 * 100
    subjects = (16.7 / 20 * 100 + 75.0) / 2
    methods = (66.7 + 80.0 + 66.7) / 3
    effectiveness = (60.0 + 100.0 + 50.0 + 33.3) / 4
    aspects = {"concept": concept, "subjects": subjects, "methods": methods, "effectiveness": effectiveness}
    assert got["aspects"] == {a: round(v, 1) for a, v in aspects.items()}
    assert got["index"] == round(weighted(aspects), 1)
    scores = {i["code"]: i["value"] for i in got["indicators"]}
    assert scores["service_share"] == round(concept, 1) and scores["resident_share"] == 83.5
    # each indicator's share of the index: its aspect's weight over its aspect's indicators
    weights = {i["code"]: i["weight"] for i in got["indicators"]}
    assert weights["service_share"] == 0.15 and weights["response_rate"] == 0.125
    assert weights["data_quality"] == round(0.25 / 3, 4) and weights["satisfaction_rate"] == 0.0875
    assert got["weights"] == pytest.approx(DEFAULT)
    # October: one grid-member report, nothing else; the residents' snapshot enters with today's values
    previous = {"concept": 0.0, "subjects": 0.0, "methods": (100.0 + 80.0 + 66.7) / 3, "effectiveness": None}
    assert got["previous_index"] == round(weighted(previous), 1)
    assert got["previous_aspects"] == {a: None if v is None else round(v, 1) for a, v in previous.items()}


def test_an_aspect_without_data_is_left_out_and_the_weights_renormalise(city):
    got = idx.index_of(user=city["users"]["leader"], area=city["street2"].code, period=NOVEMBER)
    # street 2: 2 reports, 1 social, 1 public, both digital, nothing dispatched, registered or rated;
    # one resident (50), no key-population record
    by_code = {i["code"]: i for i in got["indicators"]}
    assert by_code["response_rate"]["value"] is None and by_code["response_rate"]["weight"] is None
    assert by_code["visit_coverage"]["measured"] is None
    aspects = {"concept": 100.0, "subjects": 100.0, "methods": (100.0 + 50.0) / 2, "effectiveness": None}
    assert got["aspects"] == aspects
    assert got["index"] == round((0.15 * 100 + 0.25 * 100 + 0.25 * 75) / 0.65, 1) == 90.4
    # the weights of the indicators with a value are renormalised over the aspects with a value
    assert sum(i["weight"] for i in got["indicators"] if i["weight"]) == pytest.approx(1.0, abs=1e-3)


def test_weights_from_settings_change_the_index(city, settings):
    leader, street = city["users"]["leader"], city["street"].code
    before = idx.index_of(user=leader, area=street, period=NOVEMBER)
    settings.GRIDGOV_INDEX_WEIGHTS = {"concept": 1, "subjects": 0, "methods": 0, "effectiveness": 0}
    only_concept = idx.index_of(user=leader, area=street, period=NOVEMBER)
    assert only_concept["index"] == before["aspects"]["concept"] == round(16.7 / 30 * 100, 1)
    assert only_concept["weights"] == {"concept": 1.0, "subjects": 0.0, "methods": 0.0, "effectiveness": 0.0}
    # a key left out keeps its default; the weights are relative (scaled to sum to 1)
    settings.GRIDGOV_INDEX_WEIGHTS = {"methods": 0.5}
    heavier = idx.index_of(user=leader, area=street, period=NOVEMBER)
    unrounded = {"concept": 16.7 / 30 * 100, "subjects": (83.5 + 75.0) / 2, "methods": (66.7 + 80.0 + 66.7) / 3,
                 "effectiveness": (60.0 + 100.0 + 50.0 + 33.3) / 4}
    custom = {**DEFAULT, "methods": 0.5}
    assert heavier["index"] == round(weighted(unrounded, custom), 1) != before["index"]
    assert heavier["weights"]["methods"] == pytest.approx(0.5 / 1.25)
    # only the effectiveness counts, and street 2 has none: no index
    settings.GRIDGOV_INDEX_WEIGHTS = {"concept": 0, "subjects": 0, "methods": 0, "effectiveness": 1}
    assert idx.index_of(user=leader, area=city["street2"].code, period=NOVEMBER)["index"] is None


def test_targets_from_settings(city, settings):
    settings.GRIDGOV_INDEX_TARGETS = {"service_share": 10, "resident_share": 50}
    got = idx.index_of(user=city["users"]["leader"], area=city["street"].code, period=NOVEMBER)
    scores = {i["code"]: i["value"] for i in got["indicators"]}
    assert scores["service_share"] == 100.0  # 16.7 % against 10 %: capped
    assert scores["resident_share"] == round(16.7 / 50 * 100, 1)
    assert scores["digital_share"] == 66.7  # the default target, 100 %


def test_ranking_order_previous_rank_and_queries(city, world):
    leader = city["users"]["leader"]
    got = idx.index_ranking(user=leader, area=city["district"].code, period=NOVEMBER)
    street1 = idx.index_of(user=leader, area=city["street"].code, period=NOVEMBER)
    rows = {r["code"]: r for r in got["rows"]}
    assert [r["code"] for r in got["rows"]] == [city["street2"].code, city["street"].code]
    assert rows[city["street2"].code]["index"] == 90.4 and rows[city["street2"].code]["rank"] == 1
    assert rows[city["street"].code]["index"] == street1["index"] < 90.4
    assert rows[city["street"].code]["aspects"] == street1["aspects"]
    # October: street 1 (a grid member's report: digital) before street 2 (the command centre's report)
    previous_2 = (0.25 * (0.0 + 50.0) / 2) / 0.65
    assert rows[city["street2"].code]["previous_index"] == round(previous_2, 1)
    assert rows[city["street"].code]["previous_index"] == street1["previous_index"] > previous_2
    assert (rows[city["street"].code]["previous_rank"], rows[city["street2"].code]["previous_rank"]) == (1, 2)
    # grids of community 1: g2 has no cases, so its index is its methods (data quality and visits) alone
    grids = idx.index_ranking(user=leader, area=city["community"].code, period=NOVEMBER)["rows"]
    g2 = next(r for r in grids if r["code"] == city["g2"].code)
    assert g2["aspects"] == {"concept": None, "subjects": None, "methods": 100.0, "effectiveness": None}
    assert g2["index"] == 100.0 and g2["rank"] == 1
    # the same reads however many children: no query per child
    with CaptureQueriesContext(connection) as two:
        idx.index_ranking(user=leader, area=city["district"].code, period=NOVEMBER)
    from gridgov.geo.tests.factories import AreaFactory, GridFactory

    for n in range(3, 6):
        street = AreaFactory(code=f"32050800{n}", level="street", parent=city["district"])
        community = AreaFactory(code=f"32050800{n}001", level="community", parent=street)
        GridFactory(code=f"32050800{n}001001", community=community, bounds=(121.0 + n / 100, 31.0, 121.005 + n / 100,
                                                                              31.005))
    with CaptureQueriesContext(connection) as five:
        wider = idx.index_ranking(user=leader, area=city["district"].code, period=NOVEMBER)
    assert len(wider["rows"]) == 5 and len(five) == len(two)
    assert [r["rank"] for r in wider["rows"]][2:] == [None, None, None]  # no data at all: no index, last


def test_scope(city):
    u = city["users"]
    with pytest.raises(NotFound):
        idx.index_of(user=u["other_dispatcher"], area=city["community"].code, period=NOVEMBER)
    with pytest.raises(NotFound):
        idx.index_ranking(user=u["other_dispatcher"], area=city["community"].code, period=NOVEMBER)
    with pytest.raises(NotFound):
        idx.index_of(user=u["community_dispatcher"], area=city["community2"].code, period=NOVEMBER)
    with pytest.raises(NotFound):
        idx.index_of(user=u["other_dispatcher"], grid=city["g1"].code, period=NOVEMBER)
    with pytest.raises(NotFound):
        idx.index_of(user=u["resident"], period=NOVEMBER)
    # no area: the user's own node
    own = idx.index_ranking(user=u["other_dispatcher"], period=NOVEMBER)
    assert own["node"]["code"] == city["street2"].code
    assert [r["code"] for r in own["rows"]] == [city["community2"].code]
    assert idx.index_of(user=u["gm"], period=NOVEMBER)["node"]["code"] == city["g1"].code


def test_the_snapshot_job_gives_the_same_figures(city):
    from gridgov.analytics.jobs import refresh_index_snapshot
    from gridgov.core.scheduler import REGISTRY

    leader = city["users"]["leader"]
    live = idx.index_ranking(user=leader, area=city["community"].code, period=NOVEMBER)
    assert not IndexSnapshot.objects.exists()  # computed live until the job first runs
    assert REGISTRY["analytics.index_snapshot"].func is refresh_index_snapshot
    refresh_index_snapshot()
    snap = IndexSnapshot.objects.get(node=city["street"].path)
    assert (snap.residents, snap.completeness, snap.records, snap.covered) == (3, 240, 3, 2)
    stored = idx.index_ranking(user=leader, area=city["community"].code, period=NOVEMBER)
    assert stored["rows"] == live["rows"] and stored["snapshot_at"] == snap.taken_at.isoformat()
    # a snapshot is a snapshot: later residents count from the next refresh on
    Resident.objects.create(name="六", grid=city["g2"], path=city["g2"].path, completeness=0)
    assert idx.index_ranking(user=leader, area=city["community"].code, period=NOVEMBER)["rows"] == live["rows"]
    idx.snapshot_refresh()
    g2 = IndexSnapshot.objects.get(node=city["g2"].path)
    assert (g2.residents, g2.completeness) == (2, 100)


def test_visit_coverage_matches_the_visits_due_list(world, clock):
    """Covered = active records of active residents not listed by visits_due(within_days=0)."""
    u = world["users"]
    admin = u["admin"]
    now = timezone.now()
    tags = {t.code: t for t in KeyTag.objects.all()}
    cases = [  # (tag, grade, since days ago or None, visits days ago)
        ("elderly_alone", 1, 30, []), ("elderly_alone", 3, 20, []), ("elderly_alone", 3, 40, []),
        ("aged_80", 1, 3, []), ("aged_80", 3, 95, [80]), ("aged_80", 3, 95, [92]), ("aged_80", 2, None, []),
        ("low_income", 2, 200, [10, 40]), ("low_income", 2, 200, [31]), ("severe_mental", 1, 1, [8]),
        ("community_correction", 2, 400, [6.5]), ("community_correction", 9, 2, []),  # grade not in policy
        ("petitioner", 3, 10, [300]),  # a visit before `since` still counts as the last visit
    ]
    for i, (code, grade, since, visits) in enumerate(cases):
        grid = world["g1"] if i % 2 else world["g3"]
        r = Resident.objects.create(name=f"r{i}", grid=grid, path=grid.path, completeness=50)
        r.tags.create(tag=tags[code], grade=grade, since=None if since is None else
                      (now - dt.timedelta(days=since)).date())
        for days in visits:
            resident_services.visit_record(resident=r, by=admin, content="走访",
                                           visited_at=now - dt.timedelta(days=days))
    moved = Resident.objects.create(name="moved", grid=world["g1"], path=world["g1"].path, status="moved_out")
    moved.tags.create(tag=tags["aged_80"], grade=1)
    counts = idx.snapshot_counts()
    records = sum(c["records"] for c in counts.values())
    covered = sum(c["covered"] for c in counts.values())
    due = visits_due(user=admin, within_days=0)
    assert records == len(cases)
    assert covered == records - len(due)
    assert 0 < covered < records


@pytest.mark.parametrize("name, value, fragment", [
    ("GRIDGOV_INDEX_WEIGHTS", {"concept": 1, "bogus": 1}, "unknown key 'bogus'"),
    ("GRIDGOV_INDEX_WEIGHTS", {"concept": -0.1}, "must not be negative"),
    ("GRIDGOV_INDEX_WEIGHTS", {"concept": "a lot"}, "must be a number"),
    ("GRIDGOV_INDEX_WEIGHTS", {"concept": 0, "subjects": 0, "methods": 0, "effectiveness": 0}, "above 0"),
    ("GRIDGOV_INDEX_WEIGHTS", "concept=1", "must be a dict"),
    ("GRIDGOV_INDEX_TARGETS", {"service_share": 0}, "above 0 and at most 100"),
    ("GRIDGOV_INDEX_TARGETS", {"resident": 20}, "unknown key 'resident'"),
])
def test_bad_settings_are_refused(world, settings, name, value, fragment):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=fragment):
        idx.index_of(user=world["users"]["leader"], period=NOVEMBER)


@pytest.mark.parametrize("raw, fragment", [
    ("concept=0.2,bogus=1", "unknown key 'bogus'"),
    ("concept=-1", "must not be negative"),
    ("concept", "needs a number"),
    ("concept=x", "needs a number"),
])
def test_the_environment_is_checked_when_the_settings_are_read(monkeypatch, raw, fragment):
    from config.settings import env_numbers

    monkeypatch.setenv("GRIDGOV_INDEX_WEIGHTS", raw)
    with pytest.raises(ImproperlyConfigured, match=fragment):
        env_numbers("GRIDGOV_INDEX_WEIGHTS", DEFAULT)
    monkeypatch.setenv("GRIDGOV_INDEX_WEIGHTS", " concept=0.3, effectiveness = 0.2 ")
    assert env_numbers("GRIDGOV_INDEX_WEIGHTS", DEFAULT) == {**DEFAULT, "concept": 0.3, "effectiveness": 0.2}
