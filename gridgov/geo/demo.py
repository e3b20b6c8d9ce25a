"""The demo city's geography: "S City" near (120.60 E, 31.30 N), districts down to grids.

The city is one jittered lattice: every grid is a quadrilateral cell, neighbours share their vertices, so
grids tile each community with no gap and no overlap; communities, streets and districts are blocks of
cells whose boundaries follow the same vertices. Everything is derived from the seed: same seed, same city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from .choices import AreaLevel, GridKind
from .geometry import describe
from .locator import grids_changed
from .models import Area, Building, Grid


@dataclass(frozen=True)
class Layout:
    districts: tuple[int, int]
    streets: tuple[int, int]  # per district
    communities: tuple[int, int]  # per street
    grids: tuple[int, int]  # per community
    cell: tuple[float, float]  # degrees (lon, lat)
    buildings_per_grid: int


LAYOUTS = {
    "small": Layout((2, 1), (1, 2), (2, 2), (3, 3), (0.0040, 0.0035), 4),
    "large": Layout((4, 2), (2, 3), (3, 2), (6, 6), (0.0025, 0.00225), 2),
}
CENTER = (120.60, 31.30)
CITY_CODE = "320500"
CITY_NAME = "S市"

DISTRICT_NAMES = ["金阊区", "沧浪区", "平江区", "枫桥区", "狮山区", "横塘区", "胥江区", "娄门区"]
PLACE_WORDS = [
    "枫桥", "虎丘", "留园", "西园", "白洋湾", "石路", "彩香", "三元", "友联", "南环", "葑门", "双塔",
    "娄江", "观前", "平江", "苏锦", "城北", "桃坞", "金门", "吴门", "盘溪", "胥江", "梅巷", "新庄",
    "竹辉", "沧浪", "南门", "干将", "十全", "凤凰", "东港", "阳山", "浒墅", "通安", "东渚", "镇湖",
    "光福", "木渎", "横泾", "越溪", "郭巷", "长桥", "甪直", "车坊", "斜塘", "唯亭", "娄葑", "胜浦",
]
GRID_KIND_WEIGHTS = [
    (GridKind.RESIDENTIAL, 70), (GridKind.COMMERCIAL, 12), (GridKind.SCHOOL, 6), (GridKind.INDUSTRIAL, 6),
    (GridKind.VILLAGE, 3), (GridKind.SPECIAL, 3),
]
ROAD_WORDS = ["人民路", "干将路", "十全街", "凤凰街", "三香路", "金门路", "东环路", "南环路", "石湖路", "桐泾路"]


def _lattice(nx: int, ny: int, layout: Layout, rng: random.Random) -> list[list[tuple[float, float]]]:
    """(nx+1) × (ny+1) vertices; interior ones jittered by up to 30 % of a cell (quads stay simple)."""
    dx, dy = layout.cell
    x0 = CENTER[0] - nx * dx / 2
    y0 = CENTER[1] - ny * dy / 2
    pts = []
    for i in range(nx + 1):
        column = []
        for j in range(ny + 1):
            jx = rng.uniform(-0.3, 0.3) * dx if 0 < i < nx else 0.0
            jy = rng.uniform(-0.3, 0.3) * dy if 0 < j < ny else 0.0
            column.append((round(x0 + i * dx + jx, 7), round(y0 + j * dy + jy, 7)))
        pts.append(column)
    return pts


def _block_ring(pts, i0: int, j0: int, i1: int, j1: int) -> list[list[float]]:
    """The counter-clockwise boundary of the cell block [i0, i1) × [j0, j1) along the lattice."""
    ring = [pts[i][j0] for i in range(i0, i1 + 1)]
    ring += [pts[i1][j] for j in range(j0 + 1, j1 + 1)]
    ring += [pts[i][j1] for i in range(i1 - 1, i0 - 1, -1)]
    ring += [pts[i0][j] for j in range(j1 - 1, j0 - 1, -1)]
    return [list(p) for p in ring]


def _polygon(pts, i0, j0, i1, j1) -> dict:
    return {"type": "Polygon", "coordinates": [_block_ring(pts, i0, j0, i1, j1)]}


def _area(code, name, level, parent, geometry) -> Area:
    info = describe(geometry)
    return Area(code=code, name=name, level=level, parent=parent,
                path=(parent.path if parent else "") + code + "/",
                depth={"city": 0, "district": 1, "street": 2, "community": 3}[level],
                geometry=geometry, center_lon=info["center_lon"], center_lat=info["center_lat"])


@transaction.atomic
def build_geography(*, size: str, seed: int) -> dict:
    layout = LAYOUTS[size]
    rng = random.Random(seed)
    (dx_n, dy_n), (sx_n, sy_n), (cx_n, cy_n), (gx_n, gy_n) = (
        layout.districts, layout.streets, layout.communities, layout.grids)
    nx = dx_n * sx_n * cx_n * gx_n
    ny = dy_n * sy_n * cy_n * gy_n
    pts = _lattice(nx, ny, layout, rng)
    words = PLACE_WORDS[:]
    rng.shuffle(words)
    kinds, weights = zip(*GRID_KIND_WEIGHTS, strict=True)

    city = _area(CITY_CODE, CITY_NAME, AreaLevel.CITY, None, _polygon(pts, 0, 0, nx, ny))
    city.save()
    districts, streets, communities, grids, buildings = [], [], [], [], []
    street_no = community_no = 0
    d_w, s_w, c_w = sx_n * cx_n * gx_n, cx_n * gx_n, gx_n  # block widths in cells
    d_h, s_h, c_h = sy_n * cy_n * gy_n, cy_n * gy_n, gy_n
    for d_index in range(dx_n * dy_n):
        di, dj = d_index % dx_n, d_index // dx_n
        district = _area(f"3205{d_index + 1:02d}", DISTRICT_NAMES[d_index % len(DISTRICT_NAMES)],
                         AreaLevel.DISTRICT, city,
                         _polygon(pts, di * d_w, dj * d_h, (di + 1) * d_w, (dj + 1) * d_h))
        districts.append(district)
        for s_index in range(sx_n * sy_n):
            si, sj = s_index % sx_n, s_index // sx_n
            i0, j0 = di * d_w + si * s_w, dj * d_h + sj * s_h
            word = words[street_no % len(words)] + ("" if street_no < len(words) else str(street_no // len(words)))
            street_no += 1
            street = _area(f"{district.code}{s_index + 1:03d}", f"{word}街道", AreaLevel.STREET, district,
                           _polygon(pts, i0, j0, i0 + s_w, j0 + s_h))
            streets.append(street)
            for c_index in range(cx_n * cy_n):
                ci, cj = c_index % cx_n, c_index // cx_n
                ci0, cj0 = i0 + ci * c_w, j0 + cj * c_h
                cword = words[(community_no * 7 + 3) % len(words)]
                community_no += 1
                community = _area(f"{street.code}{c_index + 1:03d}", f"{cword}{community_no}社区",
                                  AreaLevel.COMMUNITY, street, _polygon(pts, ci0, cj0, ci0 + c_w, cj0 + c_h))
                communities.append(community)
                for g_index in range(gx_n * gy_n):
                    gi, gj = g_index % gx_n, g_index // gx_n
                    geometry = _polygon(pts, ci0 + gi, cj0 + gj, ci0 + gi + 1, cj0 + gj + 1)
                    code = f"{community.code}{g_index + 1:03d}"
                    grids.append(Grid(code=code, name=f"{community.name}第{g_index + 1}网格",
                                      kind=rng.choices(kinds, weights)[0], community=community,
                                      path=community.path + code + "/", geometry=geometry, **describe(geometry)))
    Area.objects.bulk_create(districts, batch_size=500)
    Area.objects.bulk_create(streets, batch_size=500)
    Area.objects.bulk_create(communities, batch_size=500)
    Grid.objects.bulk_create(grids, batch_size=1000)
    grid_rows = Grid.objects.order_by("code").values_list("id", "code", "path", "min_lon", "min_lat",
                                                           "max_lon", "max_lat")
    for grid_id, code, path, min_lon, min_lat, max_lon, max_lat in grid_rows:
        road = ROAD_WORDS[rng.randrange(len(ROAD_WORDS))]
        for b in range(layout.buildings_per_grid):
            # inside the cell's inner box, well away from the jittered edges
            lon = min_lon + (max_lon - min_lon) * (0.35 + 0.3 * ((b % 2) + rng.random() * 0.3) / 1.3)
            lat = min_lat + (max_lat - min_lat) * (0.35 + 0.3 * ((b // 2) + rng.random() * 0.3) / 1.3)
            number = str(rng.randint(1, 400))
            buildings.append(Building(grid_id=grid_id, path=path, code=f"{code}B{b + 1:02d}",
                                      name=f"{road}{number}号{b + 1}幢", road=road, number=number,
                                      floors=rng.choice([6, 6, 7, 11, 18, 24, 33]), units=rng.randint(1, 4),
                                      lon=round(lon, 7), lat=round(lat, 7)))
    Building.objects.bulk_create(buildings, batch_size=2000)
    grids_changed()
    return {"city": city, "districts": len(districts), "streets": len(streets),
            "communities": len(communities), "grids": len(grids), "buildings": len(buildings)}
