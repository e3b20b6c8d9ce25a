"""The demo city's registry: every grid populated, valid encrypted identifiers, key populations with visits due
for the gridmember login, and demo permissions as documented in gridgov.residents.demo."""

import time

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.core import crypto
from gridgov.core.models import AuditEntry
from gridgov.geo.models import Grid
from gridgov.residents import selectors, services
from gridgov.residents.models import House, Household, Resident, ResidentTag, Unit, Visit
from gridgov.residents.validators import ETHNICITIES, parse_citizen_id, validate_uscc

pytestmark = pytest.mark.django_db


def test_demo_city_builds_a_complete_registry():
    started = time.monotonic()
    call_command("demo_city", stdout=None)
    elapsed = time.monotonic() - started

    grids = Grid.objects.count()
    per_grid = dict(Resident.objects.values_list("grid").annotate(n=Count("id")))
    assert len(per_grid) == grids, "every grid has residents"
    total = sum(per_grid.values())
    assert 3_000 <= total <= 8_000
    assert House.objects.values("grid").distinct().count() == grids
    assert Household.objects.count() > 1_000
    assert Unit.objects.values("grid").distinct().count() == grids

    # every ID number decrypts to a valid GB 11643 number on the demo city's district codes, matching the
    # stored birth date, gender, masked region and blind index; phones are mobiles
    rows = Resident.objects.exclude(id_number="").values_list(
        "id_number", "id_index", "id_region", "id_last4", "birth_date", "gender", "grid__code", "phone",
        "phone_index", "ethnicity", "completeness")
    assert len(rows) > 0.95 * total
    seen = set()
    for cipher, index, region, last4, birth, gender, grid_code, phone, phone_index, ethnicity, score in rows:
        number = crypto.decrypt(cipher)
        parsed = parse_citizen_id(number)
        assert number[:6] == grid_code[:6] == region and region.startswith("3205")
        assert (parsed.birth_date, parsed.gender, number[-4:]) == (birth, gender, last4)
        assert index == crypto.blind_index(number)
        assert number not in seen
        seen.add(number)
        if phone:
            digits = crypto.decrypt(phone)
            assert len(digits) == 11 and digits.startswith("1")
            assert phone_index == crypto.blind_index(digits)
        assert ethnicity in ETHNICITIES
        assert 0 < score <= 100
    # the database holds ciphertexts, never the numbers
    assert not Resident.objects.filter(id_number__regex=r"^\d{17}[\dX]$").exists()
    # mostly 汉族 (01), with others; floating, foreign and 人在户不在 residents exist
    ethnic = dict(Resident.objects.values_list("ethnicity").annotate(n=Count("id")))
    assert ethnic["01"] > 0.85 * total and len(ethnic) > 3
    kinds = dict(Resident.objects.values_list("residence_type").annotate(n=Count("id")))
    assert kinds["floating"] > 0.05 * total and kinds.get("foreign", 0) > 0
    assert Resident.objects.filter(presence="person_only").count() > 0.05 * total
    assert Resident.objects.filter(presence="registration_only").exists()
    for code in Unit.objects.exclude(credit_code="").values_list("credit_code", flat=True):
        assert validate_uscc(code) == code

    # key populations, sensitive ones among them, with a history of visits
    tags = dict(ResidentTag.objects.values_list("tag__code").annotate(n=Count("id")))
    for code in ("elderly_alone", "aged_80", "disabled", "low_income", "left_behind_child"):
        assert tags.get(code, 0) > 0, code
    assert ResidentTag.objects.filter(tag__sensitive=True).exists()
    assert Visit.objects.count() > ResidentTag.objects.count()
    assert not Visit.objects.filter(visited_at__gt=timezone.now()).exists()
    for r in Resident.objects.filter(tags__tag__code="elderly_alone")[:50]:
        assert (timezone.localdate() - r.birth_date).days >= 75 * 365
    assert AuditEntry.objects.filter(action="residents.demo").count() == 1

    # the gridmember's grid has key populations with visits due, overdue ones first
    gridmember = User.objects.get(username="gridmember")
    due = selectors.visits_due(user=gridmember)
    assert due and due[0].overdue
    assert {d.record.resident.grid_id for d in due} <= set(gridmember.grids.values_list("id", flat=True))
    assert any(d.record.tag.code == "elderly_alone" and d.overdue for d in due)

    # demo permissions: gridmember may unmask and see sensitive tags; another grid member neither
    other = User.objects.filter(username__startswith="gm").exclude(pk=gridmember.pk).first()
    assert services.may_unmask(gridmember) and services.may_see_sensitive(gridmember)
    assert services.may_unmask(User.objects.get(username="dispatcher_c"))
    assert not services.may_unmask(other) and not services.may_see_sensitive(other)
    resident = Resident.objects.filter(grid__in=gridmember.grids.all()).exclude(id_number="").first()
    plain = services.resident_unmask(resident=resident, field="id_number", by=gridmember)
    assert selectors.masked_id(resident) == plain[:4] + "*" * 10 + plain[-4:]
    assert list(selectors.resident_list(user=gridmember, q=plain)) == [resident]
    print(f"demo_city with residents: {elapsed:.1f}s for {total} residents")
