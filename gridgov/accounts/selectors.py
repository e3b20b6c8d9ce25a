from .models import ApiToken, User


def token_list(*, user: User):
    return ApiToken.objects.filter(user=user).order_by("-created_at")
