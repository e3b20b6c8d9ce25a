"""Exporting residents to xlsx, streamed, with ID numbers and phones masked (never plaintext).

    export_xlsx(*, user, queryset=None) -> Iterator[bytes]
        The residents of `queryset` (default: every resident) restricted to `user`'s scope, as chunks of an
        xlsx file in the import template's columns plus 性别/出生日期/状态. openpyxl's write-only mode writes the
        rows to a temporary file (not memory); the chunks are read back from it — hand the iterator to a
        `StreamingHttpResponse`. One audit entry records who exported how many rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet

from gridgov.core.audit import audit_log
from gridgov.core.scope import scope_q

from .importer import COLUMNS, ENUM_CHINESE
from .models import Resident
from .selectors import masked_id, masked_phone
from .validators import ETHNICITIES

CHUNK = 64 * 1024
EXTRA_HEADERS = ["性别", "出生日期", "状态"]
GENDER = {"male": "男", "female": "女"}
STATUS = {"active": "在册", "moved_out": "迁出", "deceased": "死亡"}


def export_headers() -> list[str]:
    return [header for _key, header, _aliases in COLUMNS] + EXTRA_HEADERS


def resident_export_row(resident: Resident) -> list[str]:
    address = resident.house.address if resident.house_id and resident.house.address_id else None
    values = {
        "name": resident.name,
        "id_number": masked_id(resident),
        "ethnicity": ETHNICITIES.get(resident.ethnicity, resident.ethnicity),
        "phone": masked_phone(resident),
        "registered_address": resident.registered_address,
        "grid": resident.grid.code,
        "household": resident.household.number if resident.household_id else "",
        "occupation": resident.occupation,
    }
    for key in ("road", "number", "building_no", "unit", "floor", "room"):
        values[key] = getattr(address, key) if address is not None else ""
    for key, names in ENUM_CHINESE.items():
        values[key] = names.get(getattr(resident, key), getattr(resident, key))
    row = [values.get(key, "") for key, _header, _aliases in COLUMNS]
    return row + [GENDER.get(resident.gender, ""), resident.birth_date.isoformat() if resident.birth_date else "",
                  STATUS.get(resident.status, resident.status)]


def export_xlsx(*, user, queryset: QuerySet[Resident] | None = None) -> Iterator[bytes]:
    """Stream the user's scoped residents as xlsx bytes, identifiers masked (see the module docstring)."""
    qs = (queryset if queryset is not None else Resident.objects.all()).filter(scope_q(user))
    qs = qs.select_related("grid", "house__address", "household").order_by("path", "name", "id")
    with transaction.atomic():
        audit_log(actor=user, action="resident.export", object_type="residents.resident",
                  after={"rows": qs.count()})
    return _stream(qs)


def _stream(qs: QuerySet[Resident]) -> Iterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("居民")
    sheet.append(export_headers())
    for resident in qs.iterator(chunk_size=2000):
        sheet.append(resident_export_row(resident))
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk
