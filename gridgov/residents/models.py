"""一标三实: standard addresses (geo.Address), actual houses, actual population, households, actual units,
key-population tags with visit policies, and visits. Personal identifiers are stored encrypted (AES-GCM,
gridgov.core.crypto) with a keyed blind index for exact lookup; every record keeps its change history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from gridgov.core.models import BaseModel

from .choices import (
    Frequency,
    Gender,
    HouseUse,
    PersonStatus,
    PoliticalStatus,
    Presence,
    Relation,
    ResidenceType,
    VisitForm,
)


def history_unindexed(*names: str) -> list[str]:
    """Columns of a history table left without an index: history is read per object (by `id`) and by date,
    never searched by these — each index would be kept up on every write (half an import's time)."""
    return [*names, "created_by", "updated_by"]


class House(BaseModel):
    """An actual house (实有房屋) at a standard address."""

    address = models.OneToOneField("geo.Address", verbose_name=_("address"), on_delete=models.PROTECT,
                                   related_name="house")
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="houses")
    path = models.CharField(max_length=255, db_index=True)
    use = models.CharField(_("use"), max_length=12, choices=HouseUse.choices, default=HouseUse.RESIDENTIAL)
    floor_area = models.DecimalField(_("floor area (m²)"), max_digits=8, decimal_places=2, null=True, blank=True)
    owner_name = models.CharField(_("owner"), max_length=50, blank=True)
    owner_phone = models.CharField(_("owner's phone (encrypted)"), max_length=200, blank=True)
    rented = models.BooleanField(_("rented out"), default=False)
    confirmed_at = models.DateTimeField(_("last confirmed"), null=True, blank=True)
    history = HistoricalRecords(no_db_index=history_unindexed("address", "grid", "path"))

    class Meta:
        ordering = ["address__full_text"]
        verbose_name = _("house")
        verbose_name_plural = _("houses")

    def __str__(self) -> str:
        return str(self.address)


class Household(BaseModel):
    """A household (户): its members are residents with a relation to the head."""

    number = models.CharField(_("household number"), max_length=30, unique=True)
    house = models.ForeignKey(House, verbose_name=_("house"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="households")
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT,
                             related_name="households")
    path = models.CharField(max_length=255, db_index=True)
    history = HistoricalRecords(no_db_index=history_unindexed("number", "house", "grid", "path"))

    class Meta:
        ordering = ["number"]
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.number


