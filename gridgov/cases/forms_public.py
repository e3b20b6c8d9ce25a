"""Forms of the residents' public pages: the report form (with the category's extra fields), the tracking-code
lookup, the on-site confirmation and the satisfaction rating.

The forms only shape the input; the services decide (category, location, extra fields, photos, phone)."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gridgov.core.errors import ServiceError

from .forms import MultiplePhotoField
from .forms_intake import extra_field
from .models import Category

MAX_PHOTOS = 6
COORD_SYSTEMS = [("wgs84", "WGS84"), ("gcj02", "GCJ-02"), ("bd09", "BD-09")]
EXTRA_PREFIX = "extra_"
TRACKING_CODE_RE = re.compile(r"^[A-Z0-9]{6,12}$")
OUTSIDE_AREA_MESSAGE = _("This place is outside the area this service covers. Please check the location on the map.")








class CategorySelect(forms.Select):
    """A select whose options carry search words (the main class, keywords, code) for the picker."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keywords: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        words = self.keywords.get(str(value))
        if words:
            option["attrs"]["data-keywords"] = words
        return option


class ServiceErrorsMixin:
    """Puts a service's refusal on the form: on the field it names, else at the top."""

    field_map: dict[str, str] = {}

    def add_error(self, field, error):
        super().add_error(field, error)
        names = [field] if field else []
        if field is None and isinstance(error, dict):
            names = list(error)
        for name in names:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    def add_service_error(self, exc: ServiceError) -> None:
        message = service_message(exc)
        placed = False
        for detail in exc.details if isinstance(exc.details, list) else []:
            name = self._form_field(str(detail.get("field", "")))
            if name and not self.has_error(name):
                self.add_error(name, message if len(exc.details) == 1 else _field_message(detail, message))
                placed = True
        if not placed:
            self.add_error(None, message)

    def _form_field(self, service_field: str) -> str | None:
        if service_field.startswith("extra."):
            name = EXTRA_PREFIX + service_field.removeprefix("extra.")
        else:
            name = self.field_map.get(service_field, service_field)
        return name if name in self.fields else None


def _field_message(detail: dict, fallback: str) -> str:
    return str(detail.get("message") or fallback)


