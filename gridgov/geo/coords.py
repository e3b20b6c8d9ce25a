"""Conversions between WGS84, GCJ-02 and BD-09 longitude/latitude (degrees, longitude first everywhere).

- WGS84: what GPS receivers, OpenStreetMap and our database use.
- GCJ-02 ("Mars" coordinates): the obfuscated datum that maps published in mainland China must use
  (Gaode/AMap, Tencent and other maps of China). It adds a smooth, non-linear offset of a few hundred
  metres to WGS84.
- BD-09: Baidu's extra rotation/scaling layered on top of GCJ-02.

The GCJ-02 offset applies only inside mainland China, approximated by the customary rough bounding box
(``out_of_china``: lon outside 72.004..137.8347 or lat outside 0.8293..55.8271). Outside that box
WGS84 and GCJ-02 are the same coordinates and the conversion returns its input unchanged. The box is
coarse: it also covers neighbouring countries (Korea, most of Japan, Mongolia, much of South-East
Asia), where the offset is applied too, exactly as in the reference implementations. The BD-09 step
is a plain formula on GCJ-02 coordinates and, as in those implementations, is applied everywhere.

GCJ-02 and BD-09 have no closed-form inverse. ``gcj02_to_wgs84`` and ``bd09_to_gcj02`` invert the
forward formulas by fixed-point iteration until the correction is below ``INVERSE_TOLERANCE`` degrees,
so a round trip agrees to ~2e-9 degrees (measured maximum over mainland China), instead of
the ~5e-5 degrees (~5 m) of the common one-step GCJ-02 approximation and the ~2e-6 degrees of the
customary closed-form BD-09 inverse.

The ``*_many`` functions do the same on numpy arrays (broadcast together, returned as float64 arrays)
with the same formulas, for batch imports.
"""

import math
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .choices import CoordSys

WGS84: Final[str] = CoordSys.WGS84.value
GCJ02: Final[str] = CoordSys.GCJ02.value
BD09: Final[str] = CoordSys.BD09.value
COORD_SYSTEMS: Final[tuple[str, ...]] = (WGS84, GCJ02, BD09)

# GCJ-02 is defined on the Krasovsky 1940 ellipsoid: semi-major axis (m) and first eccentricity squared.
KRASOVSKY_A: Final = 6378245.0
KRASOVSKY_EE: Final = 0.00669342162296594323
# BD-09 works in "x_pi" radians: degrees scaled by 3000, then a fixed 0.0065/0.006 degree shift.
BD_X_PI: Final = math.pi * 3000.0 / 180.0
BD_DLON: Final = 0.0065
BD_DLAT: Final = 0.006

# The inverse iterations stop once a step moves the estimate by less than this many degrees (~1 cm).
# Each step shrinks the error at least ~150-fold (GCJ-02) or ~40-fold (BD-09), so 1-4 steps suffice and
# the remaining error is ~1e-9 degrees.
INVERSE_TOLERANCE: Final = 1e-7
MAX_INVERSE_STEPS: Final = 10

# The rough mainland-China bounding box of the published algorithm.
CHINA_MIN_LON: Final = 72.004
CHINA_MAX_LON: Final = 137.8347
CHINA_MIN_LAT: Final = 0.8293
CHINA_MAX_LAT: Final = 55.8271

FloatArray = NDArray[np.float64]


class _Ops(NamedTuple):
    """The elementary functions the formulas need, from ``math`` (scalars) or numpy (arrays).

    Writing each formula once against these keeps the scalar and the vectorised paths on the same
    formulas; they agree to the inverse iteration's ~1e-9 degrees.
    """

    sin: Callable[[Any], Any]
    cos: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    fabs: Callable[[Any], Any]
    hypot: Callable[[Any, Any], Any]
    atan2: Callable[[Any, Any], Any]


_MATH = _Ops(math.sin, math.cos, math.sqrt, math.fabs, math.hypot, math.atan2)
_NUMPY = _Ops(np.sin, np.cos, np.sqrt, np.fabs, np.hypot, np.arctan2)


# --- shared formulas ---------------------------------------------------------------------------------


