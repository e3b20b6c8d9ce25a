"""Key rotation: after `residents_rotate_key`, every record (and every history row) reads back with only the new
key, and exact search through the blind indexes still finds it."""

import base64
import datetime as dt
import io
import os

import pytest
from django.core.management import CommandError, call_command

from gridgov.cases import services as case_services
from gridgov.cases.models import Case
from gridgov.cases.tests.conftest import world  # noqa: F401 - the fixture
from gridgov.core import crypto
from gridgov.core.models import AuditEntry
from gridgov.disputes import services as dispute_services
from gridgov.disputes.models import Party
from gridgov.residents import selectors, services
from gridgov.residents.models import House, Resident, Unit
from gridgov.residents.tests.conftest import make_id

KEY_A = base64.b64encode(os.urandom(32)).decode()
KEY_B = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(monkeypatch):
    def use(current: str, old: str = ""):
        monkeypatch.setenv("GRIDGOV_FIELD_KEY", current)
        if old:
            monkeypatch.setenv("GRIDGOV_FIELD_KEYS_OLD", old)
        else:
            monkeypatch.delenv("GRIDGOV_FIELD_KEYS_OLD", raising=False)
        crypto.reset_keys()
        return crypto.current_key_id()

    yield use
    crypto.reset_keys()


@pytest.fixture
def data_under_a(world, keys):  # noqa: F811 - the imported fixture
    """Residents (with history rows), a house, a unit and a case, all written under key A."""
    keys(KEY_A)
    admin, g1 = world["users"]["admin"], world["g1"]
    people = {}
    for i, (name, phone) in enumerate([("张三", "13912345678"), ("李四", "13800001111"), ("王五", ""),
                                       ("赵六", "051265001234")]):
        number = make_id("320508", dt.date(1960 + i, 3, 1 + i), 11 + i)
        resident, _ = services.resident_save(by=admin, grid=g1, data={"name": name, "id_number": number,
                                                                     "phone": phone})
        people[name] = (resident.pk, number, phone)
    zhang = Resident.objects.get(pk=people["张三"][0])
    services.resident_save(by=admin, grid=g1, resident=zhang, data={"occupation": "教师"})  # a second history row
    from gridgov.geo.models import Address

    address = Address.objects.create(grid=g1, path=g1.path, community=world["community"], road="人民路", number="8",
                                      full_text="人民路8号")
    house = services.house_save(by=admin, address=address, data={"owner_phone": "13566667777"})
    unit = services.unit_save(by=admin, grid=g1, data={"name": "便利店", "contact_phone": "13455556666"})
    case, _ = case_services.case_report(by=None, category="T0101", description="垃圾", lon=120.605, lat=31.305,
                                        reporter_phone="13322223333", ip="10.0.0.9")
    dispute = dispute_services.dispute_register(
        by=admin, type="neighbourhood", source="screening", description="漏水", grid=g1.code,
        parties=[{"role": "applicant", "resident_id": zhang.pk}, {"role": "respondent", "name": "赵六",
                                                                   "phone": "13600003333"}])
    return {"people": people, "house": house.pk, "unit": unit.pk, "case": case.pk, "dispute": dispute.pk}


def _ciphertexts():
    values = []
    for model in (Resident, Resident.history.model):
        values += [v for row in model.objects.values_list("id_number", "phone") for v in row if v]
    for model in (House, House.history.model):
        values += [v for v in model.objects.values_list("owner_phone", flat=True) if v]
    for model in (Unit, Unit.history.model):
        values += [v for v in model.objects.values_list("contact_phone", flat=True) if v]
    values += [v for v in Case.objects.values_list("reporter_phone", flat=True) if v]
    values += [v for v in Party.objects.values_list("phone", flat=True) if v]
    return values


def _assert_all_readable_and_findable(data, world):  # noqa: F811
    admin = world["users"]["admin"]
    for name, (pk, number, phone) in data["people"].items():
        resident = Resident.objects.get(pk=pk)
        assert crypto.decrypt(resident.id_number) == number
        assert crypto.decrypt(resident.phone) == phone
        assert list(selectors.resident_list(user=admin, q=number)) == [resident], name
        if phone:
            assert list(selectors.resident_list(user=admin, q=phone)) == [resident], name
        for row in resident.history.all():
            assert crypto.decrypt(row.id_number) == number
            assert row.id_index == crypto.blind_index(number)
    assert crypto.decrypt(House.objects.get(pk=data["house"]).owner_phone) == "13566667777"
    assert crypto.decrypt(Unit.objects.get(pk=data["unit"]).contact_phone) == "13455556666"
    case = Case.objects.get(pk=data["case"])
    assert crypto.decrypt(case.reporter_phone) == "13322223333"
    assert list(Case.objects.filter(reporter_phone_index=crypto.blind_index("13322223333"))) == [case]
    # a dispute's parties: the phone, its index, the identity built on it, the index copied from the resident
    party = Party.objects.get(dispute_id=data["dispute"], name="赵六")
    assert crypto.decrypt(party.phone) == "13600003333"
    assert party.identity == "p:" + party.phone_index == "p:" + crypto.blind_index("13600003333")
    resident_party = Party.objects.get(dispute_id=data["dispute"], resident__isnull=False)
    assert resident_party.phone_index == resident_party.resident.phone_index == crypto.blind_index("13912345678")
    for value in _ciphertexts():
        crypto.decrypt(value)


