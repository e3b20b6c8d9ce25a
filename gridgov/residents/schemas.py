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

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.address.full_text

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.grid.code


class MemberOut(Schema):
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
    members: list[MemberOut] = Field(default_factory=list, alias="member_rows")

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