def _gcj_offset(lon: Any, lat: Any, ops: _Ops) -> tuple[Any, Any]:
    """The GCJ-02 offset (dlon, dlat) in degrees at a WGS84 point, without the China box test."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    # The published obfuscation polynomials, in metres-like units, centred on (105E, 35N).
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * ops.sqrt(ops.fabs(x))
    dlat += (20.0 * ops.sin(6.0 * x * pi) + 20.0 * ops.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * ops.sin(y * pi) + 40.0 * ops.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * ops.sin(y / 12.0 * pi) + 320.0 * ops.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * ops.sqrt(ops.fabs(x))
    dlon += (20.0 * ops.sin(6.0 * x * pi) + 20.0 * ops.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * ops.sin(x * pi) + 40.0 * ops.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * ops.sin(x / 12.0 * pi) + 300.0 * ops.sin(x / 30.0 * pi)) * 2.0 / 3.0
    # Metres to degrees on the Krasovsky ellipsoid: meridian and prime-vertical radii of curvature.
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - KRASOVSKY_EE * ops.sin(rad_lat) ** 2
    sqrt_magic = ops.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * ops.cos(rad_lat) * pi)
    return dlon, dlat


def _bd_encode(lon: Any, lat: Any, ops: _Ops) -> tuple[Any, Any]:
    """GCJ-02 → BD-09: Baidu's small polar perturbation plus a fixed shift."""
    z = ops.hypot(lon, lat) + 0.00002 * ops.sin(lat * BD_X_PI)
    theta = ops.atan2(lat, lon) + 0.000003 * ops.cos(lon * BD_X_PI)
    return z * ops.cos(theta) + BD_DLON, z * ops.sin(theta) + BD_DLAT


def _bd_decode_closed_form(lon: Any, lat: Any, ops: _Ops) -> tuple[Any, Any]:
    """The customary closed-form BD-09 → GCJ-02; it evaluates the perturbation at the wrong point.

    Its round-trip error reaches ~2e-6 degrees over China (measured), above the 1e-6 we want, so it
    only seeds the iteration in the exact inverse.
    """
    x = lon - BD_DLON
    y = lat - BD_DLAT
    z = ops.hypot(x, y) - 0.00002 * ops.sin(y * BD_X_PI)
    theta = ops.atan2(y, x) - 0.000003 * ops.cos(x * BD_X_PI)
    return z * ops.cos(theta), z * ops.sin(theta)


# --- scalars -----------------------------------------------------------------------------------------


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the rough mainland-China bounding box, where GCJ-02 equals WGS84."""
    return not (CHINA_MIN_LON <= lon <= CHINA_MAX_LON and CHINA_MIN_LAT <= lat <= CHINA_MAX_LAT)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → GCJ-02. Unchanged outside China (see the module docstring)."""
    if out_of_china(lon, lat):
        return float(lon), float(lat)
    dlon, dlat = _gcj_offset(lon, lat, _MATH)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS84, the precise inverse of :func:`wgs84_to_gcj02`. Unchanged outside China.

    Fixed-point iteration w ← w − (gcj(w) − target), starting from the one-step approximation; the
    offset's derivative is below ~0.007, so the error falls at least ~150-fold per step.
    """
    if out_of_china(lon, lat):
        return float(lon), float(lat)
    dlon, dlat = _gcj_offset(lon, lat, _MATH)
    wlon, wlat = lon - dlon, lat - dlat
    for _ in range(MAX_INVERSE_STEPS):
        dlon, dlat = _gcj_offset(wlon, wlat, _MATH)
        step_lon = wlon + dlon - lon
        step_lat = wlat + dlat - lat
        wlon -= step_lon
        wlat -= step_lat
        if abs(step_lon) < INVERSE_TOLERANCE and abs(step_lat) < INVERSE_TOLERANCE:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (applied everywhere, as Baidu's published formula is)."""
    return _bd_encode(lon, lat, _MATH)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02, the precise inverse of :func:`gcj02_to_bd09`.

    Starts from the customary closed form (off by up to ~2e-6 degrees) and refines by fixed-point
    iteration on the forward formula.
    """
    glon, glat = _bd_decode_closed_form(lon, lat, _MATH)
    for _ in range(MAX_INVERSE_STEPS):
        blon, blat = _bd_encode(glon, glat, _MATH)
        step_lon = blon - lon
        step_lat = blat - lat
        glon -= step_lon
        glat -= step_lat
        if abs(step_lon) < INVERSE_TOLERANCE and abs(step_lat) < INVERSE_TOLERANCE:
            break
    return glon, glat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → BD-09, through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → WGS84, through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _check_coord_sys(coord_sys: str) -> None:
    if coord_sys not in COORD_SYSTEMS:
        accepted = ", ".join(COORD_SYSTEMS)
        raise ValueError(f"unknown coordinate system {coord_sys!r}; expected one of {accepted}")


def to_wgs84(lon: float, lat: float, coord_sys: str) -> tuple[float, float]:
    """Convert a point given in ``coord_sys`` ("wgs84", "gcj02" or "bd09") to WGS84."""
    _check_coord_sys(coord_sys)
    if coord_sys == GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if coord_sys == BD09:
        return bd09_to_wgs84(lon, lat)
    return float(lon), float(lat)


def from_wgs84(lon: float, lat: float, coord_sys: str) -> tuple[float, float]:
    """Convert a WGS84 point to ``coord_sys`` ("wgs84", "gcj02" or "bd09")."""
    _check_coord_sys(coord_sys)
    if coord_sys == GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if coord_sys == BD09:
        return wgs84_to_bd09(lon, lat)
    return float(lon), float(lat)


# --- numpy arrays ------------------------------------------------------------------------------------


def _as_arrays(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    # Broadcast views are read-only and may alias the caller's data; copy so results can be written.
    lon_in = np.asarray(lons, dtype=np.float64)
    lat_in = np.asarray(lats, dtype=np.float64)
    lon_arr, lat_arr = np.broadcast_arrays(lon_in, lat_in)
    return lon_arr.copy(), lat_arr.copy()


def _converged(step_lon: FloatArray, step_lat: FloatArray) -> bool:
    return bool(np.all(np.abs(step_lon) < INVERSE_TOLERANCE) and np.all(np.abs(step_lat) < INVERSE_TOLERANCE))


def out_of_china_many(lons: ArrayLike, lats: ArrayLike) -> NDArray[np.bool_]:
    """Vectorised :func:`out_of_china`."""
    lon, lat = _as_arrays(lons, lats)
    inside_lon = (lon >= CHINA_MIN_LON) & (lon <= CHINA_MAX_LON)
    inside_lat = (lat >= CHINA_MIN_LAT) & (lat <= CHINA_MAX_LAT)
    return ~(inside_lon & inside_lat)


def wgs84_to_gcj02_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`wgs84_to_gcj02`."""
    lon, lat = _as_arrays(lons, lats)
    inside = ~out_of_china_many(lon, lat)
    dlon, dlat = _gcj_offset(lon[inside], lat[inside], _NUMPY)
    lon[inside] += dlon
    lat[inside] += dlat
    return lon, lat


