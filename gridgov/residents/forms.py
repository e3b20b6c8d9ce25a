"""Forms of the resident screens. They only shape input for the services (resident_save, visit_record); the
services validate identifiers and refuse duplicates, and their ServiceErrors are put back on the fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.cases.forms import MultiplePhotoField
from gridgov.core.errors import ServiceError

from .choices import PersonStatus, PoliticalStatus, Presence, Relation, ResidenceType, VisitForm
from .validators import ETHNICITIES


def ethnicity_choices():
    return [("", "—")] + [(code, f"{code} {name}") for code, name in ETHNICITIES.items()]


class ResidentForm(forms.Form):
    """The editable facts plus ID number and phone. The identifier fields start with the masked value:
    left untouched they keep what is stored; a new value replaces the ciphertext; emptied, it is removed."""

    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=30, required=False,
                                help_text=_("Leave the masked value as it is to keep the stored number."))
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    ethnicity = forms.ChoiceField(label=_("Ethnicity"), required=False, choices=ethnicity_choices)
    registered_address = forms.CharField(label=_("Registered residence (户籍地)"), max_length=200, required=False)
    presence = forms.ChoiceField(label=_("Residence and registration"), choices=Presence.choices)
    residence_type = forms.ChoiceField(label=_("Residence type"), choices=ResidenceType.choices)
    occupation = forms.CharField(label=_("Occupation"), max_length=50, required=False)
    political_status = forms.ChoiceField(label=_("Political status"), choices=PoliticalStatus.choices)
    status = forms.ChoiceField(label=_("Status"), choices=PersonStatus.choices)
    house = forms.ModelChoiceField(label=_("Actual address (house)"), queryset=None, required=False)
    relation = forms.ChoiceField(label=_("Relation to the head of household"), required=False,
                                 choices=[("", "—")] + list(Relation.choices))

    FACTS = ["name", "ethnicity", "registered_address", "presence", "residence_type", "occupation",
             "political_status", "status", "relation"]

    def __init__(self, *args, houses, masked_id: str = "", masked_phone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["house"].queryset = houses
        self.masked = {"id_number": masked_id, "phone": masked_phone}
        for field in ("id_number", "phone"):
            self.fields[field].widget.attrs["autocomplete"] = "off"

    @classmethod
    def initial_for(cls, resident, *, masked_id: str, masked_phone: str) -> dict:
        initial = {f: getattr(resident, f) for f in cls.FACTS}
        initial.update(id_number=masked_id, phone=masked_phone, house=resident.house_id)
        return initial

    def service_data(self) -> dict:
        """What resident_save takes: the facts, plus an identifier only when it was changed."""
        data = {f: self.cleaned_data.get(f) or "" for f in self.FACTS}
        data["house"] = self.cleaned_data.get("house")
        for field in ("id_number", "phone"):
            value = (self.cleaned_data.get(field) or "").strip()
            if value != self.masked[field]:
                data[field] = value
        return data

    def add_service_error(self, exc: ServiceError) -> None:
        """Put a refusal of the service on the field it names (a duplicate ID number on the ID field)."""
        fields = [d.get("field") for d in (exc.details or []) if isinstance(d, dict)]
        if exc.code == "duplicate_id":
            self.add_error("id_number", _("A resident with this ID number is already registered."))
            return
        for field in fields:
            if field in self.fields:
                message = next((d.get("message") for d in exc.details if d.get("field") == field), exc.message)
                self.add_error(field, message or exc.message)
                return
        self.add_error(None, exc.message)


class VisitRecordForm(forms.Form):
    tag = forms.ModelChoiceField(label=_("Key-population tag"), queryset=None, required=False)
    form = forms.ChoiceField(label=_("Form"), choices=VisitForm.choices, initial=VisitForm.HOME)
    purpose = forms.CharField(label=_("Type of visit"), max_length=50, required=False)
    content = forms.CharField(label=_("What was found and said"), widget=forms.Textarea(attrs={"rows": 4}))
    seen = forms.BooleanField(label=_("Person seen"), required=False, initial=True)
    condition = forms.CharField(label=_("Condition"), max_length=100, required=False)
    measures = forms.CharField(label=_("Measures taken"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    photos = MultiplePhotoField(label=_("Photos"))

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = tags
        if tags.count() == 1:
            self.fields["tag"].initial = tags.first().pk

    def add_service_error(self, exc: ServiceError) -> None:
        for d in exc.details or []:
            if isinstance(d, dict) and d.get("field") in self.fields:
                self.add_error(d["field"], d.get("message") or exc.message)
                return
        self.add_error(None, exc.message)
