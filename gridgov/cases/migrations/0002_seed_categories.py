import json
from pathlib import Path

from django.db import migrations

SEED = Path(__file__).resolve().parent.parent / "data" / "categories.json"
FIELDS = ["name", "kind", "register_limit", "dispatch_limit", "handle_limit", "limit_unit", "handle_unit",
          "duplicate_radius_m", "duplicate_window_days", "photo_required_report_back", "photo_required_verify",
          "extra_fields", "service_code", "is_dispute", "sort"]


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    rows = json.loads(SEED.read_text(encoding="utf-8"))["categories"]
    ids = {}
    for row in sorted(rows, key=lambda r: r["parent"] is not None):
        if Category.objects.filter(code=row["code"]).exists():
            continue
        values = {f: row[f] for f in FIELDS if f in row}
        category = Category.objects.create(code=row["code"], parent_id=ids.get(row["parent"]), **values)
        ids[row["code"]] = category.pk


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
