"""Forms of the intake screens: the grid member's phone report and the hotline operator's entry.

The forms only shape and check the input; `services.case_report` decides (category, extra fields, location,
photos, idempotency) and its refusals are put back on the form by `add_service_error`.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.core import crypto
from gridgov.core.errors import ServiceError
from gridgov.geo.choices import CoordSys

from . import selectors
from .forms import MultipleFileInput, MultiplePhotoField
from .models import Category

MAX_PHOTOS = 9
OUTSIDE_MESSAGE = _("This place is outside every grid we serve.")








def category_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The active categories a case can be filed under (小类), grouped by main class (大类)."""
    return [(node["category"].name, [(c.code, c.name) for c in node["children"]])
            for node in selectors.category_tree() if node["children"]]


def _category(code: str | None) -> Category | None:
    if not code:
        return None
    return Category.objects.filter(code=code, is_active=True, parent__isnull=False).first()


def extra_field(spec: dict) -> forms.Field:
    """A form field for one of Category.extra_fields (shared by the staff and the public report forms)."""
    label = spec.get("label") or spec["code"]
    required = bool(spec.get("required"))
    datatype = spec.get("datatype", "string")
    choices = [(str(v["key"]), v.get("name") or str(v["key"])) for v in spec.get("values", [])]
    if datatype == "number":
        return forms.FloatField(label=label, required=required)
    if datatype == "text":
        return forms.CharField(label=label, required=required, max_length=2000,
                               widget=forms.Textarea(attrs={"rows": 3}))
    if datatype == "datetime":
        return forms.DateTimeField(label=label, required=required,
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                   input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
    if datatype == "singlevaluelist":
        return forms.ChoiceField(label=label, required=required, choices=[("", _("Choose…")), *choices])
    if datatype == "multivaluelist":
        return forms.MultipleChoiceField(label=label, required=required, choices=choices,
                                         widget=forms.CheckboxSelectMultiple)
    return forms.CharField(label=label, required=required, max_length=500)


class IntakeForm(forms.Form):
    """What every intake screen asks: category, description, place, photos, the extra fields of the category."""

    EXTRA_PREFIX = "extra_"
    # service error detail fields → form fields
    FIELD_MAP = {"location": None, "lon": "lon", "lat": "lat", "coord_sys": "coord_sys", "category": "category",
                 "description": "description", "photos": "photos", "address": "address"}

    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(label=_("Description"), max_length=4000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    coord_sys = forms.ChoiceField(label=_("Coordinate system"), choices=CoordSys.choices, initial=CoordSys.WGS84,
                                  required=False)
    photos = MultiplePhotoField(label=_("Photos"), max_files=MAX_PHOTOS,
                                widget=MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"}))
    idempotency_key = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Choose a category")), *category_choices()]
        code = self.data.get("category") if self.is_bound else self.initial.get("category")
        self.chosen_category = _category(code)
        self.extra_specs = list(self.chosen_category.extra_fields or []) if self.chosen_category else []
        for spec in self.extra_specs:
            self.fields[self.EXTRA_PREFIX + spec["code"]] = extra_field(spec)

    # --- rendering helpers ---
    def extra_bound_fields(self):
        return [self[self.EXTRA_PREFIX + spec["code"]] for spec in self.extra_specs]

    # --- cleaning ---
    def clean(self):
        data = super().clean()
        lon, lat = data.get("lon"), data.get("lat")
        if "lon" not in self.errors and "lat" not in self.errors and (lon is None or lat is None):
            self.add_error(None, _("Set the location: use your phone's location or tap the map."))
        data["coord_sys"] = data.get("coord_sys") or CoordSys.WGS84
        return data

    def extra_values(self) -> dict:
        values = {}
        for spec in self.extra_specs:
            value = self.cleaned_data.get(self.EXTRA_PREFIX + spec["code"])
            if value in (None, "", []):
                continue
            values[spec["code"]] = value.isoformat() if hasattr(value, "isoformat") else value
        return values

    def service_kwargs(self) -> dict:
        """The keyword arguments of services.case_report."""
        d = self.cleaned_data
        return {"category": d["category"], "description": d["description"], "address": d.get("address", ""),
                "lon": d["lon"], "lat": d["lat"], "coord_sys": d["coord_sys"], "extra": self.extra_values(),
                "photos": d.get("photos") or [], "idempotency_key": d.get("idempotency_key") or ""}

    def add_service_error(self, exc: ServiceError) -> None:
        """Put a service refusal on the form, on the field it names where there is one."""
        if exc.code == "outside_jurisdiction":
            self.add_error(None, OUTSIDE_MESSAGE)
            return
        placed = False
        for detail in exc.details if isinstance(exc.details, list) else []:
            if not isinstance(detail, dict):
                continue
            name = str(detail.get("field", ""))
            field = (self.EXTRA_PREFIX + name[len("extra."):]) if name.startswith("extra.") else \
                self.FIELD_MAP.get(name, name)
            if field in self.fields:
                message = detail.get("message") or exc.message
                if detail.get("file"):
                    message = exc.message
                self.add_error(field, str(message))
                placed = True
        if not placed:
            self.add_error(None, exc.message)


class ReportForm(IntakeForm):
    """The grid member's phone form: the location is the phone's own (WGS84) or a tap on the map."""

    self_handle = forms.BooleanField(label=_("Handled on the spot"), required=False,
                                     help_text=_("A small problem you solved yourself; attach a photo of the result."))
    handle_note = forms.CharField(label=_("What did you do?"), max_length=2000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        data["coord_sys"] = CoordSys.WGS84  # a phone and the map both give WGS84
        if data.get("self_handle") and not data.get("photos") and "photos" not in self.errors:
            self.add_error("photos", _("A case handled on the spot needs a photo as evidence."))
        return data

    def service_kwargs(self) -> dict:
        return super().service_kwargs() | {"self_handle": bool(self.cleaned_data.get("self_handle")),
                                           "handle_note": self.cleaned_data.get("handle_note", "")}


class HotlineForm(IntakeForm):
    """The hotline operator's entry: who called, and the place (a map tap or coordinates copied from a map)."""

    FIELD_MAP = {**IntakeForm.FIELD_MAP, "reporter_phone": "caller_phone", "reporter_name": "caller_name"}

    caller_name = forms.CharField(label=_("Caller's name"), max_length=50)
    caller_phone = forms.CharField(label=_("Caller's phone"), max_length=30,
                                   widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))

    def clean_caller_phone(self):
        phone = crypto.normalise_phone(self.cleaned_data["caller_phone"])
        if not 7 <= len(phone) <= 12:
            raise forms.ValidationError(_("Enter a phone number of 7 to 12 digits."), code="invalid")
        return phone

    def service_kwargs(self) -> dict:
        return super().service_kwargs() | {"reporter_name": self.cleaned_data["caller_name"],
                                           "reporter_phone": self.cleaned_data["caller_phone"]}