def gcj02_to_wgs84_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`gcj02_to_wgs84` (same iteration, run until every point has converged)."""
    lon, lat = _as_arrays(lons, lats)
    inside = ~out_of_china_many(lon, lat)
    target_lon, target_lat = lon[inside], lat[inside]
    dlon, dlat = _gcj_offset(target_lon, target_lat, _NUMPY)
    wlon, wlat = target_lon - dlon, target_lat - dlat
    for _ in range(MAX_INVERSE_STEPS):
        dlon, dlat = _gcj_offset(wlon, wlat, _NUMPY)
        step_lon = wlon + dlon - target_lon
        step_lat = wlat + dlat - target_lat
        wlon -= step_lon
        wlat -= step_lat
        if _converged(step_lon, step_lat):
            break
    lon[inside] = wlon
    lat[inside] = wlat
    return lon, lat


def gcj02_to_bd09_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`gcj02_to_bd09`."""
    lon, lat = _as_arrays(lons, lats)
    return _bd_encode(lon, lat, _NUMPY)


def bd09_to_gcj02_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`bd09_to_gcj02`."""
    lon, lat = _as_arrays(lons, lats)
    glon, glat = _bd_decode_closed_form(lon, lat, _NUMPY)
    for _ in range(MAX_INVERSE_STEPS):
        blon, blat = _bd_encode(glon, glat, _NUMPY)
        step_lon = blon - lon
        step_lat = blat - lat
        glon -= step_lon
        glat -= step_lat
        if _converged(step_lon, step_lat):
            break
    return glon, glat


def wgs84_to_bd09_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`wgs84_to_bd09`."""
    return gcj02_to_bd09_many(*wgs84_to_gcj02_many(lons, lats))


def bd09_to_wgs84_many(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`bd09_to_wgs84`."""
    return gcj02_to_wgs84_many(*bd09_to_gcj02_many(lons, lats))


def to_wgs84_many(lons: ArrayLike, lats: ArrayLike, coord_sys: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`to_wgs84`."""
    _check_coord_sys(coord_sys)
    if coord_sys == GCJ02:
        return gcj02_to_wgs84_many(lons, lats)
    if coord_sys == BD09:
        return bd09_to_wgs84_many(lons, lats)
    return _as_arrays(lons, lats)


def from_wgs84_many(lons: ArrayLike, lats: ArrayLike, coord_sys: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`from_wgs84`."""
    _check_coord_sys(coord_sys)
    if coord_sys == GCJ02:
        return wgs84_to_gcj02_many(lons, lats)
    if coord_sys == BD09:
        return wgs84_to_bd09_many(lons, lats)
    return _as_arrays(lons, lats)
