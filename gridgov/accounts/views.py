from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from gridgov.core.errors import InvalidInput, NotFound

from . import selectors, services
from .forms import LoginForm, TokenForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """My API tokens: the list, a form to create one (its secret shown once, on this answer only), revoke."""
    created = plain = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created, plain = services.token_create(user=request.user, name=form.cleaned_data["name"],
                                                   by=request.user, expires_at=form.expires_at())
        except InvalidInput as exc:
            field = (exc.details or [{}])[0].get("field")
            form.add_error("expires_on" if field == "expires_at" else "name" if field == "name" else None,
                           exc.message)
        else:
            form = TokenForm()
    status = 422 if request.method == "POST" and form.errors else 200
    return render(request, "accounts/tokens.html", {
        "form": form, "created": created, "plain": plain,
        "tokens": selectors.token_list(user=request.user),
    }, status=status)


@login_required
@require_POST
def token_revoke(request, token_id: int):
    try:
        token = services.token_revoke(token_id=token_id, by=request.user)
    except NotFound as exc:
        raise Http404 from exc  # another user's token looks like no token at all
    messages.success(request, _("Token “%(name)s” revoked; it no longer works.") % {"name": token.name})
    return redirect("tokens")
