"""Data scope: every selector restricts its rows to the acting user's area nodes.

A scope is a list of materialised paths (e.g. "320500/320508/320508001/"): a row is in scope when its path
starts with one of them. `None` means no restriction (administrators).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

ALL = None  # unrestricted


def scope_paths(user) -> list[str] | None:
    """The paths a user may see, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_scope_paths_cache", False)
    if cached is not False:
        return cached
    paths = user.compute_scope_paths()
    user._scope_paths_cache = paths
    return paths


def prefix_q(field: str, path: str) -> Q:
    """Rows whose `field` starts with `path` (which ends with "/").

    On SQLite, LIKE is case-insensitive and cannot use the index, so the prefix is written as the equivalent
    range [path, path-with-"/"-replaced-by-"0"): exact, case-sensitive and an index search. PostgreSQL's LIKE
    is already exact.
    """
    if connection.vendor == "sqlite" and path.endswith("/"):
        return Q(**{f"{field}__gte": path, f"{field}__lt": path[:-1] + "0"})
    return Q(**{f"{field}__startswith": path})


def covers_every_root(user) -> bool:
    """True when the user's scope takes in every root area's whole tree (a city's leader in a one-city
    installation): every located row lies under a root area, so such a scope selects what no restriction does,
    and a query may drop it — on SQLite the path range would otherwise be taken as the index, and a page of a
    city's cases ordered by date was sorted out of all of them (2.3 s at 1,000,000 cases). Cached on the user
    for the request like the paths."""
    cached = getattr(user, "_covers_every_root_cache", None)
    if cached is not None:
        return cached
    paths = scope_paths(user)
    covers = False
    if paths:  # not ALL (None) and not nothing
        from gridgov.geo.models import Area

        roots = list(Area.objects.filter(parent__isnull=True).values_list("path", flat=True))
        covers = bool(roots) and all(any(root.startswith(p) for p in paths) for root in roots)
    if user is not None:
        user._covers_every_root_cache = covers
    return covers


def scope_q(user, field: str = "path") -> Q:
    """A Q object matching the rows under the user's scope (rows whose `field` starts with a scope path)."""
    paths = scope_paths(user)
    if paths is ALL:
        return Q()
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for path in paths:
        q |= prefix_q(field, path)
    return q


def scope_filter(qs: QuerySet, user, field: str = "path") -> QuerySet:
    return qs.filter(scope_q(user, field))


def in_scope(user, path: str) -> bool:
    paths = scope_paths(user)
    if paths is ALL:
        return True
    return any(path.startswith(p) for p in paths)


def ancestor_paths(path: str) -> list[str]:
    """'a/b/c/' -> ['a/', 'a/b/', 'a/b/c/']"""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
