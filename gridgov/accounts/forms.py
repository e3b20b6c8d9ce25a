from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        # One message for a wrong username and a wrong password: neither is revealed.
        "invalid_login": _("Wrong username or password."),
        "inactive": _("This account is disabled."),
    }
