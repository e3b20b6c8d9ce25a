import pytest

from gridgov.cases import services
from gridgov.cases.choices import State
from gridgov.core.audit import audit_verify

pytestmark = pytest.mark.django_db


def test_the_whole_loop(world):
    u = world["users"]
    case, created = services.case_report(by=u["gm"], category="T0101", description="垃圾堆放", lon=120.605,
                                         lat=31.305)
    assert created and case.state == State.REPORTED and case.grid == world["g1"] and case.register_due
    case = services.case_register(case_id=case.pk, by=u["dispatcher"], version=case.version)
    case = services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"], assist=[world["water"]])
    assert case.state == State.DISPATCHED and case.tasks.count() == 2
    case = services.case_accept(case_id=case.pk, by=u["handler"])
    case = services.case_report_back(case_id=case.pk, by=u["handler"], result="已清理")
    assert case.state == State.HANDLED
    case = services.case_verify(case_id=case.pk, by=u["gm"], ok=True, note="现场核实")
    case = services.case_close(case_id=case.pk, by=u["dispatcher"])
    assert case.state == State.CLOSED and case.resolution_level == "street" and case.closed_on_time
    case = services.case_rate(case_id=case.pk, by=u["gm"], satisfaction=5)
    assert case.satisfaction == 5
    assert [s.action for s in case.steps.all()] == ["report", "register", "dispatch", "accept", "report_back",
                                                   "verify_ok", "close", "rate"]
    assert audit_verify() is None
