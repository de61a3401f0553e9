"""Canonical JSON: the deterministic byte form that is hashed and signed.

fabhub uses a documented subset of RFC 8785 (the JSON Canonicalization Scheme):
values are objects with ASCII keys, arrays, strings, integers of magnitude at most
2**53 - 1, booleans and null. Floating-point numbers are refused, so quantities
are integers in the smallest unit (seconds, milligrams). On this subset RFC 8785's
output is exactly what :func:`json.dumps` gives with sorted keys, no whitespace and
UTF-8 output, so encoding and checking both run at C speed. The test suite checks
the equivalence against an independent RFC 8785 implementation.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """A value or a byte string is outside fabhub's canonical JSON."""


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{where}: integer {value} is beyond ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise CanonicalJSONError(
            f"{where}: floating-point number {value!r}; use an integer in a smaller unit"
        )
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise CanonicalJSONError(f"{where}: object key {key!r} is not an ASCII string")
            _check(item, f"{where}.{key}")
        return
    raise CanonicalJSONError(f"{where}: {type(value).__name__} is not a JSON value")


def _dumps(value: Any) -> bytes:
    text = _ENCODER.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError(f"string holds a lone surrogate: {exc.reason}") from exc


def canonical_bytes(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``; :class:`CanonicalJSONError` if outside the subset."""
    _check(value, "$")
    return _dumps(value)


def _refuse_float(text: str) -> Any:
    raise CanonicalJSONError(f"floating-point number {text} is not canonical here")


def _checked_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_SAFE_INTEGER:
        raise CanonicalJSONError(f"integer {text} is beyond ±(2**53 - 1)")
    return number


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)
_DECODER = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float,
                            parse_int=_checked_int)


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` and insist that it is already in canonical form (no other spelling).

    The C decoder runs with hooks that refuse floats and range-check integers; keys
    are walked for ASCII only when the bytes are not all ASCII.
    """
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"not JSON: {exc.msg} at byte {exc.pos}") from exc
    if not data.isascii():
        _check(value, "$")
    if _dumps(value) != data:
        raise CanonicalJSONError("JSON is not in canonical form (key order, spacing or escapes)")
    return value
