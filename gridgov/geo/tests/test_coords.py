"""Tests for gridgov.geo.coords: published reference vectors, round trips, the China box, numpy parity.

Expected values are literals copied from other public implementations' tests (cited per block), never
recomputed with the functions under test.
"""

import math

import numpy as np
import pytest

from gridgov.geo import coords
from gridgov.geo.choices import CoordSys
from gridgov.geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# The default agreement asked of every conversion: 1e-6 degrees is ~0.1 m.
TOL = 1e-6
# For sources that print full float64 results of the same forward formula: catches a mistyped constant.
FULL_PRECISION_TOL = 1e-9


def assert_close(got: tuple[float, float], expected: tuple[float, float], tol: float = TOL) -> None:
    assert isinstance(got[0], float) and isinstance(got[1], float), got
    assert math.fabs(got[0] - expected[0]) <= tol, (got, expected)
    assert math.fabs(got[1] - expected[1]) <= tol, (got, expected)


# Deterministic points: an 11 x 11 lattice over Suzhou and a 2-degree lattice over mainland China.
SUZHOU = [(120.4 + 0.04 * i, 31.1 + 0.04 * j) for i in range(11) for j in range(11)]
CHINA = [(74.0 + 2.0 * i, 18.0 + 2.0 * j) for i in range(31) for j in range(18)]
ALL_POINTS = SUZHOU + CHINA

# Clearly outside the rough China box: Paris, New York, Sydney, Tokyo (east of 137.8347E), Singapore
# (south of 0.8293N), west of 72.004E, north of 55.8271N, and gcoord's (183, 45).
OUTSIDE = [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (139.6917, 35.6895),
           (103.8198, 0.3521), (71.9, 35.0), (120.0, 56.0), (183.0, 45.0)]


# --- reference vectors ---------------------------------------------------------------------------------

# wandergis/coordtransform, test/app.js: each conversion applied to (116.404, 39.915), "//result" block.
def test_wandergis_wgs84_to_gcj02():
    assert_close(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), FULL_PRECISION_TOL)


def test_wandergis_gcj02_to_bd09():
    assert_close(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), FULL_PRECISION_TOL)


def test_wandergis_bd09_to_gcj02():
    # wandergis uses the closed-form inverse; ours is exact; they differ by ~4e-7 here.
    assert_close(bd09_to_gcj02(116.404, 39.915), (116.39762729119315, 39.90865673957631))


def test_wandergis_gcj02_to_wgs84():
    # wandergis' one-step approximation; ours is exact; they differ by ~5e-7 at this point.
    assert_close(gcj02_to_wgs84(116.404, 39.915), (116.39775550083061, 39.91359571849836))


