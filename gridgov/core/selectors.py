from __future__ import annotations

from .models import JobRun


def job_status() -> list[dict]:
    return [
        {"name": j.name, "last_finished_at": j.last_finished_at and j.last_finished_at.isoformat(),
         "ok": j.last_ok, "runs": j.runs, "failures": j.failures}
        for j in JobRun.objects.order_by("name")
    ]


def calendar_years() -> list[int]:
    """The years the working calendar has data for (deadlines beyond them count plain Monday–Friday)."""
    from django.db.models.functions import ExtractYear

    from .models import CalendarDay

    return sorted(set(CalendarDay.objects.annotate(y=ExtractYear("date")).values_list("y", flat=True)))


def home_context(*, user) -> dict:
    """What the home page shows a user: their role, scope and the next steps for that role."""
    from gridgov.geo.selectors import area_list, grid_list

    grids = grid_list(user=user)
    return {
        "grid_count": grids.count(),
        "my_grids": list(user.grids.select_related("community").order_by("code")[:20]),
        "scope_area": user.area,
        "top_areas": list(area_list(user=user).filter(path__in=_top_paths(user))),
    }


def _top_paths(user) -> list[str]:
    from .scope import scope_paths

    paths = scope_paths(user)
    if paths is None:
        from gridgov.geo.models import Area

        return list(Area.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return paths
