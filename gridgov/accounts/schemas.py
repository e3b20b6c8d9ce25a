from datetime import datetime

from ninja import Field, Schema


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)
    name: str = Field("API", max_length=100, description="A name to recognise the token by")


class TokenCreated(Schema):
    id: int
    name: str
    token: str = Field(..., description="Shown once: only its hash is stored")
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None


class TokenNewIn(Schema):
    """A token for the authenticated user (no password needed: you are signed in already)."""

    model_config = {"extra": "forbid"}

    name: str = Field(..., min_length=1, max_length=100, description="A name to recognise the token by")
    expires_at: datetime | None = Field(None, description="when it stops working (with a time zone; in the future, "
                                                          "at most ten years away); omit for a token that works "
                                                          "until revoked")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    usable: bool = Field(..., description="neither revoked nor expired")

    @staticmethod
    def resolve_usable(obj):
        return obj.is_usable


class AreaRef(Schema):
    code: str
    name: str
    level: str


class MeOut(Schema):
    username: str
    display_name: str
    role: str
    role_label: str
    area: AreaRef | None
    department: str | None
    grids: list[str]