# googollee/eviltransform, python/test.py TESTS (the same table is in go/transform_test.go and
# javascript/test.js); rows are (wgsLat, wgsLng, gcjLat, gcjLng) - latitude first there.
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM)
def test_eviltransform_wgs84_to_gcj02(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    assert_close(wgs84_to_gcj02(wgs_lon, wgs_lat), (gcj_lon, gcj_lat), FULL_PRECISION_TOL)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM)
def test_eviltransform_gcj02_to_wgs84_is_exact(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    # eviltransform's own exact inverse is only asked to land within 0.5 m; ours recovers the WGS84
    # point the GCJ-02 value was made from to 1e-8 degrees (~1 mm).
    assert_close(gcj02_to_wgs84(gcj_lon, gcj_lat), (wgs_lon, wgs_lat), tol=1e-8)


# hujiulong/gcoord, test/unit/crs/WGS84.spec.ts, GCJ02.spec.ts and BD09.spec.ts: each conversion
# applied to [123, 45] (gcoord is longitude first), expected values given to 7-8 decimals.
@pytest.mark.parametrize(("func", "expected"), [
    (wgs84_to_gcj02, (123.00607541, 45.00197815)),  # WGS84.spec.ts
    (wgs84_to_bd09, (123.0124491, 45.0083293)),  # WGS84.spec.ts
    (gcj02_to_wgs84, (122.99395597, 44.99804071)),  # GCJ02.spec.ts
    (gcj02_to_bd09, (123.00636499, 45.00636899)),  # GCJ02.spec.ts
    (bd09_to_gcj02, (122.99363304, 44.99365430)),  # BD09.spec.ts
    (bd09_to_wgs84, (122.98762210, 44.99171540)),  # BD09.spec.ts
])
def test_gcoord_spec_vectors(func, expected):
    assert_close(func(123.0, 45.0), expected)


# hujiulong/gcoord, test/fixtures/china-cities.json: WGS84 / GCJ02 / BD09 triples for prefecture
# seats, given to 7 decimals. Their GCJ02 <-> BD09 pairs match the formula to ~5e-8. Their WGS84
# column sits a systematic ~5e-6 deg (~0.5 m) off the public GCJ-02 formula - gcoord itself only
# asserts 4 decimals for it - so WGS84 <-> GCJ02/BD09 is checked at 1e-5 there.
CHINA_CITIES = {
    "Zhumadian": ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    "Taizhou (Jiangsu)": ((119.9183831, 32.4580023), (119.9231242, 32.4557802), (119.9296902, 32.4615531)),
    "Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "Qinzhou": ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
    "Xilinhot": ((116.0414035, 43.9312805), (116.0482308, 43.9334573), (116.0546232, 43.9397782)),
    "Shenyang": ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    "Jinhua": ((119.6427465, 29.0820414), (119.6474509, 29.0790641), (119.6538875, 29.0854003)),
    "Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "Tongling": ((117.8059091, 30.9477988), (117.8112693, 30.9455211), (117.8177498, 30.9515411)),
}
CITY_WGS_TOL = 1e-5


@pytest.mark.parametrize(("wgs", "gcj", "bd"), CHINA_CITIES.values(), ids=CHINA_CITIES.keys())
def test_gcoord_china_cities(wgs, gcj, bd):
    assert_close(gcj02_to_bd09(*gcj), bd)
    assert_close(bd09_to_gcj02(*bd), gcj)
    assert_close(wgs84_to_gcj02(*wgs), gcj, tol=CITY_WGS_TOL)
    assert_close(gcj02_to_wgs84(*gcj), wgs, tol=CITY_WGS_TOL)
    assert_close(wgs84_to_bd09(*wgs), bd, tol=CITY_WGS_TOL)
    assert_close(bd09_to_wgs84(*bd), wgs, tol=CITY_WGS_TOL)


def test_offsets_are_hundreds_of_metres_in_suzhou():
    # Guards against a no-op or sign-flipped transform passing the round trips: in Suzhou GCJ-02 lies
    # ~0.0045 deg east and ~0.002 deg south of WGS84, and BD-09 a further ~0.0065 / 0.006 north-east.
    lon, lat = 120.6, 31.3
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 0.003 < glon - lon < 0.006 and -0.003 < glat - lat < -0.001
    blon, blat = gcj02_to_bd09(glon, glat)
    assert 0.005 < blon - glon < 0.008 and 0.004 < blat - glat < 0.008


# --- round trips -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("forward", "backward"), [
    (wgs84_to_gcj02, gcj02_to_wgs84),
    (wgs84_to_bd09, bd09_to_wgs84),
    (gcj02_to_bd09, bd09_to_gcj02),
], ids=["wgs-gcj-wgs", "wgs-bd-wgs", "gcj-bd-gcj"])
def test_round_trips(forward, backward):
    worst = 0.0
    for lon, lat in ALL_POINTS:
        back = backward(*forward(lon, lat))
        worst = max(worst, math.fabs(back[0] - lon), math.fabs(back[1] - lat))
    assert worst < TOL
    # The inverses iterate to convergence (measured worst ~2e-9); a one-step approximation would
    # leave up to ~5e-5 here and the closed-form BD-09 inverse ~2e-6.
    assert worst < 1e-8


