import pytest
from django.core.management import call_command

from gridgov.core.models import JobRun
from gridgov.core.scheduler import Job, run_job

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_jobs(client):
    run_job(Job(name="test.ok", func=lambda: "fine", seconds=60))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert {"name": "test.ok", "ok": True, "runs": 1, "failures": 0}.items() <= body["jobs"][0].items()
    assert {2026, 2027} <= set(body["calendar"]["years"])  # seeded by the migration


def test_a_failing_job_is_recorded_and_does_not_raise():
    def boom():
        raise ValueError("broken job")

    assert run_job(Job(name="test.boom", func=boom, seconds=60)) is False
    run = JobRun.objects.get(name="test.boom")
    assert run.last_ok is False and run.failures == 1 and "broken job" in run.last_error


def test_run_jobs_once_runs_every_registered_job(capsys):
    call_command("run_jobs", "--once")
    assert JobRun.objects.get(name="core.audit_verify").last_result == "intact"
    call_command("run_jobs", "--list")
    assert "core.audit_verify" in capsys.readouterr().out
