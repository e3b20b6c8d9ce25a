"""Factories for areas and grids: rectangles in degrees, paths derived from the parent."""

from __future__ import annotations

import factory

from gridgov.geo.geometry import describe
from gridgov.geo.models import Area, Grid


def rect(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat],
                         [min_lon, min_lat]]],
    }


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    code = factory.Sequence(lambda n: f"A{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Area {o.code}")
    level = "city"
    parent = None
    depth = factory.LazyAttribute(lambda o: (o.parent.depth + 1) if o.parent else 0)
    path = factory.LazyAttribute(lambda o: (o.parent.path if o.parent else "") + o.code + "/")


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid

    class Params:
        bounds = (120.60, 31.30, 120.61, 31.31)

    code = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Grid {o.code}")
    kind = "residential"
    community = factory.SubFactory(AreaFactory, level="community")
    path = factory.LazyAttribute(lambda o: o.community.path + o.code + "/")
    geometry = factory.LazyAttribute(lambda o: rect(*o.bounds))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs.update(describe(kwargs["geometry"]))
        return super()._create(model_class, *args, **kwargs)


def make_tree(*, prefix: str = "32") -> dict[str, Area]:
    """city → district → street → community, each one node."""
    city = AreaFactory(code=f"{prefix}0500", level="city", name="S City")
    district = AreaFactory(code=f"{prefix}0508", level="district", parent=city, name="District")
    street = AreaFactory(code=f"{prefix}0508001", level="street", parent=district, name="Street")
    community = AreaFactory(code=f"{prefix}0508001001", level="community", parent=street, name="Community")
    return {"city": city, "district": district, "street": street, "community": community}
