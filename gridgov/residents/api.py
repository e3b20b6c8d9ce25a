"""The residents API: people (masked), their key-population tags and visits, houses, households, units.

Thin: selectors read within the caller's scope, services write and refuse; their ServiceErrors become the JSON
4xx answers of config/api.py. A record outside your scope is a 404. ID numbers and phones are masked in every
answer; the plain value comes only from POST /residents/people/{id}/unmask (403 without the permission), and
each such call is written to the audit log. A duplicate ID number is a 409 `duplicate_id`; a bad value a 422
naming the field.
"""

from ninja import Query, Router
from ninja.pagination import PageNumberPagination, paginate
from ninja.responses import Status

from gridgov.core.errors import InvalidInput
from gridgov.core.schemas import ErrorOut
from gridgov.core.scope import scope_q
from gridgov.geo.models import Grid

from . import selectors, services
from .models import House, Household, Resident
from .schemas import (
    AddressOut,
    HouseholdOut,
    HouseOut,
    KeyTagOut,
    PeopleQuery,
    ResidentDetailOut,
    ResidentIn,
    ResidentOut,
    ResidentPatch,
    ResidentTagOut,
    TagIn,
    UnitOut,
    UnmaskIn,
    UnmaskOut,
    VisitDueOut,
    VisitIn,
    VisitOut,
)

router = Router(tags=["residents"])

READ = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", details=[{"field": field, "message": message}])


def _detail(request, pk: int) -> Resident:
    resident = selectors.resident_get(user=request.auth, pk=pk)
    resident.visible_tags = selectors.resident_tags(user=request.auth, resident=resident)
    return resident


def _grid(user, code: str) -> Grid:
    grid = Grid.objects.filter(scope_q(user), code=code).first()
    if grid is None:
        raise _bad("grid", "no such grid in your area")
    return grid


def _data(user, payload: ResidentPatch) -> dict:
    """The payload as resident_save takes it: house and household resolved within the caller's scope."""
    data = payload.dict(exclude_unset=True)
    data.pop("grid", None)
    for field, model in (("house", House), ("household", Household)):
        if field in data and data[field] is not None:
            obj = model.objects.filter(scope_q(user), pk=data[field]).first()
            if obj is None:
                raise _bad(field, f"no such {field} in your area")
            data[field] = obj
    return data


# --- people ---------------------------------------------------------------------------------------------------

@router.get("/people", response={200: list[ResidentOut], **READ}, summary="Residents in my scope (masked)")
@paginate(PageNumberPagination)
def people(request, filters: Query[PeopleQuery]):
    return selectors.resident_list(user=request.auth, q=filters.q or "", grid=filters.grid or "",
                                   tag=filters.tag or "", status=filters.status or None)


@router.get("/people/{int:pk}", response={200: ResidentDetailOut, **READ},
            summary="One resident with the key-population tags visible to me (identifiers masked)")
def person(request, pk: int):
    return _detail(request, pk)


@router.post("/people", response={201: ResidentDetailOut, **WRITE}, summary="Register a resident",
             description="`grid` (a grid code) or `house` places the record. A duplicate ID number is a 409 "
                         "`duplicate_id`; an invalid ID number (check digit, birth date) a 422 on `id_number`.")
def person_create(request, payload: ResidentIn):
    data = _data(request.auth, payload)
    if payload.grid:
        grid = _grid(request.auth, payload.grid)
    elif data.get("house") is not None:
        grid = data["house"].grid
    else:
        raise _bad("grid", "give a grid code or a house")
    resident, _ = services.resident_save(by=request.auth, grid=grid, data=data)
    return Status(201, _detail(request, resident.pk))


@router.patch("/people/{int:pk}", response={200: ResidentDetailOut, **WRITE}, summary="Change a resident's facts")
def person_update(request, pk: int, payload: ResidentPatch):
    resident = selectors.resident_get(user=request.auth, pk=pk)
    grid = _grid(request.auth, payload.grid) if payload.grid else resident.grid
    services.resident_save(by=request.auth, grid=grid, data=_data(request.auth, payload), resident=resident)
    return _detail(request, pk)


@router.post("/people/{int:pk}/unmask", response={200: UnmaskOut, **WRITE},
             summary="The full ID number or phone (needs the permission; every call is audited)")
def person_unmask(request, pk: int, payload: UnmaskIn):
    resident = selectors.resident_get(user=request.auth, pk=pk)
    value = services.resident_unmask(resident=resident, field=payload.field, by=request.auth)
    return {"field": payload.field, "value": value}


@router.post("/people/{int:pk}/tags", response={200: ResidentTagOut, **WRITE},
             summary="Set a key-population tag with its grade (sensitive tags need the permission)")
def person_tag(request, pk: int, payload: TagIn):
    resident = selectors.resident_get(user=request.auth, pk=pk)
    tag = selectors.visible_tags(user=request.auth).filter(code=payload.tag).first()
    if tag is None:
        raise _bad("tag", "unknown tag")
    return services.resident_tag_set(resident=resident, tag=tag, by=request.auth, grade=payload.grade,
                                     note=payload.note, active=payload.active, since=payload.since)


@router.post("/people/{int:pk}/visits", response={201: VisitOut, **WRITE}, summary="Record a visit")
def person_visit(request, pk: int, payload: VisitIn):
    resident = selectors.resident_get(user=request.auth, pk=pk)
    tag = None
    if payload.tag:
        tag = selectors.visible_tags(user=request.auth).filter(code=payload.tag).first()
        if tag is None:
            raise _bad("tag", "unknown tag")
    data = payload.dict(exclude={"tag"})
    return Status(201, services.visit_record(resident=resident, by=request.auth, tag=tag, **data))


# --- houses, households, units, tags, visits due ----------------------------------------------------------------

@router.get("/addresses", response={200: list[AddressOut], **READ}, summary="Standard addresses in my scope")
@paginate(PageNumberPagination)
def addresses(request, grid: str = "", q: str = ""):
    return selectors.address_list(user=request.auth, grid=grid, q=q)


@router.get("/houses", response={200: list[HouseOut], **READ}, summary="Houses in my scope")
@paginate(PageNumberPagination)
def houses(request, grid: str = ""):
    return selectors.house_list(user=request.auth, grid=grid)


@router.get("/households/{int:pk}", response={200: HouseholdOut, **READ},
            summary="A household with its members (head first)")
def household(request, pk: int):
    household = selectors.household_get(user=request.auth, pk=pk)
    order = {"head": 0}
    household.member_rows = sorted(household.members.filter(scope_q(request.auth)),
                                   key=lambda m: (order.get(m.relation, 1), m.pk))
    return household


@router.get("/units", response={200: list[UnitOut], **READ}, summary="Units (businesses, organisations)")
@paginate(PageNumberPagination)
def units(request, grid: str = ""):
    return selectors.unit_list(user=request.auth, grid=grid)


@router.get("/tags", response={200: list[KeyTagOut], 401: ErrorOut},
            summary="Key-population tags visible to me, with their visit policies")
def tags(request):
    return list(selectors.visible_tags(user=request.auth))


@router.get("/visits/due", response={200: list[VisitDueOut], **READ},
            summary="Key-population residents to visit within a week, overdue first")
@paginate(PageNumberPagination)
def visits_due(request):
    return selectors.visits_due(user=request.auth)

