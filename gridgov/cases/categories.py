"""Categories: the seeded taxonomy (CJ/T 214 and social governance) and loading rows into it."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from gridgov.accounts.models import Department
from gridgov.core.audit import audit_log

from .models import Category

SEED_FILE = Path(__file__).resolve().parent / "data" / "categories.json"
FIELDS = ["name", "kind", "register_limit", "dispatch_limit", "handle_limit", "limit_unit", "handle_unit",
          "duplicate_radius_m", "duplicate_window_days", "photo_required_report_back", "photo_required_verify",
          "extra_fields", "service_code", "is_dispute", "sort", "description", "keywords"]


def seed_rows() -> list[dict]:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))["categories"]


def categories_upsert(*, rows: list[dict], by=None) -> dict[str, int]:
    """Create or update categories by code (main classes first); `department` is a department code, linked
    when that department exists. Rows must already be valid (the import validates them)."""
    departments = dict(Department.objects.values_list("code", "id"))
    created = updated = 0
    with transaction.atomic():
        by_code = {c.code: c for c in Category.objects.all()}
        for row in sorted(rows, key=lambda r: (r.get("parent") is not None, r.get("sort", 0), r["code"])):
            category = by_code.get(row["code"]) or Category(code=row["code"], created_by=by)
            is_new = category.pk is None
            for field in FIELDS:
                if field in row and row[field] is not None:
                    setattr(category, field, row[field])
            if not category.service_code:
                category.service_code = row["code"].lower()
            category.parent = by_code.get(row["parent"]) if row.get("parent") else None
            if row.get("department"):
                category.default_department_id = departments.get(row["department"])
            category.updated_by = by
            category.save()
            by_code[category.code] = category
            created += is_new
            updated += not is_new
        audit_log(actor=by, action="category.upsert", object_type="cases.category",
                  object_repr=f"{len(rows)} categories", after={"created": created, "updated": updated})
    return {"created": created, "updated": updated}


def link_default_departments() -> int:
    """Give seeded categories their default departments once the departments exist (the demo's step)."""
    departments = dict(Department.objects.values_list("code", "id"))
    linked = 0
    for row in seed_rows():
        dep = departments.get(row.get("department"))
        if dep:
            linked += Category.objects.filter(code=row["code"], default_department__isnull=True).update(
                default_department_id=dep)
    return linked
