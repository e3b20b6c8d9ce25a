"""The residents API: people (masked), their key-population tags and visits, houses, households, units.

Thin: selectors read within the caller's scope, services write and refuse; their ServiceErrors become the JSON
4xx answers of config/api.py. A record outside your scope is a 404. ID numbers and phones are masked in every
answer; the plain value comes only from POST /residents/people/{id}/unmask (403 without the permission), and
each such call is written to the audit log. A duplicate ID number is a 409 `duplicate_id`; a bad value a 422
naming the field.

The files are the web UI's: the spreadsheet import runs as the same background job (jobs_import: a small file in
the request, a larger one by the `residents.imports` job), its error report and the export are written by the
importer and the exporter (identifiers masked, the export scoped and audited); visit photos are checked and
stripped by the visit service like case photos. Importing and exporting need the UI's roles (grid members,
dispatchers, administrators: 403 otherwise).
"""

from typing import Annotated, Literal

from django.db.models import Count, Q
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from gridgov.accounts.choices import Role
from gridgov.cases.forms import MAX_PHOTOS
from gridgov.core.downloads import stored_file
from gridgov.core.errors import Forbidden, InvalidInput, NotFound
from gridgov.core.pagination import Pagination, ordered
from gridgov.core.schemas import ErrorOut
from gridgov.core.scope import scope_q
from gridgov.geo.models import Grid

from . import exporter, importer, jobs_import, selectors, services
from .choices import PersonStatus
from .models import House, Household, Resident
from .schemas import (
    AddressOut,
    BuildingOut,
    GridQualityOut,
    HouseDetailOut,
    HouseholdOut,
    HouseOut,
    ImportJobDetailOut,
    ImportJobOut,
    KeyTagOut,
    PeopleQuery,
    PeopleSearchIn,
    ResidentDetailOut,
    ResidentIn,
    ResidentMergeIn,
    ResidentOut,
    ResidentPatch,
    ResidentTagOut,
    TagIn,
    UnitOut,
    UnmaskIn,
    UnmaskOut,
    VisitDetailOut,
    VisitDueOut,
    VisitIn,
    VisitOut,
    VisitUploadForm,
)

router = Router(tags=["residents"])

# The `ordering` choices of the lists (default: the model's order), a public name → the model field.
PEOPLE_ORDER = {"name": "name", "completeness": "completeness", "confirmed_at": "confirmed_at",
                "created_at": "created_at"}
ADDRESS_ORDER = {"address": "full_text", "created_at": "created_at"}
HOUSE_ORDER = {"address": "address__full_text", "confirmed_at": "confirmed_at", "created_at": "created_at"}
UNIT_ORDER = {"name": "name", "confirmed_at": "confirmed_at", "created_at": "created_at"}
AddressOrder = Literal["address", "-address", "created_at", "-created_at"]
HouseOrder = Literal["address", "-address", "confirmed_at", "-confirmed_at", "created_at", "-created_at"]
UnitOrder = Literal["name", "-name", "confirmed_at", "-confirmed_at", "created_at", "-created_at"]
VisitsDueOrder = Literal["due", "-due", "name", "-name", "grid", "-grid", "grade", "-grade", "last_visit",
                         "-last_visit"]