@pytest.mark.parametrize(("forward", "backward"), [
    (wgs84_to_gcj02, gcj02_to_wgs84),
    (wgs84_to_bd09, bd09_to_wgs84),
    (gcj02_to_bd09, bd09_to_gcj02),
], ids=["gcj-wgs-gcj", "bd-wgs-bd", "bd-gcj-bd"])
def test_inverse_then_forward(forward, backward):
    for lon, lat in SUZHOU:
        assert_close(forward(*backward(lon, lat)), (lon, lat))


@pytest.mark.parametrize("coord_sys", ["wgs84", "gcj02", "bd09"])
def test_to_and_from_wgs84_round_trip(coord_sys):
    for lon, lat in ALL_POINTS:
        assert_close(to_wgs84(*from_wgs84(lon, lat, coord_sys), coord_sys), (lon, lat))


def test_to_wgs84_dispatches():
    lon, lat = 120.62, 31.32
    assert to_wgs84(lon, lat, "wgs84") == (lon, lat)
    assert from_wgs84(lon, lat, "wgs84") == (lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == gcj02_to_wgs84(lon, lat)
    assert to_wgs84(lon, lat, "bd09") == bd09_to_wgs84(lon, lat)
    assert from_wgs84(lon, lat, "gcj02") == wgs84_to_gcj02(lon, lat)
    assert from_wgs84(lon, lat, "bd09") == wgs84_to_bd09(lon, lat)
    # The API passes CoordSys members; they are str subclasses and must behave like the strings.
    assert to_wgs84(lon, lat, CoordSys.BD09) == to_wgs84(lon, lat, "bd09")
    assert to_wgs84(lon, lat, CoordSys.GCJ02) != (lon, lat)


# --- outside China ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lon", "lat"), OUTSIDE)
def test_outside_china_unchanged(lon, lat):
    assert coords.out_of_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == (lon, lat)
    assert from_wgs84(lon, lat, "gcj02") == (lon, lat)
    # BD-09 is applied everywhere (as in the reference implementations) but still round-trips.
    assert_close(bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), (lon, lat))


def test_china_box_edges():
    assert not coords.out_of_china(72.004, 0.8293)
    assert not coords.out_of_china(137.8347, 55.8271)
    assert coords.out_of_china(72.0039, 30.0)
    assert coords.out_of_china(137.8348, 30.0)
    assert coords.out_of_china(110.0, 0.8292)
    assert coords.out_of_china(110.0, 55.8272)
    assert wgs84_to_gcj02(72.0039, 30.0) == (72.0039, 30.0)
    assert wgs84_to_gcj02(72.0041, 30.0) != (72.0041, 30.0)


# --- unknown coordinate systems --------------------------------------------------------------------------

@pytest.mark.parametrize("func", [to_wgs84, from_wgs84, coords.to_wgs84_many, coords.from_wgs84_many])
@pytest.mark.parametrize("bad", ["WGS84", "gcj-02", "bd09ll", "", "mercator"])
def test_unknown_coord_sys_raises(func, bad):
    with pytest.raises(ValueError, match="unknown coordinate system") as excinfo:
        func(120.6, 31.3, bad)
    message = str(excinfo.value)
    assert "wgs84" in message and "gcj02" in message and "bd09" in message


# --- numpy versions --------------------------------------------------------------------------------------

# The array inverses iterate until every point has converged, so a point may get one step more than
# its scalar twin: the two agree to the iteration's ~1e-9 precision rather than bit for bit.
PARITY_TOL = 1e-8
MIXED = ALL_POINTS + OUTSIDE
MIXED_LONS = np.array([p[0] for p in MIXED])
MIXED_LATS = np.array([p[1] for p in MIXED])

