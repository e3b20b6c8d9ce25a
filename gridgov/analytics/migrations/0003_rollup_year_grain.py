# The year grain: existing month rows are summed into year rows, so that a database rolled up before this
# migration reads a year right without a rebuild.

from collections import defaultdict

from django.db import migrations, models

COUNTERS = ("reported", "overdue", "registered", "registered_closed", "rejected", "dispatched",
            "dispatched_on_time", "accepted", "extended", "returned", "closed", "closed_on_time", "reworked",
            "closed_grid", "closed_community", "rated", "satisfied")


def years_from_months(apps, schema_editor):
    Rollup = apps.get_model("analytics", "Rollup")
    totals: dict = defaultdict(lambda: [dict.fromkeys(COUNTERS, 0), {}])
    months = Rollup.objects.filter(grain="m")  # the hotspot rows ("h:") too: their counter is `reported`
    for row in months.values("start", "node", "dim", "close_hours", *COUNTERS).iterator(chunk_size=5000):
        counts, hours = totals[(row["start"].replace(month=1), row["node"], row["dim"])]
        for name in COUNTERS:
            counts[name] += row[name]
        for h, n in (row["close_hours"] or {}).items():
            hours[h] = hours.get(h, 0) + n
    Rollup.objects.bulk_create(
        [Rollup(grain="y", start=start, node=node, dim=dim, close_hours=hours, **counts)
         for (start, node, dim), (counts, hours) in totals.items()], batch_size=2000)


def drop_years(apps, schema_editor):
    apps.get_model("analytics", "Rollup").objects.filter(grain="y").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0002_index_snapshot"),
    ]

    operations = [
        migrations.AlterField(
            model_name="rollup",
            name="grain",
            field=models.CharField(choices=[("d", "day"), ("m", "month"), ("y", "year")], max_length=1),
        ),
        migrations.RunPython(years_from_months, drop_years),
    ]
