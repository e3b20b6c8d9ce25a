"""The action forms of the case page: one form per workflow action, each posting to the `act` view.

Forms only read and type-check the input; every rule of the workflow (state, role, scope, required reasons
and photos, the optimistic lock) is the services' business.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.models import Department

from .choices import Action, LimitUnit

MAX_PHOTOS = 9


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; cleans to a list of uploaded files (possibly empty). Used by every form
    with photos (case actions, intake, public report, visits); the services check each file is an image."""

    def __init__(self, *args, max_files: int = MAX_PHOTOS, **kwargs):
        self.max_files = max_files
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [single(f, initial) for f in files if f]
        if self.required and not cleaned:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(cleaned) > self.max_files:
            raise forms.ValidationError(_("Attach at most %(n)d photos."), params={"n": self.max_files},
                                        code="too_many")
        return cleaned


def _reason(label=None, required=True):
    return forms.CharField(label=label or _("Reason"), required=required, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _note(label=None):
    return forms.CharField(label=label or _("Note (optional)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _departments():
    return Department.objects.filter(is_active=True).order_by("code")


class ActionForm(forms.Form):
    """Every action form carries the case version it was rendered with (the optimistic lock)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, case=None, action: str = "", **kwargs):
        kwargs.setdefault("auto_id", f"id_{action}_%s")  # several forms on one page: unique element ids
        super().__init__(*args, **kwargs)
        self.case = case
        self.action = action


class NoteForm(ActionForm):
    note = _note()


class ReasonForm(ActionForm):
    reason = _reason()


class MergeForm(ActionForm):
    into = forms.IntegerField(widget=forms.HiddenInput)
    note = _note()


class DispatchForm(ActionForm):
    lead = forms.ModelChoiceField(label=_("Lead department"), queryset=Department.objects.none())
    assist = forms.ModelMultipleChoiceField(label=_("Assisting departments"), queryset=Department.objects.none(),
                                            required=False, widget=forms.SelectMultiple(attrs={"size": 4}))
    instructions = forms.CharField(label=_("Instructions (optional)"), required=False, max_length=2000,
                                   widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = _departments()
        self.fields["assist"].queryset = _departments()
        suggested = self.case.category.default_department if self.case is not None else None
        self.suggested = suggested if suggested is not None and suggested.is_active else None
        if self.suggested is not None:
            self.fields["lead"].initial = self.suggested.pk
            self.fields["lead"].help_text = _("Suggested by the category: %(name)s") % {"name": self.suggested.name}


class ReportBackForm(ActionForm):
    result = forms.CharField(label=_("What was done"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultiplePhotoField(label=_("Photos of the result"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.case is not None and self.case.category.photo_required_report_back:
            self.fields["photos"].help_text = _("This category needs at least one photo of the result.")


class VerifyForm(ActionForm):
    note = _note(_("What you found on site"))
    photos = MultiplePhotoField(label=_("Photos taken on site"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.action == Action.VERIFY_FAIL:
            self.fields["note"] = _reason(_("What is still wrong"))
        if self.case is not None and self.case.category.photo_required_verify:
            self.fields["photos"].help_text = _("This category needs a photo to verify.")


class ExtensionRequestForm(ActionForm):
    amount = forms.IntegerField(label=_("Extra time"), min_value=1, max_value=365)
    unit = forms.ChoiceField(label=_("Unit"), choices=LimitUnit.choices, initial=LimitUnit.DAYS)
    reason = _reason()


class ExtensionDecisionForm(ActionForm):
    note = _note()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.action == Action.REJECT_EXTENSION:
            self.fields["note"] = _reason(_("Why it is refused"))


class SummonForm(ActionForm):
    departments = forms.ModelMultipleChoiceField(label=_("Departments to summon"),
                                                 queryset=Department.objects.none(),
                                                 widget=forms.SelectMultiple(attrs={"size": 5}))
    amount = forms.IntegerField(label=_("Time for each"), min_value=1, max_value=365, initial=3)
    unit = forms.ChoiceField(label=_("Unit"), choices=LimitUnit.choices, initial=LimitUnit.DAYS)
    instructions = forms.CharField(label=_("Instructions"), required=False, max_length=2000,
                                   widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = _departments()


class RateForm(ActionForm):
    satisfaction = forms.TypedChoiceField(
        label=_("How satisfied are you?"), coerce=int, widget=forms.RadioSelect,
        choices=[(5, _("5 – very satisfied")), (4, _("4 – satisfied")), (3, _("3 – so-so")),
                 (2, _("2 – dissatisfied")), (1, _("1 – very dissatisfied"))])
    comment = forms.CharField(label=_("Comment (optional)"), required=False, max_length=300,
                              widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(ActionForm):
    note = forms.CharField(label=_("Comment"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


ACTION_FORMS: dict[str, type[ActionForm]] = {
    Action.REGISTER: NoteForm,
    Action.REJECT: ReasonForm,
    Action.MERGE: MergeForm,
    Action.DISPATCH: DispatchForm,
    Action.ACCEPT: NoteForm,
    Action.RETURN: ReasonForm,
    Action.SUSPEND: ReasonForm,
    Action.RESUME: NoteForm,
    Action.REPORT_BACK: ReportBackForm,
    Action.VERIFY_OK: VerifyForm,
    Action.VERIFY_FAIL: VerifyForm,
    Action.CLOSE: NoteForm,
    Action.REOPEN: ReasonForm,
    Action.REQUEST_EXTENSION: ExtensionRequestForm,
    Action.APPROVE_EXTENSION: ExtensionDecisionForm,
    Action.REJECT_EXTENSION: ExtensionDecisionForm,
    Action.SUMMON: SummonForm,
    Action.SUPERVISE: ReasonForm,
    Action.RATE: RateForm,
    Action.COMMENT: CommentForm,
}


def action_form(action: str, *, case, data=None, files=None) -> ActionForm:
    form_class = ACTION_FORMS[action]
    form = form_class(data, files, case=case, action=action)
    if data is None:
        form.initial.setdefault("version", case.version)
    return form
