"""`make bench`: measure gridgov against a baseline computed in the same run, print one table, write it to
docs/benchmarks.md and var/bench/results.json.

The large demo city (10,000+ grids) is built once into var/bench/ and reused. `--quick` uses the small city.
Rows so far: the locator (issue "Benchmarks" adds intake, dashboards, import, lookup and memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""


def _setup_django(var_dir: Path, size: str) -> None:
    os.environ["GRIDGOV_VAR_DIR"] = str(var_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env = {**os.environ}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "demo_city", "--if-empty", "--size", size], check=True, env=env, cwd=ROOT)
    import django

    django.setup()


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_locator(*, points: int, repeat: int) -> list[Row]:
    import numpy as np
    import shapely

    from gridgov.geo.locator import build_locator
    from gridgov.geo.models import Grid

    locator = build_locator()
    geoms = np.array([shapely.from_geojson(json.dumps(g)) for g in Grid.objects.values_list("geometry", flat=True)])
    bare_tree = shapely.STRtree(geoms)
    rng = np.random.default_rng(42)
    bounds = shapely.total_bounds(geoms)
    lons = rng.uniform(bounds[0], bounds[2], points)
    lats = rng.uniform(bounds[1], bounds[3], points)
    sample = list(zip(lons[:2000], lats[:2000], strict=True))

    def ours_one():
        for lon, lat in sample:
            locator.locate(lon, lat)

    def bare_one():
        for lon, lat in sample:
            bare_tree.query(shapely.Point(lon, lat), predicate="covered_by")

    loop_geoms = list(geoms)

    def loop_one():  # reference: no index at all, on 50 points
        for lon, lat in sample[:50]:
            p = shapely.Point(lon, lat)
            next((i for i, g in enumerate(loop_geoms) if g.covers(p)), None)

    ours = _median_time(ours_one, repeat) / len(sample) * 1e6
    bare = _median_time(bare_one, repeat) / len(sample) * 1e6
    loop = _median_time(loop_one, 1) / 50 * 1e6

    ours_batch = points / _median_time(lambda: locator.locate_indices(lons, lats), repeat)
    bare_batch = points / _median_time(
        lambda: bare_tree.query(shapely.points(lons, lats), predicate="covered_by"), repeat)
    n = len(geoms)
    return [
        Row(f"locate one ({n} grids)", round(ours, 2), "µs/lookup", round(bare, 2), round(ours / bare, 2),
            "≤ 2× bare STRtree query", ours <= 2 * bare, f"a loop over the polygons: {loop:,.0f} µs/lookup"),
        Row(f"locate batch ({n} grids, {points:,} points)", round(ours_batch), "points/s", round(bare_batch),
            round(ours_batch / bare_batch, 2), "≥ 0.5× bare STRtree bulk query", ours_batch >= 0.5 * bare_batch),
    ]


def render(rows: list[Row], *, size: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench{'-quick' if size == 'small' else ''}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; medians of repeated runs; each row "
        "against its baseline in the same run.",
        "",
        "| row | value | unit | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "yes" if r.met else ("no" if r.met is False else "—")
        lines.append(f"| {r.name} | {r.value:,} | {r.unit} | {r.baseline if r.baseline is not None else '—'} | "
                     f"{r.ratio if r.ratio is not None else '—'} | {r.target} | {met} |")
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the small city, fewer repetitions")
    parser.add_argument("--no-write", action="store_true", help="print only (the test suite uses this)")
    args = parser.parse_args(argv)
    size = "small" if args.quick else "large"
    var_dir = ROOT / "var" / "bench" / size
    var_dir.mkdir(parents=True, exist_ok=True)
    _setup_django(var_dir, size)
    rows = bench_locator(points=20_000 if args.quick else 200_000, repeat=3 if args.quick else 7)
    table = render(rows, size=size)
    print(table)
    if not args.no_write:
        (ROOT / "docs").mkdir(exist_ok=True)
        if not args.quick:
            (ROOT / "docs" / "benchmarks.md").write_text(table)
        out = ROOT / "var" / "bench" / "results.json"
        out.write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