SCALAR_AND_MANY = [
    (wgs84_to_gcj02, coords.wgs84_to_gcj02_many),
    (gcj02_to_wgs84, coords.gcj02_to_wgs84_many),
    (gcj02_to_bd09, coords.gcj02_to_bd09_many),
    (bd09_to_gcj02, coords.bd09_to_gcj02_many),
    (wgs84_to_bd09, coords.wgs84_to_bd09_many),
    (bd09_to_wgs84, coords.bd09_to_wgs84_many),
]


@pytest.mark.parametrize(("scalar", "many"), SCALAR_AND_MANY, ids=[s.__name__ for s, _ in SCALAR_AND_MANY])
def test_many_matches_scalar(scalar, many):
    lons, lats = many(MIXED_LONS, MIXED_LATS)
    assert lons.shape == lats.shape == MIXED_LONS.shape
    assert lons.dtype == lats.dtype == np.float64
    expected = np.array([scalar(lon, lat) for lon, lat in MIXED])
    np.testing.assert_allclose(lons, expected[:, 0], rtol=0, atol=PARITY_TOL)
    np.testing.assert_allclose(lats, expected[:, 1], rtol=0, atol=PARITY_TOL)


@pytest.mark.parametrize("coord_sys", ["wgs84", "gcj02", "bd09"])
def test_to_and_from_wgs84_many_match_scalar(coord_sys):
    to_lons, to_lats = coords.to_wgs84_many(MIXED_LONS, MIXED_LATS, coord_sys)
    from_lons, from_lats = coords.from_wgs84_many(MIXED_LONS, MIXED_LATS, coord_sys)
    for i, (lon, lat) in enumerate(MIXED):
        to_got = (float(to_lons[i]), float(to_lats[i]))
        from_got = (float(from_lons[i]), float(from_lats[i]))
        assert_close(to_got, to_wgs84(lon, lat, coord_sys), PARITY_TOL)
        assert_close(from_got, from_wgs84(lon, lat, coord_sys), PARITY_TOL)


def test_many_reference_vectors_and_outside_unchanged():
    # eviltransform python/test.py rows again, through the array path.
    wgs_lons = [row[1] for row in EVILTRANSFORM]
    wgs_lats = [row[0] for row in EVILTRANSFORM]
    gcj_lons, gcj_lats = coords.wgs84_to_gcj02_many(wgs_lons, wgs_lats)
    np.testing.assert_allclose(gcj_lons, [row[3] for row in EVILTRANSFORM], rtol=0, atol=TOL)
    np.testing.assert_allclose(gcj_lats, [row[2] for row in EVILTRANSFORM], rtol=0, atol=TOL)
    out_lons = np.array([p[0] for p in OUTSIDE])
    out_lats = np.array([p[1] for p in OUTSIDE])
    for func in (coords.wgs84_to_gcj02_many, coords.gcj02_to_wgs84_many):
        lons, lats = func(out_lons, out_lats)
        np.testing.assert_array_equal(lons, out_lons)
        np.testing.assert_array_equal(lats, out_lats)


def test_many_round_trip_and_shapes():
    lons = np.linspace(120.4, 120.8, 12).reshape(3, 4)
    lats = np.linspace(31.1, 31.5, 12).reshape(3, 4)
    back_lons, back_lats = coords.bd09_to_wgs84_many(*coords.wgs84_to_bd09_many(lons, lats))
    assert back_lons.shape == (3, 4)
    np.testing.assert_allclose(back_lons, lons, rtol=0, atol=TOL)
    np.testing.assert_allclose(back_lats, lats, rtol=0, atol=TOL)
    # Inputs are broadcast together and never modified in place.
    lons_copy = lons.copy()
    glons, glats = coords.wgs84_to_gcj02_many(lons, 31.3)
    assert glons.shape == glats.shape == (3, 4)
    np.testing.assert_array_equal(lons, lons_copy)
    expected = wgs84_to_gcj02(float(lons[1, 2]), 31.3)
    assert_close((float(glons[1, 2]), float(glats[1, 2])), expected, PARITY_TOL)
