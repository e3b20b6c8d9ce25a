"""Mark related rows of a just-written object as loaded, so that answering with it reads nothing back.

`loaded(case, tasks=[], steps=[step])` stores the lists where `prefetch_related` would have put them:
`case.tasks.all()` then answers from memory. Only for objects whose related rows this code has just written
itself (a new case has no tasks yet), never to hide rows that exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


def loaded(obj: models.Model, **related: Iterable[models.Model]) -> models.Model:
    """`related`: reverse foreign-key accessors (e.g. `tasks`) and the rows they hold."""
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    for accessor, rows in related.items():
        manager = getattr(obj, accessor)
        queryset = manager.get_queryset()  # lazy: no query
        queryset._result_cache = list(rows)  # the form prefetch_related leaves (Django's prefetch_one_level)
        queryset._prefetch_done = True
        cache[manager.field.remote_field.cache_name] = queryset
    return obj
