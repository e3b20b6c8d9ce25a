"""JSON Schemas written from the GeoReport v2 specification (http://wiki.open311.org/GeoReport_v2), plus the
two extensions gridgov follows (page/page_size needs no schema; `extensions=true` adds `extended_attributes`
and `notes`, as Chicago's Open311 did; `servicerequestupdates` as mySociety's update extension).

Every JSON answer in the tests is validated against one of these; `check_xml` compares the XML answer to the
JSON one, element for element."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import jsonschema

W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
STR = {"type": "string"}
STR_OR_NULL = {"type": ["string", "null"]}
DATETIME = {"type": "string", "pattern": W3C}
DATETIME_OR_NULL = {"anyOf": [DATETIME, {"type": "null"}]}
STATUS = {"enum": ["open", "closed"]}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": False}


DISCOVERY = _object({
    "changeset": DATETIME,
    "contact": STR,
    "key_service": STR,
    "endpoints": {"type": "array", "minItems": 1, "items": _object({
        "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
        "url": {"type": "string", "pattern": "^https?://"},
        "changeset": DATETIME,
        "type": {"enum": ["production", "test"]},
        "formats": {"type": "array", "items": {"enum": ["text/xml", "application/json"]}, "minItems": 1},
    })},
})

SERVICES = {"type": "array", "items": _object({
    "service_code": {"type": "string", "minLength": 1},
    "service_name": {"type": "string", "minLength": 1},
    "description": STR_OR_NULL,
    "metadata": {"type": "boolean"},
    "type": {"enum": ["realtime", "batch", "blackbox"]},
    "keywords": STR_OR_NULL,
    "group": STR_OR_NULL,
})}

_VALUE = _object({"key": STR, "name": STR})
_ATTRIBUTE = _object({
    "variable": {"type": "boolean"},
    "code": {"type": "string", "minLength": 1},
    "datatype": {"enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
    "required": {"type": "boolean"},
    "datatype_description": STR_OR_NULL,
    "order": {"type": "integer", "minimum": 1},
    "description": STR,
    "values": {"type": "array", "items": _VALUE},
}, required=["variable", "code", "datatype", "required", "datatype_description", "order", "description"])
# values are there exactly for the list datatypes
_ATTRIBUTE["allOf"] = [{
    "if": {"properties": {"datatype": {"enum": ["singlevaluelist", "multivaluelist"]}}},
    "then": {"required": ["values"]},
    "else": {"not": {"required": ["values"]}},
}]
SERVICE_DEFINITION = {**_object({"service_code": STR, "attributes": {"type": "array", "items": _ATTRIBUTE}})}

# POST: service_request_id or token (one of them), service_notice and account_id may be returned
POST_RESPONSE = {"type": "array", "minItems": 1, "maxItems": 1, "items": {
    **_object({"service_request_id": STR, "token": STR, "service_notice": STR_OR_NULL,
               "account_id": STR_OR_NULL}, required=[]),
    "oneOf": [{"required": ["service_request_id"]}, {"required": ["token"]}],
}}

TOKEN = {"type": "array", "items": _object({"service_request_id": STR, "token": STR})}

_NOTE = _object({"datetime": DATETIME, "summary": STR, "description": STR_OR_NULL, "type": STR,
                 "status": {"anyOf": [STATUS, {"type": "null"}]}, "agency": STR_OR_NULL})
_EXTENDED = _object({
    "number": STR, "state": STR, "state_name": STR, "channel": STR, "group": STR_OR_NULL,
    "attributes": {"type": "array", "items": _object({
        "code": STR, "value": {"anyOf": [STR, {"type": "array", "items": STR}]}})},
})
_REQUEST_FIELDS = {
    "service_request_id": {"type": "string", "minLength": 1},
    "status": STATUS,
    "status_notes": STR_OR_NULL,
    "service_name": STR,
    "service_code": STR,
    "description": {"type": ["string", "null"], "maxLength": 4000},
    "agency_responsible": STR_OR_NULL,
    "service_notice": STR_OR_NULL,
    "requested_datetime": DATETIME,
    "updated_datetime": DATETIME,
    "expected_datetime": DATETIME_OR_NULL,
    "address": STR_OR_NULL,
    "address_id": STR_OR_NULL,
    "zipcode": STR_OR_NULL,
    "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
    "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
    "media_url": STR_OR_NULL,
}
REQUESTS = {"type": "array", "items": _object(
    {**_REQUEST_FIELDS, "extended_attributes": _EXTENDED, "notes": {"type": "array", "items": _NOTE}},
    required=list(_REQUEST_FIELDS))}

UPDATES = {"type": "array", "items": _object({
    "update_id": STR, "service_request_id": STR, "status": STATUS, "updated_datetime": DATETIME,
    "description": STR, "media_url": STR_OR_NULL})}

ERRORS = {"type": "array", "minItems": 1, "items": _object({"code": {"type": "integer"}, "description": STR})}

# the XML root element of each answer
ROOTS = {id(DISCOVERY): "discovery", id(SERVICES): "services", id(SERVICE_DEFINITION): "service_definition",
         id(POST_RESPONSE): "service_requests", id(TOKEN): "service_requests", id(REQUESTS): "service_requests",
         id(UPDATES): "service_request_updates", id(ERRORS): "errors"}
CONTAINERS = {"services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
              "formats": "format", "notes": "note", "service_requests": "request", "errors": "error",
              "service_request_updates": "request_update"}


def validate(schema: dict, data) -> None:
    jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())


def _from_xml(element: ET.Element):
    children = list(element)
    if element.tag in CONTAINERS:
        assert all(c.tag == CONTAINERS[element.tag] for c in children), element.tag
        return [_from_xml(c) for c in children]
    if not children:
        return element.text if element.text not in (None, "") else None
    out: dict = {}
    for child in children:
        value = _from_xml(child)
        if child.tag in out:  # a repeated element: several values of one answer
            out[child.tag] = out[child.tag] if isinstance(out[child.tag], list) else [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def _as_text(value, key: str = ""):
    """The JSON answer as the XML one reads: scalars as text, empty as absent."""
    if isinstance(value, dict):
        return {k: _as_text(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_as_text(v) for v in value]
        if key and key not in CONTAINERS:
            return items[0] if len(items) == 1 else (items or None)
        return items
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_xml(schema: dict, body: bytes, json_data=None):
    """Parse an XML answer: declaration, root element; equal to the JSON answer when one is given."""
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), body[:60]
    root = ET.fromstring(body)
    assert root.tag == ROOTS[id(schema)], root.tag
    data = _from_xml(root)
    if json_data is not None:
        assert data == _as_text(json_data)
    return data