# visits due are computed rows (not a queryset): each ordering's sort key; ties by the due time, then the record
VISITS_DUE_ORDER = {
    "due": lambda d: d.due,
    "name": lambda d: d.record.resident.name,
    "grid": lambda d: d.record.resident.grid.code,
    "grade": lambda d: d.record.grade,
    "last_visit": lambda d: (d.last_visit is not None, d.last_visit or d.due),  # never visited first
}
BuildingId = Annotated[int | None, Query(None, ge=1, le=2**53, description="a building id (GET "
                                                                         "/residents/grids/{code}/buildings)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
Photos = Annotated[list[UploadedFile] | None, File(
    None, description=f"at most {MAX_PHOTOS} JPEG, PNG or WebP photos; their location and time are kept, other "
                      "metadata stripped")]

READ = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
FILES = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _binary(content_types, what: str) -> dict:
    types = [content_types] if isinstance(content_types, str) else content_types
    return {"responses": {200: {"description": what, "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in types}}}}


def _importer(user) -> None:
    # the web UI's rule (views_import IMPORTERS): grid members, dispatchers and administrators
    if not jobs_import.may_import(user):
        raise Forbidden("You may not import or export residents.")


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", details=[{"field": field, "message": message}])


def _detail(request, pk: int) -> Resident:
    resident = selectors.resident_get(user=request.auth, pk=pk)
    resident.visible_tags = selectors.resident_tags(user=request.auth, resident=resident)
    return resident


def _editor(user) -> None:
    # The same rule as the web UI (residents.views EDITORS): leaders read, they do not change records.
    if user.role not in (Role.GRID_MEMBER, Role.DISPATCHER) and not user.is_admin_role:
        raise Forbidden("You may not change residents' records.")


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
@paginate(Pagination)
def people(request, filters: Query[PeopleQuery]):
    return _people(request, filters)


def _people(request, filters: PeopleQuery):
    people = selectors.resident_list(user=request.auth, q=filters.q or "", grid=filters.grid or "",
                                     tag=filters.tag or "", status=filters.status or None)
    return ordered(people, filters.ordering, PEOPLE_ORDER)


@router.post("/people/search", response={200: list[ResidentOut], **READ, 403: ErrorOut},  # 403: CSRF
             summary="Search residents with the filters in the body (keeps an ID number or phone out of URLs)")
@paginate(Pagination)
def people_search(request, payload: PeopleSearchIn):
    return _people(request, payload)


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


@router.post("/people/{int:pk}/confirm", response={200: ResidentDetailOut, **WRITE},
             summary="Confirm a record as still correct (resets its staleness)")
def person_confirm(request, pk: int):
    _editor(request.auth)
    resident = selectors.resident_get(user=request.auth, pk=pk)
    services.resident_confirm(resident=resident, by=request.auth)
    return _detail(request, pk)


@router.post("/people/merge", response={200: ResidentDetailOut, **WRITE},
             summary="Merge two records of the same person: the newer folds into the older, which is returned",
             description="Blanks of the kept record are filled from the other, tags and visits move over, the "
                         "other is marked moved out (kept for history). The same two ids in either order do the "
                         "same; the same id twice is a 422 naming `duplicate`.")
def person_merge(request, payload: ResidentMergeIn):
    _editor(request.auth)
    a = selectors.resident_get(user=request.auth, pk=payload.keep)
    b = selectors.resident_get(user=request.auth, pk=payload.duplicate)
    keep, duplicate = (a, b) if (a.created_at, a.pk) <= (b.created_at, b.pk) else (b, a)
    services.resident_merge(keep=keep, duplicate=duplicate, by=request.auth)
    return _detail(request, keep.pk)


@router.get("/grids/{code}/quality", response={200: GridQualityOut, **READ},
            summary="Data quality of a grid: completeness, stale records, suspected duplicates")
def grid_quality(request, code: str):
    grid = Grid.objects.filter(scope_q(request.auth), code=code[:40]).first()
    if grid is None:
        raise NotFound("No such grid.", code="unknown_grid", details=[{"field": "code"}])
    quality = selectors.grid_quality(user=request.auth, grid_code=grid.code)
    return {"grid": grid.code, "residents": quality.residents,
            "average_completeness": quality.average_completeness, "incomplete": quality.incomplete,
            "stale": quality.stale, "no_house": quality.no_house, "bad_phone": quality.bad_phone,
            "duplicates": [{"keep": k, "duplicate": d} for k, d in quality.duplicates]}


# --- houses, households, units, tags, visits due ----------------------------------------------------------------

@router.get("/addresses", response={200: list[AddressOut], **READ}, summary="Standard addresses in my scope")
@paginate(Pagination)
def addresses(request, grid: str = "", q: str = "", ordering: AddressOrder | None = None):
    return ordered(selectors.address_list(user=request.auth, grid=grid, q=q), ordering, ADDRESS_ORDER)


@router.get("/houses", response={200: list[HouseOut], **READ}, summary="Houses in my scope")
@paginate(Pagination)
def houses(request, grid: str = "", building: BuildingId = None, ordering: HouseOrder | None = None):
    houses = selectors.house_list(user=request.auth, grid=grid)
    if building is not None:
        houses = houses.filter(address__building_id=building)
    # the grid page's count beside each house: its current residents
    houses = houses.annotate(n_residents=Count("residents", filter=Q(residents__status=PersonStatus.ACTIVE)))
    return ordered(houses, ordering, HOUSE_ORDER)


@router.get("/houses/{int:pk}", response={200: HouseDetailOut, **READ},
            summary="A house with everyone recorded there (masked)")
def house(request, pk: int):
    house = House.objects.filter(scope_q(request.auth), pk=pk).select_related("address", "grid").first()
    if house is None:
        raise NotFound("No such house.")
    # the web UI's order: current residents first, then by household and name
    house.resident_rows = list(selectors.resident_list(user=request.auth, status=None).filter(house=house)
                               .order_by("status", "household__number", "name"))
    return house


@router.get("/households/{int:pk}", response={200: HouseholdOut, **READ},
            summary="A household with its members (head first)")
def household(request, pk: int):
    household = selectors.household_get(user=request.auth, pk=pk)
    order = {"head": 0}
    household.member_rows = sorted(household.members.filter(scope_q(request.auth)),
                                   key=lambda m: (order.get(m.relation, 1), m.pk))
    return household


@router.get("/units", response={200: list[UnitOut], **READ}, summary="Units (businesses, organisations)")
@paginate(Pagination)
def units(request, grid: str = "", ordering: UnitOrder | None = None):
    return ordered(selectors.unit_list(user=request.auth, grid=grid), ordering, UNIT_ORDER)


@router.get("/tags", response={200: list[KeyTagOut], 401: ErrorOut},
            summary="Key-population tags visible to me, with their visit policies")
def tags(request):
    return list(selectors.visible_tags(user=request.auth))


@router.get("/visits/due", response={200: list[VisitDueOut], **READ},
            summary="Key-population residents to visit within a week (default: overdue first, by due time)")
@paginate(Pagination)
def visits_due(request, ordering: VisitsDueOrder | None = None):
    rows = selectors.visits_due(user=request.auth)
    if not ordering:
        return rows
    key = VISITS_DUE_ORDER[ordering.lstrip("-")]
    # two stable sorts: the tie-break (due time, then record) always ascending, the key in the asked direction
    rows = sorted(rows, key=lambda d: (d.due, d.record.pk))
    return sorted(rows, key=key, reverse=ordering.startswith("-"))


# --- visits with photos -------------------------------------------------------------------------------------------

@router.get("/people/{int:pk}/visits", response={200: list[VisitDetailOut], **READ},
            summary="A resident's visits, newest first, with their photos",
            description="Visits under a sensitive key-population tag only for users who may see such tags.")
@paginate(Pagination)
def person_visits(request, pk: int):
    resident = selectors.resident_get(user=request.auth, pk=pk)
    return selectors.resident_visits(user=request.auth, resident=resident)


@router.post("/people/{int:pk}/visits/upload", response={201: VisitDetailOut, **WRITE},
             summary="Record a visit with photos (multipart/form-data)",
             description="The fields of `POST /residents/people/{id}/visits` as form fields plus up to "
                         f"{MAX_PHOTOS} `photos` (JPEG, PNG or WebP, each at most GRIDGOV_PHOTO_MAX_BYTES): the web "
                         "UI's visit form. Anything but a real image is a 422 naming `photos` and records nothing. "
                         "Leaders read, they do not record (403).")
def person_visit_upload(request, pk: int, payload: Form[VisitUploadForm], photos: Photos = None):
    _editor(request.auth)
    resident = selectors.resident_get(user=request.auth, pk=pk)
    photos = photos or []
    if len(photos) > MAX_PHOTOS:
        raise _bad("photos", f"attach at most {MAX_PHOTOS} photos")
    tag = None
    if payload.tag:
        tag = selectors.visible_tags(user=request.auth).filter(code=payload.tag).first()
        if tag is None:
            raise _bad("tag", "unknown tag")
    visit = services.visit_record(resident=resident, by=request.auth, tag=tag, photos=photos,
                                  **payload.dict(exclude={"tag"}))
    return Status(201, selectors.resident_visits(user=request.auth, resident=resident).get(pk=visit.pk))


@router.get("/visits/photos/{int:pk}", response={200: None, **READ},
            summary="A visit photo (the `api_url` of a visit's photo)",
            description="The image as stored, for whoever may see the resident visited (and the visit's tag, when "
                        "sensitive); 404 otherwise.",
            openapi_extra=_binary(PHOTO_TYPES, "The photo"))
def visit_photo(request, pk: int):
    photo = selectors.visit_photo_get(user=request.auth, pk=pk)
    return stored_file(photo.file, content_type=photo.content_type, missing=NotFound)


# --- a grid's buildings -------------------------------------------------------------------------------------------

@router.get("/grids/{code}/buildings", response={200: list[BuildingOut], **READ},
            summary="The buildings of a grid with their number of houses (filter houses with `building`)")
@paginate(Pagination)
def grid_buildings(request, code: str):
    grid = Grid.objects.filter(scope_q(request.auth), code=code[:40]).first()
    if grid is None:
        raise NotFound("No such grid.", code="unknown_grid", details=[{"field": "code"}])
    return selectors.grid_buildings(user=request.auth, grid_code=grid.code)


# --- the spreadsheet import and the export ------------------------------------------------------------------------

def _job_out(job):
    job.error_rows = (jobs_import.import_job_errors(job)
                      if job.state == job.State.DONE else [])
    return job


@router.post("/imports", response={201: ImportJobDetailOut, **FILES},
             summary="Import residents from a spreadsheet (multipart/form-data): starts an import job",
             description="`file`: an .xlsx workbook or a CSV file in the template's columns (`GET "
                         "/residents/imports/template.xlsx`); `dry_run` (default true, as in the web UI) checks the "
                         "file and counts what would change, writing nothing. The same job as the web UI's upload: "
                         "a small file is imported before the answer, a larger one by the `residents.imports` "
                         "background job — poll `GET /residents/imports/{id}` until `state` is done, refused or "
                         "failed. A row with a bad value is skipped and listed (line, column, reason) in `errors` "
                         "and in the error report; a file that cannot be read at all ends `refused` with a "
                         "`message`. An empty file is a 422 naming `file`.")
def import_create(request, file: File[UploadedFile], dry_run: Form[bool] = True):
    _importer(request.auth)
    try:
        job = jobs_import.import_job_submit(by=request.auth, upload=file, dry_run=dry_run)
    except InvalidInput as exc:  # an empty file: name the field, keep the service's code
        raise InvalidInput(exc.message, code=exc.code,
                           details=[{"field": "file", "message": exc.message}]) from exc
    if file.size < jobs_import.inline_max_bytes():
        job = jobs_import.import_job_run(job=job)
    return Status(201, _job_out(job))


@router.get("/imports", response={200: list[ImportJobOut], 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="My spreadsheet imports, newest first (every import for an administrator)")
@paginate(Pagination)
def imports(request):
    _importer(request.auth)
    return selectors.import_job_list(user=request.auth)


@router.get("/imports/template.xlsx", response={200: None, 401: ErrorOut, 403: ErrorOut},
            summary="The import template: the columns, their explanations and the value lists",
            openapi_extra=_binary(XLSX, "The template workbook"))
def import_template(request):
    _importer(request.auth)
    response = HttpResponse(importer.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="residents-template.xlsx"'
    return response


@router.get("/imports/{int:pk}", response={200: ImportJobDetailOut, **FILES},
            summary="An import's state, counts and its first row errors (line, column, value, reason)",
            description="Your own imports only (an administrator: any); another's is a 404.")
def import_status(request, pk: int):
    _importer(request.auth)
    return _job_out(selectors.import_job_get(user=request.auth, pk=pk))


@router.get("/imports/{int:pk}/errors.xlsx", response={200: None, **FILES},
            summary="An import's error report: every refused row's line, column, value (masked) and reason",
            description="404 when the import has no row errors.",
            openapi_extra=_binary(XLSX, "The error report"))
def import_errors(request, pk: int):
    _importer(request.auth)
    job = selectors.import_job_get(user=request.auth, pk=pk)
    if not job.errors_xlsx:
        raise NotFound("This import has no error report.")
    base = job.filename.rsplit(".", 1)[0] or "import"
    try:
        handle = job.errors_xlsx.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise NotFound("The error report is missing.") from exc
    response = FileResponse(handle, as_attachment=True, filename=f"{base}-errors.xlsx", content_type=XLSX)
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/export.xlsx", response={200: None, **FILES},
            summary="The residents in my scope (or of one grid) as xlsx, identifiers masked (audited)",
            description="The web UI's export: the import template's columns plus gender, birth date and status; "
                        "ID numbers and phones masked, never plain. A grid outside your scope is a 404.",
            openapi_extra=_binary(XLSX, "The workbook, streamed"))
def export(request, grid: str = ""):
    _importer(request.auth)
    queryset, name = Resident.objects.all(), "residents"
    if code := grid.strip():
        found = Grid.objects.filter(scope_q(request.auth), code=code[:40]).first()
        if found is None:
            raise NotFound("No such grid in your area.", code="unknown_grid", details=[{"field": "grid"}])
        queryset, name = queryset.filter(grid=found), f"residents-{found.code}"
    response = StreamingHttpResponse(exporter.export_xlsx(user=request.auth, queryset=queryset), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    response["Cache-Control"] = "private, no-store"
    return response

