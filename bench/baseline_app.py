"""The intake row's baseline: a bare Ninja endpoint inserting one row into the same database (SQLite or
PostgreSQL: the table and the insert are plain SQL both accept).

A URLconf (see bench/baseline_settings.py): gridgov's own URLs, plus `POST /bench/insert` — no authentication,
no validation beyond Ninja's schema, no location, deadline, timeline or audit: one INSERT into `bench_insert`
(created by raw SQL, bench/intake.py `BASELINE_TABLE`), answering a tracking code so that the same
acknowledged-vs-stored check applies.
"""

import secrets

from django.db import connection
from django.urls import path
from ninja import NinjaAPI, Schema

from config.urls import urlpatterns as gridgov_urlpatterns

# keyed by the tracking code (no surrogate id: AUTOINCREMENT and IDENTITY are spelled differently per database)
BASELINE_TABLE = ("CREATE TABLE IF NOT EXISTS bench_insert (tracking_code VARCHAR(16) PRIMARY KEY, "
                  "description TEXT NOT NULL, lon DOUBLE PRECISION, lat DOUBLE PRECISION, "
                  "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")

bench_api = NinjaAPI(urls_namespace="bench", docs_url=None, openapi_url=None)


class InsertIn(Schema):
    category: str = ""
    description: str
    lon: float
    lat: float


class InsertOut(Schema):
    tracking_code: str


@bench_api.post("/insert", auth=None, response={201: InsertOut})
def insert(request, payload: InsertIn):
    code = "B" + secrets.token_hex(5).upper()
    with connection.cursor() as cursor:  # one statement, autocommit: one transaction
        cursor.execute("INSERT INTO bench_insert (tracking_code, description, lon, lat) VALUES (%s, %s, %s, %s)",
                       [code, payload.description, payload.lon, payload.lat])
    return 201, {"tracking_code": code}


urlpatterns = [path("bench/", bench_api.urls), *gridgov_urlpatterns]