class Resident(BaseModel):
    """An actual resident (实有人口). `id_number`/`phone` hold ciphertexts; `*_index` their blind indexes."""

    name = models.CharField(_("name"), max_length=50)  # indexed by (name, birth_date) below
    id_number = models.CharField(_("ID number (encrypted)"), max_length=200, blank=True)
    id_index = models.CharField(max_length=64, blank=True, db_index=True)
    id_last4 = models.CharField(max_length=4, blank=True)  # for the masked display 3205**********1234
    id_region = models.CharField(max_length=6, blank=True)
    gender = models.CharField(_("gender"), max_length=6, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, db_index=True)
    ethnicity = models.CharField(_("ethnicity (GB/T 3304)"), max_length=2, blank=True)
    phone = models.CharField(_("phone (encrypted)"), max_length=200, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    phone_last4 = models.CharField(max_length=4, blank=True)
    registered_address = models.CharField(_("registered residence (户籍地)"), max_length=200, blank=True)
    house = models.ForeignKey(House, verbose_name=_("actual address"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="residents")
    household = models.ForeignKey(Household, verbose_name=_("household"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="members")
    relation = models.CharField(_("relation to the head"), max_length=12, choices=Relation.choices, blank=True)
    presence = models.CharField(_("residence and registration"), max_length=20, choices=Presence.choices,
                                default=Presence.CONSISTENT)
    residence_type = models.CharField(_("residence type"), max_length=12, choices=ResidenceType.choices,
                                      default=ResidenceType.REGISTERED)
    occupation = models.CharField(_("occupation"), max_length=50, blank=True)
    political_status = models.CharField(_("political status"), max_length=14, choices=PoliticalStatus.choices,
                                        default=PoliticalStatus.MASSES)
    status = models.CharField(_("status"), max_length=10, choices=PersonStatus.choices, default=PersonStatus.ACTIVE,
                              db_index=True)
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="residents")
    path = models.CharField(max_length=255, db_index=True)
    confirmed_at = models.DateTimeField(_("last confirmed"), null=True, blank=True, db_index=True)
    completeness = models.PositiveSmallIntegerField(_("completeness (%)"), default=0)
    history = HistoricalRecords(excluded_fields=["completeness"], no_db_index=history_unindexed(
        "name", "id_index", "birth_date", "phone_index", "house", "household", "status", "grid", "path",
        "confirmed_at"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        constraints = [
            # the same person once: a hard duplicate is refused (blank index = no ID number recorded)
            models.UniqueConstraint(fields=["id_index"], condition=~models.Q(id_index=""),
                                    name="residents_resident_unique_id"),
        ]
        indexes = [models.Index(fields=["name", "birth_date"])]
        permissions = [
            ("unmask_personal", _("Can see full ID numbers and phone numbers (each view is audited)")),
            ("view_sensitive_tags", _("Can see sensitive key-population tags")),
        ]

    def __str__(self) -> str:
        return self.name


class Unit(BaseModel):
    """An actual unit (实有单位): a business or organisation at an address."""

    name = models.CharField(_("name"), max_length=100)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=40, blank=True)
    contact_name = models.CharField(_("contact"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone (encrypted)"), max_length=200, blank=True)
    contact_phone_last4 = models.CharField(max_length=4, blank=True)
    address = models.ForeignKey("geo.Address", verbose_name=_("address"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="units")
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="units")
    path = models.CharField(max_length=255, db_index=True)
    confirmed_at = models.DateTimeField(_("last confirmed"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [models.UniqueConstraint(fields=["credit_code"], condition=~models.Q(credit_code=""),
                                               name="residents_unit_unique_credit_code")]

    def __str__(self) -> str:
        return self.name


class KeyTag(BaseModel):
    """A key-population tag (重点人群) with its visit policy; `sensitive` tags need a permission to see."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=50)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    # {"1": "weekly", "2": "monthly", "3": "quarterly"}: visit frequency by grade (1 = most attention)
    visit_policy = models.JSONField(_("visit policy by grade"), default=dict)
    default_frequency = models.CharField(_("default visit frequency"), max_length=10, choices=Frequency.choices,
                                         default=Frequency.MONTHLY)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("key-population tag")
        verbose_name_plural = _("key-population tags")

    def __str__(self) -> str:
        return self.name


class ResidentTag(BaseModel):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tags")
    tag = models.ForeignKey(KeyTag, on_delete=models.PROTECT, related_name="residents")
    grade = models.PositiveSmallIntegerField(_("grade"), default=2)
    since = models.DateField(_("since"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resident", "tag"], name="residents_tag_once")]
        verbose_name = _("key-population record")
        verbose_name_plural = _("key-population records")

    def __str__(self) -> str:
        return f"{self.resident} · {self.tag}"


class Visit(BaseModel):
    """A visit (走访) to a key-population resident."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="visits")
    tag = models.ForeignKey(KeyTag, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits")
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits")
    visited_at = models.DateTimeField(_("time of the visit"), db_index=True)
    form = models.CharField(_("form"), max_length=10, choices=VisitForm.choices, default=VisitForm.HOME)
    purpose = models.CharField(_("type"), max_length=50, blank=True)
    content = models.TextField(_("what was found and said"))
    seen = models.BooleanField(_("person seen"), default=True)
    condition = models.CharField(_("condition"), max_length=100, blank=True)
    measures = models.TextField(_("measures taken"), blank=True)
    path = models.CharField(max_length=255, db_index=True)

    class Meta:
        ordering = ["-visited_at"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"{self.resident} {self.visited_at:%Y-%m-%d}"


class VisitPhoto(models.Model):
    """A photo taken on a visit: checked and stripped like case photos (gridgov.cases.photos)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to="visits/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    photo_lon = models.FloatField(null=True, blank=True)
    photo_lat = models.FloatField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class ImportJob(models.Model):
    """An uploaded resident file waiting to be imported, being imported, or imported (residents.jobs_import)."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting")
        RUNNING = "running", _("importing")
        DONE = "done", _("done")
        REFUSED = "refused", _("refused")
        FAILED = "failed", _("failed")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    filename = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=255)
    dry_run = models.BooleanField(_("dry run"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    message = models.TextField(_("message"), blank=True)
    errors_xlsx = models.FileField(_("error report"), upload_to="imports/%Y/%m/", max_length=255, null=True,
                                   blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("resident import")
        verbose_name_plural = _("resident imports")

    def __str__(self) -> str:
        return self.filename

    @property
    def active(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)
