"""Writes on the registry: identifiers validated and encrypted, duplicates refused, unmasking audited, history
kept with the acting user, merge, tags, visits, completeness and scope."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from gridgov.core import crypto
from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridgov.core.models import AuditEntry
from gridgov.residents import selectors, services
from gridgov.residents.models import House, Resident, ResidentTag, Unit, Visit
from gridgov.residents.tests.conftest import make_id

NEW_ID = make_id("320508", dt.date(1990, 6, 15), 27)  # male (7 odd)
NEW_PHONE = "13655556666"


def _save(registry, user="gm", grid="g1", **data):
    data = {"name": "赵六", "id_number": NEW_ID, "phone": NEW_PHONE, **data}
    return services.resident_save(by=registry["users"][user], grid=registry[grid], data=data)


def test_create_derives_gender_and_birth_date(registry):
    resident, created = _save(registry, ethnicity="汉族")
    assert created
    resident.refresh_from_db()
    assert resident.gender == "male"
    assert resident.birth_date == dt.date(1990, 6, 15)
    assert resident.ethnicity == "01"
    assert resident.id_region == "320508"
    assert resident.path == registry["g1"].path
    assert crypto.decrypt(resident.id_number) == NEW_ID
    assert crypto.decrypt(resident.phone) == NEW_PHONE


def test_female_from_even_17th_digit(registry):
    resident, _ = _save(registry, id_number=make_id("320508", dt.date(1970, 2, 28), 44))
    assert resident.gender == "female"


def test_hard_duplicate_refused_nothing_written(registry):
    count, audits = Resident.objects.count(), AuditEntry.objects.count()
    with pytest.raises(Conflict) as exc:
        _save(registry, name="张三 again", id_number=registry["ids"]["zhang"])
    assert exc.value.code == "duplicate_id"
    assert Resident.objects.count() == count
    assert AuditEntry.objects.count() == audits
    assert not Resident.objects.filter(name="张三 again").exists()


def test_duplicate_refused_across_grids_too(registry):
    # wang lives in g3 (another community): still the same person
    with pytest.raises(Conflict):
        services.resident_save(by=registry["users"]["admin"], grid=registry["g1"],
                               data={"name": "王五", "id_number": registry["ids"]["wang"]})


def test_upsert_updates_the_existing_record(registry):
    zhang = registry["residents"]["zhang"]
    count = Resident.objects.count()
    resident, created = services.resident_save(
        by=registry["users"]["gm"], grid=registry["g1"], upsert=True,
        data={"name": "张三", "id_number": registry["ids"]["zhang"], "occupation": "教师", "phone": "13011112222"})
    assert not created
    assert resident.pk == zhang.pk
    assert Resident.objects.count() == count
    zhang.refresh_from_db()
    assert zhang.occupation == "教师"
    assert crypto.decrypt(zhang.phone) == "13011112222"


def test_upsert_of_someone_registered_out_of_scope_is_a_conflict(registry):
    with pytest.raises(Conflict):
        services.resident_save(by=registry["users"]["gm"], grid=registry["g1"], upsert=True,
                               data={"name": "王五", "id_number": registry["ids"]["wang"]})
    assert Resident.objects.get(pk=registry["residents"]["wang"].pk).grid == registry["g3"]


@pytest.mark.parametrize(("data", "field"), [
    ({"id_number": "320508199006150271"}, "id_number"),  # wrong check digit
    ({"id_number": make_id("320508", dt.date(2099, 1, 1), 1)}, "id_number"),  # born in the future
    ({"ethnicity": "99"}, "ethnicity"),
    ({"name": "  "}, "name"),
    ({"presence": "somewhere"}, "presence"),
    ({"phone": "12"}, "phone"),
])
def test_bad_input_refused_with_the_field(registry, data, field):
    count = Resident.objects.count()
    with pytest.raises(InvalidInput) as exc:
        _save(registry, **data)
    assert exc.value.details[0]["field"] == field
    assert Resident.objects.count() == count


def _all_cells(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our own table name
        return [str(value) for row in cursor.fetchall() for value in row]


def test_database_holds_no_plaintext_id_or_phone(registry):
    resident, _ = _save(registry)
    services.resident_save(by=registry["users"]["gm"], grid=registry["g1"], resident=resident,
                           data={"phone": "13999990000", "occupation": "司机"})
    services.house_save(by=registry["users"]["gm"], address=registry["addresses"]["g1"][1],
                        house=registry["houses"]["g1"][1], data={"owner_phone": "13588887777"})
    services.unit_save(by=registry["users"]["gm"], grid=registry["g1"],
                       data={"name": "便利店", "credit_code": "91350100M000100Y43", "contact_phone": "13466665555"})
    secrets = [NEW_ID, NEW_PHONE, "13999990000", "13588887777", "13466665555", *registry["ids"].values(),
               *registry["phones"].values()]
    tables = [Resident._meta.db_table, Resident.history.model._meta.db_table, House._meta.db_table,
              House.history.model._meta.db_table, Unit._meta.db_table, Unit.history.model._meta.db_table,
              AuditEntry._meta.db_table]
    cells = [cell for table in tables for cell in _all_cells(table)]
    assert len(cells) > 100
    for secret in secrets:
        leaks = [cell for cell in cells if secret in cell]
        assert leaks == [], f"{secret} found in plain text"
    # the values are there, encrypted
    assert any(cell.startswith("gg1:") for cell in cells)
    # and the SQLite file, if the database is a file, holds none of them either
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name and not name.startswith("file:"):
        from pathlib import Path

        data = Path(name).read_bytes()
        for secret in secrets:
            assert secret.encode() not in data


def test_blind_index_lookup_finds_exactly(registry):
    gm = registry["users"]["gm"]
    zhang = registry["residents"]["zhang"]
    assert list(selectors.resident_list(user=gm, q=registry["ids"]["zhang"])) == [zhang]
    assert list(selectors.resident_list(user=gm, q="139 1234 5678")) == [zhang]
    assert list(selectors.resident_list(user=gm, q="+86 13912345678")) == [zhang]
    # one digit off: nothing, no partial matches on encrypted fields
    assert list(selectors.resident_list(user=gm, q="13912345679")) == []
    assert list(selectors.resident_list(user=gm, q=make_id("320508", dt.date(1980, 1, 1), 5))) == []
    # wang exists, but out of gm's scope
    assert list(selectors.resident_list(user=gm, q=registry["ids"]["wang"])) == []
    assert list(selectors.resident_list(user=registry["users"]["admin"], q=registry["ids"]["wang"])) == [
        registry["residents"]["wang"]]


def test_masking(registry):
    zhang = registry["residents"]["zhang"]
    assert selectors.masked_id(zhang) == "3205**********0032"
    assert selectors.masked_phone(zhang) == "*******5678"
    assert registry["ids"]["zhang"] not in selectors.masked_id(zhang)


def test_unmask_refused_without_permission(registry):
    zhang = registry["residents"]["zhang"]
    for role in ("gm", "dispatcher", "leader", "resident"):
        with pytest.raises(Forbidden) as exc:
            services.resident_unmask(resident=zhang, field="id_number", by=registry["users"][role])
        assert exc.value.status == 403
    assert not AuditEntry.objects.filter(action="resident.unmask").exists()


def test_unmask_with_permission_or_admin_is_audited(registry):
    zhang = registry["residents"]["zhang"]
    officer, admin = registry["users"]["officer"], registry["users"]["admin"]
    assert services.resident_unmask(resident=zhang, field="id_number", by=officer) == registry["ids"]["zhang"]
    assert services.resident_unmask(resident=zhang, field="phone", by=officer) == "13912345678"
    assert services.resident_unmask(resident=zhang, field="id_number", by=admin) == registry["ids"]["zhang"]
    entries = list(AuditEntry.objects.filter(action="resident.unmask").order_by("seq"))
    assert [(e.actor_id, e.after["field"], e.object_id) for e in entries] == [
        (officer.pk, "id_number", str(zhang.pk)), (officer.pk, "phone", str(zhang.pk)),
        (admin.pk, "id_number", str(zhang.pk))]
    # the audit log records that it was seen, not what was seen
    assert all(registry["ids"]["zhang"] not in str(e.after) for e in entries)


def test_unmask_out_of_scope_is_not_found(registry):
    with pytest.raises(NotFound):
        services.resident_unmask(resident=registry["residents"]["wang"], field="id_number",
                                 by=registry["users"]["officer"])
    assert not AuditEntry.objects.filter(action="resident.unmask").exists()


def test_unmask_only_identifiers(registry):
    with pytest.raises(InvalidInput):
        services.resident_unmask(resident=registry["residents"]["zhang"], field="name",
                                 by=registry["users"]["admin"])


def test_history_rows_carry_the_acting_user(registry):
    gm = registry["users"]["gm"]
    zhang = registry["residents"]["zhang"]
    services.resident_save(by=gm, grid=registry["g1"], resident=zhang, data={"occupation": "厨师"})
    latest = zhang.history.first()
    assert latest.history_user == gm
    assert latest.occupation == "厨师"
    assert latest.history_type == "~"
    first = zhang.history.last()
    assert first.history_type == "+"
    assert first.history_user == registry["users"]["admin"]


def test_merge_moves_tags_and_visits_and_marks_the_duplicate(registry):
    gm = registry["users"]["gm"]
    keep, _ = _save(registry, name="钱七", id_number="", phone="", house=registry["houses"]["g1"][1])
    dup, _ = _save(registry, name="钱七", house=registry["houses"]["g1"][1])
    services.resident_tag_set(resident=dup, tag=registry["tags"]["elderly_alone"], by=gm, grade=1)
    services.visit_record(resident=dup, by=gm, content="身体良好")
    merged = services.resident_merge(keep=keep, duplicate=dup, by=gm)
    merged.refresh_from_db()
    dup.refresh_from_db()
    assert crypto.decrypt(merged.id_number) == NEW_ID  # the blank was filled from the duplicate
    assert list(ResidentTag.objects.filter(resident=merged).values_list("tag__code", flat=True)) == ["elderly_alone"]
    assert Visit.objects.filter(resident=merged).count() == 1
    assert Visit.objects.filter(resident=dup).count() == 0
    assert dup.status == "moved_out"
    assert dup.id_index == ""
    assert list(selectors.resident_list(user=gm, q=NEW_ID)) == [merged]
    assert AuditEntry.objects.filter(action="resident.merge", object_id=str(merged.pk)).exists()


def test_merge_of_two_different_people_refused(registry):
    with pytest.raises(Conflict):
        services.resident_merge(keep=registry["residents"]["zhang"], duplicate=registry["residents"]["li"],
                                by=registry["users"]["gm"])


def test_sensitive_tag_needs_the_permission(registry):
    zhang = registry["residents"]["zhang"]
    sensitive = registry["tags"]["community_correction"]
    assert sensitive.sensitive
    with pytest.raises(Forbidden):
        services.resident_tag_set(resident=zhang, tag=sensitive, by=registry["users"]["gm"])
    assert not ResidentTag.objects.filter(resident=zhang).exists()
    services.resident_tag_set(resident=zhang, tag=sensitive, by=registry["users"]["officer"])
    # the grid member without the permission does not see it; the officer does
    assert selectors.resident_tags(user=registry["users"]["gm"], resident=zhang) == []
    assert [t.tag.code for t in selectors.resident_tags(user=registry["users"]["officer"], resident=zhang)] == [
        "community_correction"]


def test_tag_grade_must_be_1_to_3(registry):
    with pytest.raises(InvalidInput):
        services.resident_tag_set(resident=registry["residents"]["zhang"], tag=registry["tags"]["disabled"],
                                  by=registry["users"]["gm"], grade=5)


def test_visit_refuses_future_dates_and_empty_content(registry):
    zhang, gm = registry["residents"]["zhang"], registry["users"]["gm"]
    with pytest.raises(InvalidInput) as exc:
        services.visit_record(resident=zhang, by=gm, content="ok", visited_at=timezone.now() + dt.timedelta(days=1))
    assert exc.value.details[0]["field"] == "visited_at"
    with pytest.raises(InvalidInput) as exc:
        services.visit_record(resident=zhang, by=gm, content="   ")
    assert exc.value.details[0]["field"] == "content"
    assert not Visit.objects.exists()
    visit = services.visit_record(resident=zhang, by=gm, content="上门查看，一切正常",
                                  visited_at=timezone.now() - dt.timedelta(days=2))
    assert visit.visitor == gm and visit.path == zhang.path


def test_visit_moves_the_due_date(registry):
    zhang, gm = registry["residents"]["zhang"], registry["users"]["gm"]
    services.resident_tag_set(resident=zhang, tag=registry["tags"]["elderly_alone"], by=gm, grade=1,
                              since=timezone.localdate() - dt.timedelta(days=30))
    due = selectors.visits_due(user=gm)
    assert [(d.record.resident, d.overdue) for d in due] == [(zhang, True)]
    services.visit_record(resident=zhang, by=gm, content="已走访")
    assert selectors.visits_due(user=gm, within_days=3) == []


def test_completeness_score(registry):
    bare, _ = _save(registry, name="孙八", id_number="", phone="")
    assert bare.completeness == round(100 * 1 / 7)  # only the name
    household = services.household_save(by=registry["users"]["gm"], grid=registry["g1"], number="H-1",
                                        house=registry["houses"]["g1"][2])
    full, _ = _save(registry, name="周九", ethnicity="01", house=registry["houses"]["g1"][2], household=household,
                    registered_address="江苏省苏州市姑苏区")
    assert full.completeness == 100
    partial, _ = services.resident_save(by=registry["users"]["gm"], grid=registry["g1"], resident=full,
                                        data={"phone": ""})
    assert partial.completeness == round(100 * 6 / 7)


def test_grid_member_cannot_save_into_another_grid(registry):
    count = Resident.objects.count()
    for grid in ("g2", "g3"):
        with pytest.raises(NotFound):
            _save(registry, grid=grid)
    assert Resident.objects.count() == count


def test_dispatcher_scope_is_the_street(registry):
    resident, created = _save(registry, user="dispatcher", grid="g2")
    assert created and resident.grid == registry["g2"]
    with pytest.raises(NotFound):
        _save(registry, user="dispatcher", grid="g3", id_number=make_id("320508", dt.date(1991, 1, 1), 11))


def test_unit_credit_code_validated_and_unique(registry):
    gm = registry["users"]["gm"]
    with pytest.raises(InvalidInput) as exc:
        services.unit_save(by=gm, grid=registry["g1"], data={"name": "店", "credit_code": "91350100M000100Y44"})
    assert exc.value.details[0]["field"] == "credit_code"
    services.unit_save(by=gm, grid=registry["g1"], data={"name": "店", "credit_code": "91350100M000100Y43"})
    with pytest.raises(Conflict):
        services.unit_save(by=gm, grid=registry["g1"], data={"name": "店2", "credit_code": "91350100m000100y43"})
    assert Unit.objects.count() == 1


def test_admin_shows_history_masked_never_plaintext_and_cannot_edit(registry, client):
    admin = registry["users"]["admin"]
    admin.is_staff = admin.is_superuser = True  # as the demo's admin
    admin.save()
    zhang = registry["residents"]["zhang"]
    services.resident_save(by=registry["users"]["gm"], grid=registry["g1"], resident=zhang,
                           data={"phone": "13900001234", "occupation": "厨师"})
    client.force_login(admin)
    pages = [client.get("/admin/residents/resident/"), client.get(f"/admin/residents/resident/{zhang.pk}/change/"),
             client.get(f"/admin/residents/resident/{zhang.pk}/history/")]
    history_id = zhang.history.last().history_id
    pages.append(client.get(f"/admin/residents/resident/{zhang.pk}/history/{history_id}/"))
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in (registry["ids"]["zhang"], "13912345678", "13900001234", "gg1:"):
            assert secret not in html
    assert "3205**********0032" in pages[1].content.decode()
    assert "厨师" in pages[2].content.decode()  # the change is in the history
    # no add, no edit, no revert
    assert client.get("/admin/residents/resident/add/").status_code == 403
    response = client.post(f"/admin/residents/resident/{zhang.pk}/history/{history_id}/", {"name": "改名"})
    assert response.status_code == 403
    response = client.post(f"/admin/residents/resident/{zhang.pk}/change/", {"name": "改名"})
    assert response.status_code == 403
    zhang.refresh_from_db()
    assert zhang.name == "张三"
