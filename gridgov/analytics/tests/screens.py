"""Shared by the screens' tests: a small month of cases whose figures are counted by hand, a logged-in client,
readers of the rendered pages, and a stand-in for the index module."""

from __future__ import annotations

import html
import re
import sys
import types

from django.test import Client

from gridgov.analytics import selectors
from gridgov.analytics.rollups import rollups_update
from gridgov.cases import services

ON = "2026-11-02"  # a Monday; the month is November 2026, the previous month October


def make_figures(world, drive, clock):
    """October: one report in g1. November: in g1 two cases closed (lead: urban management), one reported, one
    registered and dispatched to water (not accepted); one report in g2 and one in g3.

    November, by hand — city: reported 6, closed 2, registered 3 of which 2 closed (resolution 66.7 %);
    street 1 (g1 + g2): reported 5, resolution 66.7 %; street 2 (g3): reported 1, nothing registered (no
    resolution rate); g1: reported 4, resolution 66.7 %; g2: reported 1. Departments (lead): URBAN reported 2,
    resolution 100 %, response 100 %; WATER reported 1, resolution 0 %, response 0 %."""
    u = world["users"]
    clock.set(2026, 10, 15, 10)
    drive("reported")
    clock.set(2026, 11, 2, 10)
    drive("closed")
    drive("closed")
    drive("reported")
    case = drive("registered")
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["water"])
    drive.report(lon=120.615, lat=31.305)
    drive.report(lon=120.625, lat=31.305)
    rollups_update()
    return world


def client_for(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


def get(user, url: str, **params):
    return client_for(user).get(url, {"on": ON, **params})


def tile(page: str, code: str) -> dict:
    m = re.search(rf'data-testid="tile-{code}" data-value="([^"]*)" data-previous="([^"]*)" '
                  rf'data-direction="([^"]*)" data-verdict="([^"]*)"', page)
    assert m, f"no tile {code}"
    return dict(zip(("value", "previous", "direction", "verdict"), m.groups(), strict=True))


def rank_rows(page: str) -> list[dict]:
    return [dict(zip(("code", "rank", "previous_rank"), m, strict=True)) for m in re.findall(
        r'data-testid="rank-row" data-code="([^"]+)" data-rank="([^"]*)" data-previous-rank="([^"]*)"', page)]


def drill_links(page: str) -> dict[str, str]:
    return {code: html.unescape(href) for href, code in
            re.findall(r'<a href="([^"]+)" data-testid="drill" data-code="([^"]+)"', page)}


def errors(response) -> str:
    page = response.content.decode()
    assert 'data-testid="form-errors"' in page
    return page.split('data-testid="form-errors"')[1].split("</article>")[0]


def stub_index(monkeypatch):
    """Replace gridgov.analytics.index with a stand-in of fixed figures (the interface of index.py)."""
    stub = types.ModuleType("gridgov.analytics.index")

    def index_ranking(*, user, area=None, grid=None, period):
        node = selectors.resolve_node(user=user, area=area, grid=grid)
        rows = [{**c.as_dict(), "index": 80.0 - 10 * i, "aspects": {"concept": 50.0, "subjects": 60.0,
                 "methods": 70.0, "effectiveness": 90.0}, "previous_index": 75.0, "rank": i + 1,
                 "previous_rank": 2 - i} for i, c in enumerate(selectors.children_of(node))]
        return {"node": node.as_dict(), "period": period.as_dict(), "rows": rows,
                "weights": {"concept": 0.1, "subjects": 0.2, "methods": 0.3, "effectiveness": 0.4}}

    def index_of(*, user, area=None, grid=None, period):
        node = selectors.resolve_node(user=user, area=area, grid=grid)
        return {"node": node.as_dict(), "index": 64.5, "previous_index": 60.0,
                "aspects": {"concept": 1.0, "subjects": 2.0, "methods": 3.0, "effectiveness": 4.0},
                "indicators": [{"code": "digital", "label": "Digital reporting", "aspect": "methods", "value": 77.7,
                                "weight": 0.1}]}

    stub.index_ranking, stub.index_of = index_ranking, index_of
    monkeypatch.setitem(sys.modules, "gridgov.analytics.index", stub)
