"""Helpers shared by the JSON APIs: reading bodies strictly, answering consistently."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from fabhub.errors import ApiError


def json_body() -> dict[str, Any]:
    """The request's JSON object, or an :class:`ApiError` that says what was wrong."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type",
            "Send the body as JSON with 'Content-Type: application/json'.",
            {"content_type": request.content_type or ""},
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "The request body must be a JSON object.",
                       {"got": type(data).__name__})
    try:
        request.get_data().decode("utf-8")
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise ApiError(400, "malformed_json", "The request body holds text that is not "
                       "valid Unicode (a lone surrogate escape such as \\ud800); send UTF-8 "
                       "text.") from None
    return data


def require_string(data: dict[str, Any], key: str, max_length: int = 200) -> str:
    """``data[key]`` as a non-empty string, or a 422 naming the field."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid_field", f"'{key}' is required and must be a string.",
                       {"field": key})
    if len(value) > max_length:
        raise ApiError(422, "invalid_field", f"'{key}' is longer than {max_length} characters.",
                       {"field": key})
    return value.strip()
