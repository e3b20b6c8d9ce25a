from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.core.errors import ServiceError

from .choices import Event
from .selectors import area_choices


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    # validated by the service (http/https only, no private address), so UI and API refuse the same URLs
    target_url = forms.CharField(label=_("Target URL"), max_length=500,
                                 help_text=_("The http:// or https:// address that receives the POST requests."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    area = forms.ModelChoiceField(label=_("Only cases in"), queryset=None, required=False,
                                  empty_label=_("all of my scope"),
                                  help_text=_("Optional: narrow the cases sent to one area of your scope."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = area_choices(user=user)

    def place_errors(self, exc: ServiceError) -> None:
        """Put a service's refusal next to the field it names."""
        placed = False
        for detail in exc.details or []:
            field = detail.get("field") if isinstance(detail, dict) else None
            if field in self.fields:
                self.add_error(field, detail.get("message") or exc.message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)
