"""Seed the working calendar with the Chinese public holidays of gridgov/core/data/holidays_cn.json.

The file is read when the migration runs, so a fresh install gets the file as it is then. Existing rows are
left alone (ignore_conflicts); later schedules are loaded with `manage.py calendar_load`.
"""

import datetime as dt
import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "holidays_cn.json"


def seed(apps, schema_editor):
    CalendarDay = apps.get_model("core", "CalendarDay")
    with DATA.open(encoding="utf-8") as f:
        doc = json.load(f)
    days = doc["days"] if isinstance(doc, dict) else doc
    CalendarDay.objects.using(schema_editor.connection.alias).bulk_create(
        [CalendarDay(date=dt.date.fromisoformat(d["date"]), kind=d["kind"], name=d.get("name", ""))
         for d in days],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