def test_without_rotation_the_new_key_alone_cannot_read_old_records(data_under_a, world, keys):  # noqa: F811
    keys(KEY_B)
    pk, number, _ = data_under_a["people"]["张三"]
    with pytest.raises(ValueError, match="no key"):
        crypto.decrypt(Resident.objects.get(pk=pk).id_number)
    assert list(selectors.resident_list(user=world["users"]["admin"], q=number)) == []


def test_rotation_keeps_every_record_readable_with_only_the_new_key(data_under_a, world, keys):  # noqa: F811
    old_kid = crypto.current_key_id()
    new_kid = keys(KEY_B, old=KEY_A)
    assert old_kid != new_kid
    before = len(_ciphertexts())
    out = io.StringIO()
    call_command("residents_rotate_key", batch_size=2, stdout=out)
    text = out.getvalue()
    assert "residents.Resident: 4 rows, rotated 4 (7 values re-encrypted, 7 indexes recomputed)" in text
    assert "cases.Case: 1 rows, rotated 1 (1 values re-encrypted, 1 indexes recomputed)" in text
    assert "disputes.Party: 2 rows, rotated 1 (1 values re-encrypted, 1 indexes recomputed)" in text
    assert "0 values left under old keys" in text
    entry = AuditEntry.objects.get(action="crypto.rotate_key")
    assert entry.after["key"] == new_kid and entry.after["counts"]["residents.Resident"]["rotated"] == 4

    keys(KEY_B)  # the old key is gone
    values = _ciphertexts()
    assert len(values) == before
    assert {crypto.key_id_of(v) for v in values} == {new_kid}
    _assert_all_readable_and_findable(data_under_a, world)

    # idempotent: nothing left to do
    keys(KEY_B, old=KEY_A)
    out = io.StringIO()
    call_command("residents_rotate_key", stdout=out)
    assert "rotated 0 rows" in out.getvalue()
    assert set(_ciphertexts()) == set(values)


def test_dry_run_changes_nothing(data_under_a, keys):
    keys(KEY_B, old=KEY_A)
    values = sorted(_ciphertexts())
    out = io.StringIO()
    call_command("residents_rotate_key", dry_run=True, stdout=out)
    assert "would rotate 4" in out.getvalue()
    assert sorted(_ciphertexts()) == values
    assert not AuditEntry.objects.filter(action="crypto.rotate_key").exists()


def test_a_missing_old_key_is_refused_before_anything_changes(data_under_a, keys):
    keys(KEY_B)  # GRIDGOV_FIELD_KEYS_OLD forgotten
    values = sorted(_ciphertexts())
    with pytest.raises(CommandError, match="neither GRIDGOV_FIELD_KEY nor in GRIDGOV_FIELD_KEYS_OLD"):
        call_command("residents_rotate_key", stdout=io.StringIO())
    assert sorted(_ciphertexts()) == values


def test_a_duplicate_entered_during_the_rotation_is_reported_not_lost(data_under_a, world, keys):  # noqa: F811
    keys(KEY_B, old=KEY_A)
    pk, number, _ = data_under_a["people"]["李四"]
    # under key B the old record's index is not found, so the same ID number slips in once more
    twin, _ = services.resident_save(by=world["users"]["admin"], grid=world["g1"],
                                     data={"name": "李四", "id_number": number})
    err = io.StringIO()
    with pytest.raises(CommandError, match="duplicate"):
        call_command("residents_rotate_key", stdout=io.StringIO(), stderr=err)
    assert str(pk) in err.getvalue()
    old = Resident.objects.get(pk=pk)
    assert crypto.decrypt(old.id_number) == number  # still readable (old key kept), untouched
    others = [p for n, (p, _, _) in data_under_a["people"].items() if n != "李四"]
    assert all(crypto.key_id_of(r.id_number) == crypto.current_key_id()
               for r in Resident.objects.filter(pk__in=others))
    # the documented remedy: clear the newer record's ID number, run again, merge
    services.resident_save(by=world["users"]["admin"], grid=world["g1"], resident=twin, data={"id_number": ""})
    out = io.StringIO()
    call_command("residents_rotate_key", stdout=out)
    assert "0 values left under old keys" in out.getvalue()
    keys(KEY_B)
    kept = services.resident_merge(keep=Resident.objects.get(pk=pk), duplicate=Resident.objects.get(pk=twin.pk),
                                   by=world["users"]["admin"])
    assert list(selectors.resident_list(user=world["users"]["admin"], q=number)) == [kept]
