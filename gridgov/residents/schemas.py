"""Schemas of the residents API. Identifiers go out masked only (`id_masked`, `phone_masked`); the plain value
is the answer of POST /residents/people/{id}/unmask, which is audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Field, Schema

from . import selectors
from .choices import VisitForm

# --- input ---------------------------------------------------------------------------------------------------


class PeopleQuery(Schema):
    q: str | None = Field(None, max_length=100, description="name (contains), or a full ID number or phone "
                                                            "(exact, through the blind index)")
    grid: str | None = Field(None, max_length=32, description="grid code")
    tag: str | None = Field(None, max_length=30, description="key-population tag code")
    status: str | None = Field("active", description="active, moved_out, deceased; empty for all")
    ordering: Literal["name", "-name", "completeness", "-completeness", "confirmed_at", "-confirmed_at",
                      "created_at", "-created_at"] | None = Field(None, description="default: by name")


class PeopleSearchIn(PeopleQuery):
    """The filters of GET /residents/people in a body: an ID number or phone searched for stays out of URLs,
    browser history and access logs (as the web UI's search, which posts too)."""

    model_config = {"extra": "forbid"}


class ResidentPatch(Schema):
    """Facts to change; an omitted field keeps its value. `id_number` / `phone` replace the stored ciphertext
    (an empty string removes it)."""

    name: str | None = Field(None, max_length=50)
    id_number: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=30)
    ethnicity: str | None = Field(None, max_length=20, description="GB/T 3304 code (01) or name (汉族)")
    registered_address: str | None = Field(None, max_length=200)
    presence: str | None = Field(None, max_length=20)
    residence_type: str | None = Field(None, max_length=12)
    occupation: str | None = Field(None, max_length=50)
    political_status: str | None = Field(None, max_length=14)
    status: str | None = Field(None, max_length=10)
    relation: str | None = Field(None, max_length=12)
    grid: str | None = Field(None, max_length=32, description="grid code (to move the record)")
    house: int | None = Field(None, description="house id (in the same scope)")
    household: int | None = Field(None, description="household id (in the same scope)")


class ResidentIn(ResidentPatch):
    name: str = Field(..., max_length=50)
    grid: str | None = Field(None, max_length=32, description="grid code; defaults to the house's grid")


class UnmaskIn(Schema):
    field: Literal["id_number", "phone"]


class TagIn(Schema):
    tag: str = Field(..., max_length=30, description="tag code")
    grade: int = Field(2, ge=1, le=3, description="1 = most attention")
    note: str = Field("", max_length=200)
    active: bool = True
    since: date | None = None


class VisitIn(Schema):
    content: str = Field(..., max_length=4000)
    tag: str | None = Field(None, max_length=30, description="tag code")
    form: VisitForm = VisitForm.HOME
    purpose: str = Field("", max_length=50)
    seen: bool = True
    condition: str = Field("", max_length=100)
    measures: str = Field("", max_length=4000)
    visited_at: datetime | None = None


# --- output --------------------------------------------------------------------------------------------------


class ResidentOut(Schema):
    id: int
    name: str
    id_masked: str
    phone_masked: str
    gender: str
    birth_date: date | None
    grid: str
    house: int | None = Field(None, alias="house_id")
    address: str
    household: int | None = Field(None, alias="household_id")
    relation: str
    status: str
    completeness: int
    confirmed_at: datetime | None

    @staticmethod
    def resolve_id_masked(obj) -> str:
        return selectors.masked_id(obj)

    @staticmethod
    def resolve_phone_masked(obj) -> str:
        return selectors.masked_phone(obj)

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.house.address.full_text if obj.house_id else ""


class ResidentTagOut(Schema):
    tag: str
    name: str
    sensitive: bool
    grade: int
    since: date | None
    note: str

    @staticmethod
    def resolve_tag(obj) -> str:
        return obj.tag.code

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.tag.name

    @staticmethod
    def resolve_sensitive(obj) -> bool:
        return obj.tag.sensitive


class ResidentDetailOut(ResidentOut):
    ethnicity: str
    registered_address: str
    presence: str
    residence_type: str
    occupation: str
    political_status: str
    tags: list[ResidentTagOut] = Field(default_factory=list, alias="visible_tags")


class UnmaskOut(Schema):
    field: str
    value: str


class HouseOut(Schema):
    id: int
    address: str
    grid: str
    use: str
    floor_area: float | None
    owner_name: str
    rented: bool
    active_residents: int = Field(..., description="residents living there now (status active)")

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.address.full_text

    @staticmethod
    def resolve_active_residents(obj) -> int:
        counted = getattr(obj, "n_residents", None)  # annotated by the lists
        return counted if counted is not None else obj.residents.filter(status="active").count()

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code


class HouseDetailOut(HouseOut):
    residents: list[ResidentOut] = Field(..., alias="resident_rows",
                                         description="everyone recorded at the house (any status), masked")


class HouseholdMemberOut(Schema):
    id: int
    name: str
    relation: str
    id_masked: str
    status: str

    @staticmethod
    def resolve_id_masked(obj) -> str:
        return selectors.masked_id(obj)


class HouseholdOut(Schema):
    id: int
    number: str
    grid: str
    house: int | None = Field(None, alias="house_id")
    address: str
    members: list[HouseholdMemberOut] = Field(default_factory=list, alias="member_rows")

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.house.address.full_text if obj.house_id else ""


