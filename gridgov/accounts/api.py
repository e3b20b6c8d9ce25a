from ninja import Field, Router, Schema
from ninja.responses import Status

from gridgov.core.errors import NotFound
from gridgov.core.schemas import ErrorOut

from . import selectors, services
from .models import Department
from .schemas import MeOut, TokenCreated, TokenIn, TokenNewIn, TokenOut

router = Router(tags=["auth"])
# Mounted at /api/v1/ beside the cases router: /api/v1/departments.
departments_router = Router(tags=["departments"])


@router.post("/token", auth=None, response={201: TokenCreated, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
             summary="Issue an API token for a username and password")
def token_issue(request, payload: TokenIn):
    token, plain = services.token_issue_for_credentials(
        request=request, username=payload.username, password=payload.password, name=payload.name)
    return Status(201, {"id": token.id, "name": token.name, "token": plain, "prefix": token.prefix,
                 "created_at": token.created_at, "expires_at": token.expires_at})


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The authenticated user")
def me(request):
    user = request.auth
    return {
        "username": user.username, "display_name": str(user), "role": user.role,
        "role_label": str(user.get_role_display()),
        "area": user.area and {"code": user.area.code, "name": user.area.name, "level": user.area.level},
        "department": user.department.name if user.department_id else None,
        "grids": list(user.grids.values_list("code", flat=True)),
    }


@router.get("/tokens", response={200: list[TokenOut], 401: ErrorOut}, summary="My API tokens")
def tokens(request):
    return list(selectors.token_list(user=request.auth))


@router.post("/tokens", response={201: TokenCreated, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Create an API token for myself (the token is in this answer only)")
def token_new(request, payload: TokenNewIn):
    token, plain = services.token_create(user=request.auth, name=payload.name, by=request.auth,
                                         expires_at=payload.expires_at)
    return Status(201, {"id": token.id, "name": token.name, "token": plain, "prefix": token.prefix,
                 "created_at": token.created_at, "expires_at": token.expires_at})


@router.delete("/tokens/{token_id}", response={204: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
               summary="Revoke one of my API tokens")
def token_revoke(request, token_id: int):
    services.token_revoke(token_id=token_id, by=request.auth)
    return Status(204, None)


class DepartmentOut(Schema):
    code: str
    name: str
    kind: str
    parent: str | None = Field(None, description="code of the parent department")

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None


class DepartmentDetailOut(DepartmentOut):
    kind_label: str
    phone: str
    areas: list[str] = Field(..., description="codes of the areas served")

    @staticmethod
    def resolve_kind_label(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_areas(obj):
        return [a.code for a in obj.areas.all()]


def _active_departments():
    return Department.objects.filter(is_active=True).select_related("parent")


@departments_router.get("/departments", response={200: list[DepartmentOut], 401: ErrorOut},
                        summary="Active departments (the codes to dispatch and summon to)")
def department_list(request):
    return list(_active_departments().order_by("code"))


@departments_router.get("/departments/{code}", response={200: DepartmentDetailOut, 401: ErrorOut, 404: ErrorOut},
                        summary="One active department")
def department_detail(request, code: str):
    department = _active_departments().prefetch_related("areas").filter(code=code).first()
    if department is None:
        raise NotFound("No such department.")
    return department
