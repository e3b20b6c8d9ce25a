"""Forms of the dispute screens: registration (with its parties formset), conversion from a case, and one form
per workflow action of the dispute page.

Forms only read and type-check the input; every rule (parties, grades, places, states, roles, scope, the
optimistic lock) is the services' business. Their refusals are put back on the forms by `place_errors`.
"""

from __future__ import annotations

import re

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.accounts.choices import Role
from gridgov.accounts.models import User
from gridgov.core.errors import ServiceError
from gridgov.core.scope import ancestor_paths, in_scope
from gridgov.geo import selectors as geo_selectors
from gridgov.geo.choices import CoordSys
from gridgov.residents import selectors as resident_selectors

from .choices import (
    Action,
    Channel,
    DisputeSource,
    DisputeType,
    FollowUpForm,
    Grade,
    PartyKind,
    PartyRole,
    SessionOutcome,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
RESIDENT_MATCHES = 20
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _text(label, required=True, rows=3, max_length=4000, help_text=""):
    return forms.CharField(label=label, required=required, max_length=max_length, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": rows}))


def _when(label):
    return forms.DateTimeField(label=label, input_formats=DATETIME_FORMATS,
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))


def _yes_no(value):
    return {"yes": True, "no": False}.get(value)


def _now_local() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


# --- parties -----------------------------------------------------------------------------------------------

def resident_label(resident) -> str:
    phone = resident_selectors.masked_phone(resident)
    place = resident.house.address.full_text if resident.house_id else resident.grid.name
    return " · ".join(x for x in (resident.name, phone, place) if x)


def resident_matches(*, user, q: str) -> list:
    """Residents of the registry in the user's scope matching a name, phone or ID number."""
    q = (q or "").strip()[:100]
    if not q:
        return []
    return list(resident_selectors.resident_list(user=user, q=q).order_by("name", "pk")[:RESIDENT_MATCHES])


class PartyForm(forms.Form):
    """One party: a resident picked from the registry, or a free-text person or organisation."""

    kind = forms.ChoiceField(label=_("Kind"), choices=PartyKind.choices, initial=PartyKind.PERSON, required=False)
    role = forms.ChoiceField(label=pgettext_lazy("party", "Role"), choices=PartyRole.choices, required=False)
    resident_q = forms.CharField(label=_("Find in the residents registry"), required=False, max_length=100,
                                 widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off",
                                                               "placeholder": _("Name, phone or ID number")}))
    resident = forms.IntegerField(label=_("Resident"), required=False, widget=forms.Select)
    name = forms.CharField(label=_("Name (person or organisation)"), required=False, max_length=100)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=30,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    credit_code = forms.CharField(label=_("Unified social credit code"), required=False, max_length=18)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        choices = [("", _("— not from the registry: fill in the name below —"))]
        if self.is_bound and user is not None:
            chosen = self.data.get(self.add_prefix("resident"), "")
            seen = set()
            if str(chosen).isdigit():
                for r in resident_selectors.resident_list(user=user, status=None).filter(pk=int(chosen)):
                    choices.append((str(r.pk), resident_label(r)))
                    seen.add(r.pk)
            for r in resident_matches(user=user, q=self.data.get(self.add_prefix("resident_q"), "")):
                if r.pk not in seen:
                    choices.append((str(r.pk), resident_label(r)))
        self.fields["resident"].widget.choices = choices

    def filled(self) -> bool:
        data = getattr(self, "cleaned_data", None) or {}
        return bool(data.get("resident") or any((data.get(f) or "").strip()
                                                for f in ("name", "phone", "credit_code")))

    def party(self) -> dict:
        d = self.cleaned_data
        row = {"kind": d.get("kind") or PartyKind.PERSON, "role": d.get("role") or "", "name": d.get("name", ""),
               "phone": d.get("phone", ""), "credit_code": d.get("credit_code", ""), "note": d.get("note", "")}
        if d.get("resident"):
            row["resident_id"] = d["resident"]
        return row