class UnitOut(Schema):
    id: int
    name: str
    credit_code: str
    kind: str
    contact_name: str
    contact_phone_masked: str
    address: str
    grid: str

    @staticmethod
    def resolve_contact_phone_masked(obj) -> str:
        return f"{'*' * 7}{obj.contact_phone_last4}" if obj.contact_phone_last4 else ""

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.address.full_text if obj.address_id else ""

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code


class KeyTagOut(Schema):
    code: str
    name: str
    sensitive: bool
    visit_policy: dict
    default_frequency: str


class VisitDueOut(Schema):
    resident: int
    name: str
    grid: str
    tag: str
    tag_name: str
    grade: int
    frequency: str
    last_visit: datetime | None
    due: datetime
    overdue: bool

    @staticmethod
    def resolve_resident(obj) -> int:
        return obj.record.resident_id

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.record.resident.name

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.record.resident.grid.code

    @staticmethod
    def resolve_tag(obj) -> str:
        return obj.record.tag.code

    @staticmethod
    def resolve_tag_name(obj) -> str:
        return obj.record.tag.name

    @staticmethod
    def resolve_grade(obj) -> int:
        return obj.record.grade


class VisitOut(Schema):
    id: int
    resident: int = Field(..., alias="resident_id")
    tag: str | None
    visited_at: datetime
    form: str
    purpose: str
    content: str
    seen: bool
    condition: str
    measures: str

    @staticmethod
    def resolve_tag(obj) -> str | None:
        return obj.tag.code if obj.tag_id else None


class AddressOut(Schema):
    """A standard address (标准地址)."""

    id: int
    full_text: str
    grid: str
    community: str
    road: str
    number: str
    building_no: str
    unit: str
    floor: str
    room: str
    lon: float | None
    lat: float | None

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code

    @staticmethod
    def resolve_community(obj) -> str:
        return obj.community.code


class DuplicatePairOut(Schema):
    keep: ResidentOut = Field(..., description="the older record, kept by a merge")
    duplicate: ResidentOut = Field(..., description="the newer record, folded into `keep` by a merge")


class GridQualityOut(Schema):
    """The data quality of a grid's records (the page /residents/grids/{code}/quality/)."""

    grid: str
    residents: int
    average_completeness: int
    incomplete: list[ResidentOut] = Field(..., description="the least complete records first (at most 50)")
    stale: list[ResidentOut] = Field(..., description="records not confirmed for a long time (at most 50)")
    no_house: int
    bad_phone: int
    duplicates: list[DuplicatePairOut] = Field(..., description="suspected duplicates: same name, birth date "
                                                                "and house")


class ResidentMergeIn(Schema):
    model_config = {"extra": "forbid"}

    keep: int = Field(..., ge=1, le=2**53, description="one record's id")
    duplicate: int = Field(..., ge=1, le=2**53, description="the other record's id; the older of the two is kept")


# --- visits with photos, a grid's buildings, imports --------------------------------------------------------------

class VisitUploadForm(VisitIn):
    """The fields of POST /residents/people/{id}/visits as form fields (multipart/form-data, with `photos`)."""

    content: str = Field(..., min_length=1, max_length=4000)


class VisitPhotoOut(Schema):
    id: int
    content_type: str
    width: int
    height: int
    taken_at: datetime | None
    api_url: str = Field(..., description="GET it here (the image; the same checks as the visit)")

    @staticmethod
    def resolve_api_url(obj) -> str:
        return f"/api/v1/residents/visits/photos/{obj.pk}"


class VisitDetailOut(VisitOut):
    visitor: str
    photos: list[VisitPhotoOut]

    @staticmethod
    def resolve_visitor(obj) -> str:
        return obj.visitor.get_username()

    @staticmethod
    def resolve_photos(obj) -> list:
        return list(obj.photos.all())


class BuildingOut(Schema):
    id: int
    code: str
    name: str
    road: str
    number: str
    floors: int | None
    houses: int = Field(..., alias="n_houses", description="houses registered in the building")


class ImportRowErrorOut(Schema):
    line: int = Field(..., description="the line of the file (the header is line 1)")
    column: str = Field(..., description="the column's header; empty for the whole row")
    value: str = Field(..., description="the value (ID numbers and phones masked)")
    reason: str


class ImportJobOut(Schema):
    id: int
    filename: str
    dry_run: bool = Field(..., description="true: checked only, nothing written")
    state: str = Field(..., description="pending, running, done, refused (the file as a whole: `message`) or "
                                        "failed")
    rows_done: int = Field(..., description="data rows read so far")
    created: int
    updated: int
    error_count: int = Field(..., description="rows refused (each line and reason in the error report)")
    message: str
    created_at: datetime
    finished_at: datetime | None
    errors_url: str | None = Field(..., description="the error report (xlsx) when there are row errors")

    @staticmethod
    def resolve_errors_url(obj) -> str | None:
        return f"/api/v1/residents/imports/{obj.pk}/errors.xlsx" if obj.errors_xlsx else None


class ImportJobDetailOut(ImportJobOut):
    errors: list[ImportRowErrorOut] = Field(..., alias="error_rows",
                                            description="the first 50 row errors of a finished import")
