import pytest
from django.core.management import call_command

from gridgov.core.audit import audit_log, audit_verify
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _write(n: int) -> list[AuditEntry]:
    return [audit_log(actor=None, action="test.write", object_type="test", object_id=str(i),
                      after={"i": i, "name": f"第{i}条"}) for i in range(n)]


def test_intact_chain_verifies():
    entries = _write(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[1].prev_hash == entries[0].hash
    assert audit_verify() is None


def test_changed_entry_is_found():
    _write(5)
    AuditEntry.objects.filter(seq=3).update(after={"i": 99})  # bypasses the model's guard, like raw SQL would
    problem = audit_verify()
    assert problem is not None and problem.seq == 3 and problem.kind == "changed"


def test_removed_entry_is_found():
    _write(5)
    AuditEntry.objects.filter(seq=2).delete()
    problem = audit_verify()
    assert problem is not None and problem.seq == 2 and problem.kind == "removed"


def test_removed_last_entry_is_found():
    _write(4)
    AuditEntry.objects.filter(seq=4).delete()
    problem = audit_verify()
    assert problem is not None and problem.kind == "removed"


def test_reordered_entries_are_found():
    _write(5)
    # Swap the positions of entries 2 and 3 (their content and hashes travel with them).
    AuditEntry.objects.filter(seq=2).update(seq=-2)
    AuditEntry.objects.filter(seq=3).update(seq=2)
    AuditEntry.objects.filter(seq=-2).update(seq=3)
    problem = audit_verify()
    assert problem is not None and problem.seq == 2 and problem.kind == "changed"


def test_entries_are_append_only():
    entry = _write(1)[0]
    entry.action = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_audit_verify_command(capsys):
    _write(3)
    call_command("audit_verify")
    assert "intact: 3 entries" in capsys.readouterr().out
    AuditEntry.objects.filter(seq=1).update(action="forged")
    with pytest.raises(SystemExit):
        call_command("audit_verify")
    assert "#1" in capsys.readouterr().err
