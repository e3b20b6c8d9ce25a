"""Rendering Open311 answers: the same Python structure becomes JSON (lists at the top level, as the
specification's examples) or XML (the Spark convention backwards: a list is a container element holding one
element per item, named after the item)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

JSON = "json"
XML = "xml"
# list containers and the element each item gets
ITEM_NAMES = {
    "services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
    "formats": "format", "notes": "note", "service_requests": "request", "errors": "error",
    "service_request_updates": "request_update",
}
# XML 1.0 forbids most control characters even escaped; they are dropped from the output
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Open311Error(Exception):
    """A refusal in the specification's form: HTTP status and a list of (code, description)."""

    def __init__(self, status: int, *descriptions: str, code: int | None = None):
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.errors = [{"code": code or status, "description": d} for d in descriptions]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _fill(element: ET.Element, value: Any, name: str) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, list) and key not in ITEM_NAMES:
                for item in child:  # a repeated element, e.g. several <value> of one multivaluelist answer
                    _fill(ET.SubElement(element, key), item, key)
            else:
                _fill(ET.SubElement(element, key), child, key)
    elif isinstance(value, list):
        item_name = ITEM_NAMES.get(name, "item")
        for item in value:
            _fill(ET.SubElement(element, item_name), item, item_name)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value, root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8",
                                                                   xml_declaration=False)


def render(fmt: str, root: str, value: Any, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    if fmt == JSON:
        body = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
        response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(to_xml(root, value), status=status, content_type="text/xml; charset=utf-8")
    for key, header in (headers or {}).items():
        response[key] = header
    return response


def render_errors(fmt: str, status: int, errors: Iterable[dict], *, headers: dict | None = None) -> HttpResponse:
    return render(fmt, "errors", list(errors), status=status, headers=headers)


def format_of(path: str) -> str:
    """The answer's format from the path's suffix; XML, the required format, when there is none."""
    return JSON if path.rstrip("/").endswith(".json") else XML
