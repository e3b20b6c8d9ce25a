"""Fixtures for the disputes tests, on top of the residents `registry` (three grids, residents with phones):

    mediation["users"]   the registry's users (gm in g1, gm3 in g3, dispatcher = street 1, other_dispatcher =
                         street 2, leader = city, resident, admin, officer) and:
                         mediator (community 1), mediator_s (street 1), mediator_d (district),
                         mediator2 (community 2), cdispatcher (community 1), cleader (leader of community 1)
    mediation["parties"] two valid parties: 张三 (resident of g1) and a free-text neighbour with a phone
    clock                controls gridgov.disputes.services._now (Asia/Shanghai, 09:00-12:00 and 13:30-17:30)
    register(**kw)       registers a neighbourhood dispute in g1 as gm (kw overrides any argument)
"""

from __future__ import annotations

import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.cases.tests.conftest import Clock, calendar_2026  # noqa: F401 - fixtures re-exported
from gridgov.residents.tests.conftest import registry  # noqa: F401 - fixture re-exported


@pytest.fixture
def mediation(registry):  # noqa: F811
    users = dict(registry["users"])
    users.update({
        "mediator": UserFactory(username="med", role="mediator", area=registry["community"], display_name="调解员甲"),
        "mediator_s": UserFactory(username="med_s", role="mediator", area=registry["street"]),
        "mediator_d": UserFactory(username="med_d", role="mediator", area=registry["district"]),
        "mediator2": UserFactory(username="med2", role="mediator", area=registry["community2"]),
        "cdispatcher": UserFactory(username="cdisp", role="dispatcher", area=registry["community"]),
        "cleader": UserFactory(username="cleader", role="leader", area=registry["community"]),
    })
    zhang = registry["residents"]["zhang"]
    parties = [
        {"kind": "person", "role": "applicant", "resident_id": zhang.pk},
        {"kind": "person", "role": "respondent", "name": "楼上住户赵六", "phone": "13600003333"},
    ]
    return {**registry, "users": users, "parties": parties}


@pytest.fixture
def clock(monkeypatch, settings):
    from django.utils import timezone

    from gridgov.core.workcalendar import calendar_changed
    from gridgov.disputes import services

    settings.TIME_ZONE = "Asia/Shanghai"
    settings.GRIDGOV_WORK_PERIODS = "09:00-12:00,13:30-17:30"
    calendar_changed()
    c = Clock(timezone.now())
    monkeypatch.setattr(services, "_now", c)
    yield c
    calendar_changed()


@pytest.fixture
def register(mediation):
    from gridgov.disputes import services

    def _register(**kw):
        args = {"by": mediation["users"]["gm"], "type": "neighbourhood", "source": "screening",
                "description": "楼上漏水，双方争执", "parties": mediation["parties"], "grid": mediation["g1"].code,
                "address": "人民路1号1幢1单元101室", "people_count": 2}
        args.update(kw)
        return services.dispute_register(**args)

    return _register


@pytest.fixture
def t0(clock):
    return clock.set(2026, 11, 2, 10)  # a Monday


@pytest.fixture
def as_user():
    """as_user(user) → a test client logged in as that user, reading the English page."""
    from django.test import Client

    def login(user):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    return login
