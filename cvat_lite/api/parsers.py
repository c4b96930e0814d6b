"""Request values no database can store are refused here, once, for every view (contract 8).

PostgreSQL text cannot hold a NUL character, no database driver can encode an unpaired UTF-16
surrogate (JSON may spell one, ``"\\ud800"``), and no integer column holds more than 64 bits
(SQLite's driver raises before the query). Such values are refused with 400 before any view
sees them: in the path and query string by ``cvat_lite.api.middleware.UnstorableTextMiddleware``;
in JSON, form and multipart bodies by the parsers below, which settings make the defaults and
views that name their parsers use. JSON nested deeper than Python's recursion limit is refused
as malformed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from cvat_lite import errors

MSG_UNSTORABLE_VALUE = (
    "The request holds a value that cannot be stored: a NUL character (\\u0000), an unpaired "
    "surrogate (\\ud800-\\udfff) or an integer outside the 64-bit range."
)
MSG_TOO_DEEP = "JSON parse error - the document is nested too deeply."
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class UnstorableValue(errors.BadRequest):
    code = "unstorable_value"
    default_message = MSG_UNSTORABLE_VALUE


def is_storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scalars_in(value: Any) -> Iterator[Any]:
    """Every key and leaf of a parsed body, at any depth (without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        else:
            yield item


def _storable(item: Any) -> bool:
    if isinstance(item, str):
        return is_storable_text(item)
    if isinstance(item, int) and not isinstance(item, bool):
        return INT64_MIN <= item <= INT64_MAX
    return True


def refuse_unstorable(value: Any) -> None:
    if not all(_storable(item) for item in scalars_in(value)):
        raise UnstorableValue()


def _form_fields(data, files=None) -> list:
    fields: list = [[key, *data.getlist(key)] for key in data]
    if files is not None:
        fields += [[key, *(file.name or "" for file in files.getlist(key))] for key in files]
    return fields


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(MSG_TOO_DEEP) from None
        refuse_unstorable(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        refuse_unstorable(_form_fields(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        refuse_unstorable(_form_fields(parsed.data, parsed.files))
        return parsed
