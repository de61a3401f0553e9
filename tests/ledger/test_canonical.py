"""Canonical JSON: identical to RFC 8785 on fabhub's subset, and strict about the rest."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from fabhub.jobs.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalJSONError,
    canonical_bytes,
    parse_canonical,
)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
keys = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=8)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children,
                                                                      max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_equal_to_rfc8785_on_the_subset_and_round_trips(value) -> None:
    encoded = canonical_bytes(value)
    assert encoded == rfc8785.dumps(value)
    assert parse_canonical(encoded) == value


@pytest.mark.parametrize(("value", "message"), [
    ({"a": 1.5}, "floating-point"),
    ({"a": 2**53}, "beyond"),
    ({"é": 1}, "not an ASCII string"),
    ({"a": "\ud800"}, "lone surrogate"),
    ({"a": {1, 2}}, "not a JSON value"),
])
def test_values_outside_the_subset_are_refused(value, message: str) -> None:
    with pytest.raises(CanonicalJSONError, match=message):
        canonical_bytes(value)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"b":1,"a":2}', "not in canonical form"),
    (b'{"a": 1}', "not in canonical form"),
    (b'{"a":1.0}', "floating-point"),
    (b'{"a":9007199254740993}', "beyond"),
    (b'{"a":NaN}', "floating-point"),
    (b'{"a":1,"a":2}', "not in canonical form"),
    (b'{"\xc3\xa9":1}', "not an ASCII string"),
    (b'{"a":"\\u0041"}', "not in canonical form"),
    (b"\xff", "not UTF-8"),
    (b"{", "not JSON"),
])
def test_non_canonical_bytes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalJSONError, match=message):
        parse_canonical(data)