PartyFormSet = forms.formset_factory(PartyForm, extra=0, max_num=50, absolute_max=60)
PARTY_PREFIX = "parties"
PARTY_INITIAL = [{"role": PartyRole.APPLICANT}, {"role": PartyRole.RESPONDENT}]
PARTY_FIELD = {"resident_id": "resident", "resident": "resident"}


def party_formset(*, user, data=None, initial: list[dict] | None = None) -> forms.BaseFormSet:
    formset = PartyFormSet(data, prefix=PARTY_PREFIX, form_kwargs={"user": user},
                           initial=None if data is not None else (initial or PARTY_INITIAL))
    formset.service_errors = []  # refusals of the service about the parties as a whole ("at least two")
    formset.party_rows = []  # the row of each party sent to the service
    return formset


def filled_parties(formset) -> list[dict]:
    """The parties of the filled rows (the row of each is kept on the formset, to put errors back)."""
    parties, formset.party_rows = [], []
    for i, form in enumerate(formset.forms):
        if form.filled():
            parties.append(form.party())
            formset.party_rows.append(i)
    return parties


# --- registration ------------------------------------------------------------------------------------------

class DisputeFieldsForm(forms.Form):
    """What registration and conversion both ask."""

    # service error detail fields → form fields (None: a general error of the form)
    FIELD_MAP: dict[str, str | None] = {"location": None}

    type = forms.ChoiceField(label=_("Type of dispute"))
    grade = forms.ChoiceField(label=_("Risk grade"), choices=Grade.choices, initial=Grade.GENERAL,
                              help_text=_("The grade sets the mediation deadline; a serious dispute is reported "
                                          "to the leaders at once."))
    title = forms.CharField(label=_("Title (optional)"), required=False, max_length=100,
                            help_text=_("Left empty, the parties' names are the title."))
    people_count = forms.IntegerField(label=_("People involved"), required=False, min_value=1, max_value=1_000_000)
    amount = forms.DecimalField(label=_("Amount involved (yuan)"), required=False, min_value=0, max_digits=14,
                                decimal_places=2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", _("Choose…")), *DisputeType.choices]

    def place_errors(self, exc: ServiceError, formset) -> None:
        place_errors(exc, self, formset, self.FIELD_MAP)


class RegisterForm(DisputeFieldsForm):
    FIELD_MAP = {"location": None, "lon": "lon", "lat": "lat"}

    source = forms.ChoiceField(label=_("Source"), initial=DisputeSource.SCREENING,
                               choices=[c for c in DisputeSource.choices if c[0] != DisputeSource.CASE])
    source_reference = forms.CharField(label=_("Reference of the referring body (optional)"), required=False,
                                       max_length=60)
    grid = forms.ChoiceField(label=_("Grid"), required=False)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    coord_sys = forms.ChoiceField(label=_("Coordinate system"), choices=CoordSys.choices, initial=CoordSys.WGS84,
                                  required=False)
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    description = _text(_("What is the dispute about?"), rows=4)

    field_order = ["type", "source", "source_reference", "grid", "lon", "lat", "coord_sys", "address",
                   "description", "people_count", "amount", "grade", "title"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        grids = list(geo_selectors.grid_list(user=user).order_by("code").values_list("code", "name")[:1000]) \
            if user is not None else []
        self.fields["grid"].choices = [("", _("Choose a grid (or set the point on the map)")),
                                       *[(code, f"{name} ({code})") for code, name in grids]]
        if len(grids) == 1 and not self.is_bound:
            self.initial.setdefault("grid", grids[0][0])

    def clean(self):
        data = super().clean()
        data["coord_sys"] = data.get("coord_sys") or CoordSys.WGS84
        if (data.get("lon") is None) != (data.get("lat") is None) and not ({"lon", "lat"} & set(self.errors)):
            self.add_error(None, _("Give both the longitude and the latitude, or neither."))
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"type": d["type"], "source": d["source"], "source_reference": d.get("source_reference", ""),
                "title": d.get("title", ""), "description": d["description"], "grid": d.get("grid") or None,
                "lon": d.get("lon"), "lat": d.get("lat"), "coord_sys": d["coord_sys"],
                "address": d.get("address", ""), "people_count": d.get("people_count"), "amount": d.get("amount"),
                "grade": d["grade"]}


class FromCaseForm(DisputeFieldsForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = _text(_("Note (optional)"), required=False, rows=2, max_length=2000)

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"type": d["type"], "grade": d["grade"], "title": d.get("title", ""),
                "people_count": d.get("people_count"), "amount": d.get("amount"), "version": d["version"],
                "note": d.get("note", "")}


_PARTY_ERROR = re.compile(r"^parties\[(\d+)\](?:\.(\w+))?$")


def place_errors(exc: ServiceError, form: forms.Form, formset, field_map: dict) -> None:
    """Put a service refusal on the form and the parties formset, on the field it names where there is one."""
    rows = getattr(formset, "party_rows", [])
    placed = False
    for detail in exc.details if isinstance(exc.details, list) else []:
        if not isinstance(detail, dict):
            continue
        name, message = str(detail.get("field", "")), str(detail.get("message") or exc.message)
        match = _PARTY_ERROR.match(name)
        if match and formset is not None:
            i = int(match.group(1))
            row = formset.forms[rows[i]] if i < len(rows) and rows[i] < len(formset.forms) else None
            if row is not None:
                field = PARTY_FIELD.get(match.group(2) or "", match.group(2))
                row.add_error(field if field in row.fields else None, message)
                placed = True
                continue
        if name == "parties" and formset is not None:
            formset.service_errors.append(message)
            placed = True
            continue
        field = field_map.get(name, name)
        if field in form.fields:
            form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --- the action forms of the dispute page --------------------------------------------------------------------

class ActionForm(forms.Form):
    """Every action form carries the dispute version it was rendered with (the optimistic lock)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, dispute=None, action: str = "", **kwargs):
        kwargs.setdefault("auto_id", f"id_{action}_%s")  # several forms on one page: unique element ids
        super().__init__(*args, **kwargs)
        self.dispute = dispute
        self.action = action


class AssessForm(ActionForm):
    grade = forms.ChoiceField(label=_("Risk grade"), choices=Grade.choices)
    risk_note = _text(_("Risk assessment (风险研判)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.dispute is not None:
            self.fields["grade"].initial = self.dispute.grade


def mediator_choices(dispute) -> list[tuple[str, str]]:
    """Active mediators and grid members whose scope covers the dispute."""
    candidates = User.objects.filter(is_active=True).select_related("area").filter(
        Q(role=Role.MEDIATOR, area__path__in=ancestor_paths(dispute.path))
        | Q(role=Role.GRID_MEMBER, grids=dispute.grid_id)).distinct()
    rows = []
    for u in candidates.order_by("role", "area__path", "username"):
        if in_scope(u, dispute.path):
            where = u.area.name if u.area_id else dispute.grid.name
            rows.append((str(u.pk), f"{u} · {u.get_role_display()} · {where}"))
    return rows


class AssignForm(ActionForm):
    mediator = forms.TypedChoiceField(label=_("Mediator"), coerce=int)
    committee = forms.CharField(label=_("Mediation committee (optional)"), required=False, max_length=100)
    note = _text(_("Note (optional)"), required=False, rows=2, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = mediator_choices(self.dispute) if self.dispute is not None else []
        self.fields["mediator"].choices = [("", _("Choose…")), *choices]
        if self.dispute is not None:
            self.fields["committee"].initial = self.dispute.committee


class SessionForm(ActionForm):
    held_at = _when(_("Held at"))
    place = forms.CharField(label=_("Place"), max_length=100)
    participants = _text(_("Participants"), rows=2, max_length=2000)
    record = _text(_("Record (调解笔录)"), rows=4, max_length=20000)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=SessionOutcome.choices,
                                initial=SessionOutcome.PROGRESS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["held_at"].initial = _now_local


class AgreeForm(ActionForm):
    facts = _text(_("Facts and disputed matters"), rows=3, max_length=8000)
    terms = _text(_("Terms, one per line"), rows=4, max_length=20000)
    fulfil_by = forms.DateField(label=_("Fulfil by (optional)"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    fulfilment = forms.CharField(label=_("How it is fulfilled (optional)"), required=False, max_length=200)

    def clean_terms(self):
        return [line.strip() for line in self.cleaned_data["terms"].splitlines() if line.strip()]


class ReasonForm(ActionForm):
    reason = _text(_("Reason"), rows=2, max_length=2000)


class ReferForm(ActionForm):
    channel = forms.ChoiceField(label=_("Refer to"), choices=Channel.choices)
    reference = forms.CharField(label=_("Reference of the receiving body (案号/编号)"), required=False,
                                max_length=60, help_text=_("Required for judicial confirmation, arbitration, "
                                                           "litigation and petitions."))
    reason = _text(_("Reason"), rows=2, max_length=2000)


class CheckFulfilmentForm(ActionForm):
    fulfilled = forms.TypedChoiceField(label=_("Has the agreement been fulfilled?"), choices=YES_NO, coerce=_yes_no,
                                       widget=forms.RadioSelect)
    note = _text(_("What was found (required when not fulfilled)"), required=False, rows=2)


class FollowUpFormForm(ActionForm):
    visited_at = _when(_("Time of the visit"))
    form = forms.ChoiceField(label=_("Form"), choices=FollowUpForm.choices, initial=FollowUpForm.HOME)
    content = _text(_("What was found"), rows=3)
    stable = forms.TypedChoiceField(label=_("Is the dispute settled (no recurrence)?"), choices=YES_NO,
                                    coerce=_yes_no, initial="yes", widget=forms.RadioSelect)
    satisfied = forms.TypedChoiceField(label=_("Are the parties satisfied?"), coerce=_yes_no, empty_value=None,
                                       required=False, initial="", widget=forms.RadioSelect,
                                       choices=[*YES_NO, ("", _("Not asked"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visited_at"].initial = _now_local


class NoteForm(ActionForm):
    note = _text(_("Note"), required=False, rows=2, max_length=2000)


class RegradeForm(ActionForm):
    grade = forms.ChoiceField(label=_("New grade"), choices=Grade.choices)
    reason = _text(_("Reason"), rows=2, max_length=2000)


class CommentForm(ActionForm):
    note = _text(_("Comment"), rows=2, max_length=4000)


ACTION_FORMS: dict[str, type[ActionForm]] = {
    Action.ASSESS: AssessForm,
    Action.ASSIGN: AssignForm,
    Action.SESSION: SessionForm,
    Action.AGREE: AgreeForm,
    Action.FAIL: ReasonForm,
    Action.REFER: ReferForm,
    Action.CHECK_FULFILMENT: CheckFulfilmentForm,
    Action.FOLLOW_UP: FollowUpFormForm,
    Action.CLOSE: NoteForm,
    Action.REGRADE: RegradeForm,
    Action.COMMENT: CommentForm,
}


def action_form(action: str, *, dispute, data=None) -> ActionForm:
    form = ACTION_FORMS[action](data, dispute=dispute, action=action)
    if data is None:
        form.initial.setdefault("version", dispute.version)
    return form


# --- measures ----------------------------------------------------------------------------------------------

class MeasuresForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(label=_("Group by"), required=False,
                              choices=[("", _("No grouping")), ("mediator", _("Mediator")), ("grid", _("Grid")),
                                       ("community", _("Community")), ("street", _("Street"))])
