"""Two people acting on the same case at the same moment: exactly one wins, the other gets a 409; and a
report retried from two threads at once with the same idempotency key makes one case.

The thread tests need a database that several connections share: PostgreSQL, or SQLite in a file
(GRIDGOV_TEST_SQLITE_NAME=/tmp/gridgov-test.sqlite3). pytest-django's default SQLite test database is an
in-memory one in shared-cache mode, where a second writer is refused at once ("database table is locked")
instead of waiting for the first, so the thread tests are skipped there; the sequential test of the
version check runs everywhere.
"""

import threading

import pytest
from django.db import close_old_connections, connection

from gridgov.cases import services
from gridgov.cases.choices import State, TaskState
from gridgov.cases.models import Case, Step, Task
from gridgov.core.errors import Conflict


@pytest.fixture
def shared_db(transactional_db):
    """Skip on the in-memory SQLite test database (see the module's docstring)."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("the in-memory SQLite test database cannot be written from two threads at once; run with "
                    "PostgreSQL (DATABASE_URL) or GRIDGOV_TEST_SQLITE_NAME=<file> for the thread tests")


def _race(*calls):
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread met
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    close_old_connections()
    return results


@pytest.mark.django_db
def test_a_stale_version_loses_sequentially(world, drive, nothing_written):
    """The second of two dispatchers who loaded the same version gets a 409 and changes nothing."""
    u = world["users"]
    case = drive("registered")
    seen = case.version
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"], version=seen)
    case.refresh_from_db()
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_dispatch(case_id=case.pk, by=u["district_dispatcher"], lead=world["water"], version=seen)
    assert exc.value.status == 409 and exc.value.code == "stale_version"
    # without a version the state check still refuses a second dispatch
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_dispatch(case_id=case.pk, by=u["district_dispatcher"], lead=world["water"])
    assert exc.value.code == "invalid_transition"
    assert case.lead_department == world["urban"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_version", [True, False])
def test_two_dispatchers_dispatch_the_same_case_at_once(shared_db, world, drive, with_version):
    u = world["users"]
    case = drive("registered")
    version = case.version if with_version else None
    results = _race(
        lambda: services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"], version=version),
        lambda: services.case_dispatch(case_id=case.pk, by=u["district_dispatcher"], lead=world["water"],
                                       version=version),
    )
    winners = [r for r in results if isinstance(r, Case)]
    losers = [r for r in results if not isinstance(r, Case)]
    assert len(winners) == 1 and len(losers) == 1, results
    loser = losers[0]
    assert isinstance(loser, Conflict) and loser.status == 409, repr(loser)
    assert loser.code == ("stale_version" if with_version else "invalid_transition")
    before = case.version
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.version == before + 1
    assert case.lead_department == winners[0].lead_department
    assert Task.objects.filter(case=case, state=TaskState.PENDING).count() == 1  # no lost or double dispatch
    assert Step.objects.filter(case=case, action="dispatch").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_from_two_threads_makes_one_case(shared_db, world):
    gm = world["users"]["gm"]

    def send():
        return services.case_report(by=gm, category="T0101", description="垃圾", lon=120.605, lat=31.305,
                                    idempotency_key="phone-7:1001")

    results = _race(send, send, send)
    assert all(isinstance(r, tuple) for r in results), results
    assert len({case.pk for case, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, True]
    assert Case.objects.filter(reporter=gm, idempotency_key="phone-7:1001").count() == 1
    assert Step.objects.filter(case__idempotency_key="phone-7:1001").count() == 1