def service_message(exc: ServiceError) -> str:
    """The refusal in the visitor's language where we know it, else the service's own words."""
    details = exc.details if isinstance(exc.details, list) else []
    file = next((str(d.get("file")) for d in details if d.get("file")), "")
    fields = {str(d.get("field", "")) for d in details}
    if exc.code == "outside_jurisdiction":
        return str(OUTSIDE_AREA_MESSAGE)
    if exc.code == "photo_too_large":
        return _("%(file)s: the photo is too large (at most %(mb)d MB).") % {
            "file": file, "mb": settings.GRIDGOV_PHOTO_MAX_BYTES // 1024 // 1024}
    if exc.code == "not_an_image":
        return _("%(file)s: this is not a JPEG, PNG or WebP photo.") % {"file": file}
    if exc.code == "unknown_category":
        return str(_("Choose a category from the list."))
    if exc.code == "reason_required":
        return str(_("Tell us what is still wrong."))
    if exc.code == "already_rated":
        return str(_("You have already rated this report. Thank you!"))
    if exc.code == "stale_version":
        return str(_("This report has changed meanwhile; here is its current state. Please try again if needed."))
    if exc.code == "invalid_transition":
        return str(_("This cannot be done at the report's present stage; here is its current state."))
    if "reporter_phone" in fields:
        return str(_("This phone number is not valid."))
    return exc.message


class PublicReportForm(ServiceErrorsMixin, forms.Form):
    category = forms.ChoiceField(label=_("Category"), widget=CategorySelect)
    description = forms.CharField(label=_("Describe the problem"), max_length=4000,
                                  widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text=_("What is wrong, since when, anything that helps to find it."))
    lon = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    coord_sys = forms.ChoiceField(required=False, choices=COORD_SYSTEMS, initial="wgs84", widget=forms.HiddenInput)
    address = forms.CharField(label=_("Address or landmark (optional)"), max_length=200, required=False)
    photos = MultiplePhotoField(max_files=MAX_PHOTOS, label=_("Photos (optional)"),
                                help_text=_("Up to 6 photos: JPEG, PNG or WebP."))
    reporter_name = forms.CharField(label=_("Your name (optional)"), max_length=50, required=False)
    reporter_phone = forms.CharField(label=_("Your phone (optional)"), max_length=20, required=False,
                                     widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel",
                                                                   "inputmode": "tel"}),
                                     help_text=_("Only for follow-up by the staff; it is never shown publicly."))
    # the honeypot: hidden from people, filled by bots
    website = forms.CharField(required=False, label=_("Leave this field empty"),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    field_map = {"location": "location", "lon": "location", "lat": "location", "coord_sys": "location"}

    def __init__(self, *args, tree: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.leaves: dict[str, Category] = {}
        choices = [("", _("Choose a category…"))]
        for node in tree:
            children = node["children"]
            if children:
                choices.append((node["category"].name, [(c.code, c.name) for c in children]))
                self.leaves.update({c.code: c for c in children})
        self.fields["category"].choices = choices
        widget = self.fields["category"].widget
        widget.keywords = {code: " ".join(filter(None, [c.parent.name if c.parent_id else "", c.keywords, code]))
                           for code, c in self.leaves.items()}
        widget.attrs.update({"hx-get": reverse("public:report_fields"), "hx-target": "#extra-fields",
                             "hx-trigger": "change", "data-testid": "category"})
        # a pseudo field for the place: the map, "use my location" and the hidden lon/lat/coord_sys
        self.fields["location"] = forms.CharField(required=False, widget=forms.HiddenInput)
        self.extra_names: list[str] = []
        category = self.selected_category
        for spec in (category.extra_fields or []) if category else []:
            name = EXTRA_PREFIX + spec["code"]
            self.fields[name] = extra_field(spec)
            self.extra_names.append(name)

    @property
    def selected_category(self) -> Category | None:
        code = (self.data.get("category") if self.is_bound else self.initial.get("category")) or ""
        return self.leaves.get(code)

    @property
    def extra_fields(self):
        return [self[name] for name in self.extra_names]

    @property
    def is_bot(self) -> bool:
        return bool(self.is_bound and (self.data.get("website") or "").strip())

    def clean(self):
        data = super().clean()
        if self.is_bot:
            raise forms.ValidationError(_("Your report could not be sent. Please try again."), code="honeypot")
        if data.get("lon") is None or data.get("lat") is None:
            if not self.has_error("location"):
                self.add_error("location", _("Choose the place on the map, or use your location."))
        data["coord_sys"] = data.get("coord_sys") or "wgs84"
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        extra = {}
        for name in self.extra_names:
            value = data.get(name)
            if value in (None, "", []):
                continue
            extra[name.removeprefix(EXTRA_PREFIX)] = value.isoformat() if hasattr(value, "isoformat") else value
        return {
            "category": data["category"], "description": data["description"], "lon": data["lon"],
            "lat": data["lat"], "coord_sys": data["coord_sys"], "address": data.get("address", ""),
            "extra": extra, "photos": data.get("photos") or [], "reporter_name": data.get("reporter_name", ""),
            "reporter_phone": data.get("reporter_phone", ""),
        }


def normalise_tracking_code(raw: str | None) -> str:
    return re.sub(r"[\s\-]", "", raw or "").upper()


class TrackLookupForm(forms.Form):
    code = forms.CharField(label=_("Tracking code"), max_length=40,
                           widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off",
                                                         "spellcheck": "false", "placeholder": "ABCD234XYZ"}))

    def clean_code(self):
        code = normalise_tracking_code(self.cleaned_data["code"])
        if not TRACKING_CODE_RE.match(code):
            raise forms.ValidationError(_("A tracking code has 10 letters and digits, as on your receipt."))
        return code


class VerifyForm(ServiceErrorsMixin, forms.Form):
    ok = forms.TypedChoiceField(choices=[("1", _("Solved")), ("0", _("Not solved"))], coerce=lambda v: v == "1")
    note = forms.CharField(label=_("What is still wrong?"), max_length=1000, required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultiplePhotoField(label=_("Photos (optional)"), max_files=3)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    field_map = {"reason": "note"}

    def clean(self):
        data = super().clean()
        if data.get("ok") is False and not (data.get("note") or "").strip():
            self.add_error("note", _("Tell us what is still wrong."))
        return data


class RateForm(ServiceErrorsMixin, forms.Form):
    satisfaction = forms.TypedChoiceField(label=_("How satisfied are you?"), coerce=int,
                                          choices=[(str(n), str(n)) for n in range(5, 0, -1)],
                                          widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Comment (optional)"), max_length=300, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
