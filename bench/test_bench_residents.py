"""The import and lookup rows run on a tiny city (numbers are never asserted: only that they come out)."""

import csv

import pytest

from bench.residents import bench_import_and_lookup, id_number, resident_csv
from gridgov.core import crypto
from gridgov.residents.models import Resident
from gridgov.residents.validators import parse_citizen_id


def test_the_generated_ids_are_valid_and_distinct():
    numbers = [id_number(i) for i in range(0, 3_000_000, 997)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers[::50]:
        assert parse_citizen_id(number).number == number


@pytest.mark.django_db
def test_import_and_lookup_rows_run_on_a_tiny_city(world, tmp_path):
    rows = bench_import_and_lookup(tmp_path, rows=200, log=lambda *a: None, in_process=True)
    assert [r.unit for r in rows] == ["rows/s", "ms (p50)", "ms (p50)"]
    assert all(r.value > 0 and r.baseline > 0 for r in rows)
    assert "INCOMPLETE" not in rows[0].note and "created 200 residents with 200 history rows" in rows[0].note
    assert all("found the same resident: every time" in r.note for r in rows[1:])
    # the file: households sharing houses, in the city's grids; the residents are in the database, encrypted
    path = resident_csv(tmp_path, 200, [])  # reused, not regenerated
    with open(path, encoding="utf-8") as f:
        lines = list(csv.reader(f))[1:]
    assert {line[5] for line in lines} <= {world[g].code for g in ("g1", "g2", "g3")}
    assert 1.5 < len(lines) / len({line[12] for line in lines}) < 4
    first = Resident.objects.get(id_index=crypto.blind_index(lines[0][1]))
    assert first.name == lines[0][0] and first.house_id and first.household_id and lines[0][1] not in first.id_number
