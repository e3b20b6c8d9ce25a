"""The import and lookup rows of `make bench` (issue 8): a resident CSV through the real importer, and a resident
found by ID number through the scoped selector, each against a bare-sqlite3 baseline in the same run.

    resident_csv(var_dir, rows, grids) -> Path
        A CSV of `rows` residents in the import template's headers, generated once (deterministic from SEED and
        the city's grids) into var_dir/residents_<rows>.csv and reused: valid GB 11643 ID numbers (distinct,
        correct check digits and birth dates), mobiles, households of 1-5 people (2.55 on average) each in its
        own house (a standard address: road, number, building, unit, floor, room) in a grid chosen at random.
    bench_import_and_lookup(var_dir, *, rows, log=print, in_process=False, again=False) -> list[Row]
        Copies the benchmark city's SQLite database into var_dir/residents-<rows>/ and, in child processes on the
        copy (so that each one's peak memory is its own): the baseline (the CSV parsed with the csv module and
        inserted by sqlite3's executemany into a plain table, no validation), then the import through
        `importer.import_file` as the city's leader (validation, encryption, blind indexes, addresses, houses,
        households, history, audit). That database and the two measurements (import.json) are kept, like the
        city: later runs report them and only look residents up again (`again=True` imports anew).
        `in_process=True` runs the same steps in this process on the database Django is connected to (the test
        suite: its database cannot be copied); peak memory is then this process's and says nothing.

`python -m bench.residents import|baseline|lookup ARGS` is the child's entry point (GRIDGOV_VAR_DIR = the copy).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 8
IMPORT_TARGET = 40_000  # rows/s
MEMORY_TARGET = 500  # MB, peak of the importing process
LOOKUP_TARGET = 1.0  # ms, p50
LOOKUPS = 1_000
BASELINE_TABLE = "bench_residents_raw"

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
BIRTH_FROM = dt.date(1935, 1, 1)
BIRTH_DAYS = (dt.date(2020, 12, 31) - BIRTH_FROM).days + 1  # 31,411 days
REGIONS = ("320501", "320502", "320503", "320504", "320505", "320506", "320507", "320508", "340102", "410105",
           "510104", "130102", "360103", "420106")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
            "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文红玉梅云飞鹏辉斌宇浩凯健俊帆帅旭宁颖欣怡佳琪雪婷晨博轩睿涵"
ROADS = [a + b + c for c in ("路", "街") for a in "东西南北中" for b in "华阳山湖兴"]  # 50 names
ETHNIC = ("汉族",) * 19 + ("回族", "满族", "蒙古族", "壮族", "苗族", "土家族")
OCCUPATIONS = ("", "", "职员", "教师", "个体经营", "退休", "学生", "工人", "医生", "自由职业", "公务员", "农民")
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5)
HOUSEHOLD_WEIGHTS = (20, 30, 30, 15, 5)  # 2.55 people on average
RELATIONS = ("户主", "配偶", "子女", "子女", "父母")


def id_number(i: int) -> str:
    """The i-th distinct ID number: (birth day, sequence) is a bijection of i for i < BIRTH_DAYS × 99, the birth
    days shuffled by a multiplier prime to BIRTH_DAYS."""
    day, q = (i * 7919) % BIRTH_DAYS, i // BIRTH_DAYS
    birth = BIRTH_FROM + dt.timedelta(days=day)
    first17 = f"{REGIONS[i % len(REGIONS)]}{birth:%Y%m%d}{q + 1:02d}{i % 10}"
    return first17 + ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def resident_csv(var_dir: Path, rows: int, grids: list[tuple[str, int]], *, log=print) -> Path:
    """The benchmark's resident file (see the module docstring); `grids` = (code, community id) of the city."""
    from gridgov.residents.importer import TEMPLATE_HEADERS

    if rows > BIRTH_DAYS * 98:
        raise ValueError("at most ~3 million distinct ID numbers")
    path = var_dir / f"residents_{rows}.csv"
    if path.exists():
        return path
    t0 = time.perf_counter()
    rng = random.Random(SEED)
    grids = sorted(grids)
    local: dict[int, int] = {}  # a grid's index in its community: its own road (and number), so no address clash
    streets = []
    for code, community in grids:
        k = local[community] = local.get(community, -1) + 1
        streets.append((code, ROADS[k % len(ROADS)], str(1 + 2 * (k // len(ROADS)))))
    next_house = [0] * len(grids)
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(TEMPLATE_HEADERS)
        i = 0
        while i < rows:
            g = rng.randrange(len(grids))
            code, road, number = streets[g]
            k = next_house[g]
            next_house[g] += 1
            floor = 1 + (k % 12) // 2
            address = [road, number, str(1 + k // 36), str(1 + (k // 12) % 3), str(floor), f"{floor}0{k % 2 + 1}"]
            household = f"{code}{k:05d}"
            surname = rng.choice(SURNAMES)
            floating = rng.random() < 0.18
            registered = "江苏省苏州市" if not floating else rng.choice(("安徽省合肥市", "河南省郑州市", "四川省成都市"))
            size = rng.choices(HOUSEHOLD_SIZES, HOUSEHOLD_WEIGHTS)[0]
            for member in range(min(size, rows - i)):
                name = (surname if member != 1 else rng.choice(SURNAMES)) + "".join(
                    rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
                phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" if rng.random() < 0.9 else ""
                presence = rng.choices(("人户一致", "人在户不在", "户在人不在"), (85, 10, 5))[0]
                political = rng.choices(("群众", "中共党员", "共青团员"), (85, 10, 5))[0]
                writer.writerow([name, id_number(i), rng.choice(ETHNIC), phone, registered, code, *address, household,
                                 RELATIONS[member], "流动" if floating else "户籍", presence, rng.choice(OCCUPATIONS),
                                 political])
                i += 1
    tmp.rename(path)
    log(f"  generated {path.name} ({rows:,} rows, {path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.0f} s")
    return path


# --- the steps (each runs where Django is connected to the database it works on) -----------------------------

def _peak_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _importer_user():
    from gridgov.accounts.models import User

    return (User.objects.filter(username="leader", is_active=True).first()
            or User.objects.filter(role="leader", area__level="city", is_active=True).order_by("pk").first()
            or User.objects.filter(role="admin", is_active=True).order_by("pk").first())


def baseline_here(csv_path: Path) -> dict:
    """The baseline: the CSV parsed by the csv module and inserted with the DB-API's executemany (sqlite3's on
    SQLite) into a plain table of the same database, 2,000 rows per call, in one transaction; no validation.
    The table is dropped afterwards."""
    from django.db import connection, transaction

    columns = [f"c{i}" for i in range(18)]
    mark = "?" if connection.vendor == "sqlite" else "%s"
    sql = f"INSERT INTO {BASELINE_TABLE} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    with transaction.atomic():
        connection.cursor().execute(f"CREATE TABLE {BASELINE_TABLE} ({', '.join(c + ' text' for c in columns)})")
    rows = 0
    t0 = time.perf_counter()
    with transaction.atomic(), open(csv_path, encoding="utf-8", newline="") as f:
        cursor = connection.connection.cursor()  # the driver's own cursor: no Django wrapper in the way
        reader = csv.reader(f)
        next(reader)
        while batch := [row for _, row in zip(range(2000), reader, strict=False)]:
            cursor.executemany(sql, batch)
            rows += len(batch)
        cursor.close()
    seconds = time.perf_counter() - t0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {BASELINE_TABLE}")
        stored = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {BASELINE_TABLE}")
    return {"rows": rows, "stored": stored, "seconds": seconds, "peak_mb": _peak_mb()}


def import_here(csv_path: Path) -> dict:
    """The import through the real path, as `residents_import` and the upload job call it, as the leader."""
    from gridgov.core.models import AuditEntry
    from gridgov.residents.importer import import_file
    from gridgov.residents.models import Resident

    by = _importer_user()
    before = Resident.objects.count(), Resident.history.filter(history_type="+").count()
    t0 = time.perf_counter()
    with open(csv_path, "rb") as fileobj:
        result = import_file(fileobj=fileobj, filename=csv_path.name, by=by)
    seconds = time.perf_counter() - t0  # the audit entry included (import_file's own figure stops before it)
    peak = _peak_mb()
    return {**result.counts(), "seconds": seconds, "peak_mb": peak, "user": by.username,
            "residents": Resident.objects.count() - before[0],
            "history": Resident.history.filter(history_type="+").count() - before[1],
            "audited": AuditEntry.objects.filter(action="resident.import", object_repr=csv_path.name).exists()}


def _sample(csv_path: Path, count: int, grids: set[str] | None = None) -> list[tuple[str, str]]:
    """(ID number, name) of `count` residents of the file picked at random (reservoir; in `grids` if given)."""
    rng = random.Random(SEED + 1)
    picked: list[tuple[str, str]] = []
    seen = 0
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if grids is not None and row[5] not in grids:
                continue
            seen += 1
            if len(picked) < count:
                picked.append((row[1], row[0]))
            elif (j := rng.randrange(seen)) < count:
                picked[j] = (row[1], row[0])
    return picked


def lookup_here(csv_path: Path, count: int = LOOKUPS) -> dict:
    """Residents looked up by ID number through `selectors.resident_list(user=…, q=<ID number>, status=None)`
    (what the search page and the API's people search call) sliced as a page is and evaluated, as a
    community-level user (IDs of that community) and as the city's leader (IDs anywhere); the baseline is a
    bare `SELECT … WHERE id_index = ?` on the same DB-API connection with the blind index computed beforehand.
    Both must find the same resident, whose name must be the file's."""
    from django.db import connection

    from gridgov.accounts.models import User
    from gridgov.core import crypto
    from gridgov.geo.models import Grid
    from gridgov.residents.models import Resident
    from gridgov.residents.selectors import resident_list

    leader = _importer_user()
    community_user = (User.objects.filter(area__level="community", is_active=True).exclude(role="resident")
                      .select_related("area").order_by("pk").first())
    connection.ensure_connection()
    raw = connection.connection.cursor()
    mark = "?" if connection.vendor == "sqlite" else "%s"
    bare_sql = f"SELECT id, name, path FROM residents_resident WHERE id_index = {mark}"
    out = {}
    total = Resident.objects.count()
    for who, user in (("community", community_user), ("leader", leader)):
        if user is None:
            continue
        grids = None
        if who == "community":
            grids = set(Grid.objects.filter(path__startswith=user.area.path).values_list("code", flat=True))
        sample = _sample(csv_path, count, grids)
        if not sample:
            continue
        indexes = [crypto.blind_index(number) for number, _name in sample]
        for number, _name in sample[:20]:  # warm-up
            list(resident_list(user=user, q=number, status=None)[:2])
        ours, bare, wrong = [], [], 0
        for (number, name), index in zip(sample, indexes, strict=True):
            t0 = time.perf_counter()
            found = list(resident_list(user=user, q=number, status=None)[:2])
            t1 = time.perf_counter()
            raw.execute(bare_sql, (index,))
            rows = raw.fetchall()
            t2 = time.perf_counter()
            ours.append((t1 - t0) * 1e3)
            bare.append((t2 - t1) * 1e3)
            if len(found) != 1 or len(rows) != 1 or found[0].pk != rows[0][0] or found[0].name != name:
                wrong += 1
        out[who] = {"residents": total, "user": user.username, "area": user.area.name if user.area_id else "", "lookups": len(sample),
                    "p50_ms": statistics.median(ours), "p90_ms": _quantile(ours, 0.9),
                    "bare_p50_ms": statistics.median(bare), "wrong": wrong}
    raw.close()
    return out


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the rows -------------------------------------------------------------------------------------------------

def _child(step: str, work: Path, csv_path: Path, timeout: float = 3600) -> dict:
    """Run a step in a fresh Python on the copy in `work`; its last stdout line is the step's JSON."""
    env = {**os.environ, "GRIDGOV_VAR_DIR": str(work), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.residents", step, str(csv_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"bench.residents {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_import_and_lookup(var_dir: Path, *, rows: int, log=print, in_process: bool = False,
                            again: bool = False) -> list:
    """The import row and the two lookup rows (see the module docstring)."""
    from bench.intake import copy_city
    from gridgov.geo.models import Grid

    from .run import Row

    csv_path = resident_csv(var_dir, rows, list(Grid.objects.values_list("code", "community_id")), log=log)
    measured_at = dt.datetime.now().isoformat(timespec="seconds")
    if in_process:
        base, runs, found = baseline_here(csv_path), [import_here(csv_path)], lookup_here(csv_path, min(LOOKUPS, rows))
    else:
        # the imported city is kept (var/bench/<size>/residents-<rows>/) like the city itself: importing a
        # million rows takes minutes, so it is measured when that database is built (or with --import-again)
        # and the lookups run on it every time
        keep = var_dir / f"residents-{rows}"
        record = keep / "import.json"
        if again or not record.exists():
            building = var_dir / f"residents-{rows}.building"
            for old in (keep, building):
                shutil.rmtree(old, ignore_errors=True)
            building.mkdir()
            t0 = time.perf_counter()
            copy_city(var_dir, building)
            log(f"  copied the city's database in {time.perf_counter() - t0:.0f} s; importing {rows:,} residents …")
            base = _child("baseline", building, csv_path)
            log(f"  baseline: {base['rows'] / base['seconds']:,.0f} rows/s, peak {base['peak_mb']:.0f} MB")
            run = _child("import", building, csv_path)
            log(f"  import: {run['rows'] / run['seconds']:,.0f} rows/s, peak {run['peak_mb']:.0f} MB, "
                f"{run['seconds']:.1f} s")
            (building / "import.json").write_text(json.dumps({"baseline": base, "import": run,
                                                               "measured_at": measured_at}))
            building.rename(keep)
        saved = json.loads(record.read_text())
        base, runs, measured_at = saved["baseline"], [saved["import"]], saved["measured_at"]
        found = _child("lookup", keep, csv_path)
    rps = [r["rows"] / r["seconds"] for r in runs]
    ours = statistics.median(rps)
    peak = max(r["peak_mb"] for r in runs)
    last = runs[-1]
    base_rps = base["rows"] / base["seconds"]
    complete = all(r["created"] + r["updated"] == rows and r["created"] == r["residents"] == r["history"]
                   and not r["errors"] and r["audited"] for r in runs) and base["stored"] == rows
    where = ("in this process (not isolated)" if in_process else
             "a child process on a copy of the city's database, kept for the lookups")
    note = (f"measured {measured_at}; {rows:,} rows in {last['seconds']:.1f} s as {last['user']}, {where}: "
            f"peak memory (VmHWM) {peak:.0f} MB (baseline {base['peak_mb']:.0f} MB); created {last['created']:,} "
            f"residents with {last['history']:,} history rows (updated {last['updated']:,} already there), "
            f"{last['addresses_created']:,} addresses, "
            f"{last['houses_created']:,} houses, {last['households_created']:,} households; "
            f"{last['errors']} row errors; audited: {'yes' if last['audited'] else 'NO'}"
            + ("" if complete else "; INCOMPLETE: not every row was stored with its history"))
    out = [Row(f"import: {rows:,}-row resident CSV", round(ours), "rows/s", round(base_rps), round(ours / base_rps, 3),
               f"≥ {IMPORT_TARGET:,} rows/s, peak memory < {MEMORY_TARGET} MB",
               ours >= IMPORT_TARGET and peak < MEMORY_TARGET and complete, note)]
    for who, f in found.items():
        out.append(Row(f"lookup: resident by ID number, {who} user", round(f["p50_ms"], 3), "ms (p50)",
                       round(f["bare_p50_ms"], 3), round(f["p50_ms"] / f["bare_p50_ms"], 1),
                       f"p50 ≤ {LOOKUP_TARGET:g} ms", f["p50_ms"] <= LOOKUP_TARGET and not f["wrong"],
                       f"{f['lookups']:,} random ID numbers {'of ' + f['area'] if who == 'community' else 'of the file'}"
                       f" as {f['user']} through selectors.resident_list(q=…) at {found_total(found)}; p90 "
                       f"{f['p90_ms']:.3f} ms; the bare query found the same resident: "
                       + ("every time" if not f["wrong"] else f"NOT {f['wrong']} times")))
    return out


def found_total(found: dict) -> str:
    n = next(iter(found.values()), {}).get("residents")
    return f"{n:,} residents" if n else "the imported city"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("baseline", "import", "lookup"):
        import django

        django.setup()
        if sys.argv[1] == "lookup":  # the kept database may predate a migration
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        step = {"baseline": baseline_here, "import": import_here, "lookup": lookup_here}[sys.argv[1]]
        print(json.dumps(step(Path(sys.argv[2]))))
    else:
        sys.exit("usage: python -m bench.residents baseline|import|lookup CSV  (the rows run from bench/run.py)")
