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


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


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
