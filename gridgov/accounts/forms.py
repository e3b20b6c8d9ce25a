from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        # One message for a wrong username and a wrong password: neither is revealed.
        "invalid_login": _("Wrong username or password."),
        "inactive": _("This account is disabled."),
    }


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, strip=True,
                           help_text=_("What the token is for, e.g. the script or system using it."))
    expires_on = forms.DateField(label=_("Valid until"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=_("The last day it works (optional; without it the token works until "
                                             "revoked)."))

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None:
            today = timezone.localdate()
            if day < today:
                raise forms.ValidationError(_("Choose today or a later day."))
            if day > today + timedelta(days=3650):
                raise forms.ValidationError(_("Choose a day at most ten years away."))
        return day

    def expires_at(self):
        """The end of the chosen day, in the site's time zone: the token works through that whole day."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        midnight = datetime.combine(day + timedelta(days=1), time.min)
        return timezone.make_aware(midnight)
