"""The page-number pagination of every API list: `{items, count}` with `count` the total, and a bound on
`page` so that a huge page number is a 422 naming `page` rather than an SQL offset overflow (a 500)."""

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 1_000_000


class Pagination(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE:,}")
        page_size: int | None = Field(None, ge=1, description="items per page (default 50, at most 200)")


def ordered(queryset, ordering: str | None, fields: dict[str, str]):
    """Order a list by `ordering`, a key of `fields` (the public name → the model field), `-` first for
    descending; ties broken by the primary key so that pages do not overlap. The endpoint's schema declares the
    choices (a Literal), so an unknown one is a 422 naming `ordering` before this runs."""
    if not ordering:
        return queryset
    descending = ordering.startswith("-")
    field = fields[ordering.lstrip("-")]
    sign = "-" if descending else ""
    return queryset.order_by(f"{sign}{field}", f"{sign}pk")
