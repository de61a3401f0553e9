"""Tokenise a block of G-code lines at once with numpy: which lines are plain moves, and
the numbers of their words.

A *plain* line starts with ``G0`` to ``G3`` (or ``G00`` to ``G03``) or ``G92``, followed by
words ``X Y Z E F`` (and ``I J K R`` on arcs) with plain decimal numbers, each word after
a space, and optionally a ``;`` comment: what slicers and CAM write for nearly every line.
Anything else (other commands, tabs, line numbers, exponents...) is left to the scanner's
full per-line tokenizer. Numbers are read exactly: the digits as an integer divided by a
power of ten, the correctly rounded value, as Python's ``float`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LETTERS = b"XYZEFIJKR"
MAX_DIGITS = 15
_LETTER = np.full(256, -1, dtype=np.int8)
for _index, _byte in enumerate(LETTERS):
    _LETTER[_byte] = _index
_BODY = np.zeros(256, dtype=bool)  # bytes a plain line may hold after its head
for _byte in b"0123456789.-+ \r" + LETTERS:
    _BODY[_byte] = True
SPACE, CR, SEMI, NL, DOT, MINUS, PLUS = 32, 13, 59, 10, 46, 45, 43
WIDTH = 24  # bytes of a number read here; a longer one is read by float
_POW10 = 10.0 ** np.arange(MAX_DIGITS + 1)


@dataclass(frozen=True)
class Tokens:
    """A block's lines: ``starts``/``ends`` byte offsets (end excludes ``\\n``), ``kind``
    per line (:data:`BLANK`, :data:`COMMENT`, :data:`PLAIN`, :data:`OTHER`), ``head``
    (0, 1, 2, 3 or 92) and ``values`` (X Y Z E F I J K R, NaN when absent) of plain lines; ``long``
    plain lines have a number of more than 15 digits, which only ``float`` reads exactly."""

    starts: np.ndarray
    ends: np.ndarray
    kind: np.ndarray
    head: np.ndarray
    values: np.ndarray
    long: np.ndarray


BLANK, COMMENT, PLAIN, OTHER = 0, 1, 2, 3


def _per_line(starts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether each line (from its start to the next) holds a byte where ``mask`` is set."""
    return np.logical_or.reduceat(mask, starts)


def _numbers(padded: np.ndarray, start: np.ndarray,
             span: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the number at each ``start`` (its word's bytes up to ``start + span``): its
    value, whether it is malformed, and whether it is too long for this reader (more
    than 15 digits, which ``float`` reads instead). One column of bytes at a time."""
    words = len(start)
    mantissa = np.zeros(words)
    decimals = np.zeros(words, dtype=np.intp)
    digits = np.zeros(words, dtype=np.intp)
    dots = np.zeros(words, dtype=np.intp)
    reading = np.ones(words, dtype=bool)
    bad = np.zeros(words, dtype=bool)
    width = int(span.max(initial=0))
    long = span > WIDTH
    first = padded[start]
    negative = first == MINUS
    for column in range(min(width, WIDTH)):
        byte = padded[start + column] if column else first
        inside = column < span
        digit = byte - np.uint8(48)  # wraps around below '0'
        is_digit = digit < 10
        is_dot = byte == DOT
        signed = (byte == MINUS) | (byte == PLUS)
        numeric = is_digit | is_dot | signed
        takes = is_digit | is_dot | (signed if column == 0 else False)
        # A sign inside a number, or number bytes after it ended (after a CR): not G-code.
        bad |= inside & numeric & ~(reading & takes)
        reading &= inside & takes
        counted = reading & is_digit
        mantissa = np.where(counted, mantissa * 10.0 + digit, mantissa)
        decimals += counted & (dots > 0)
        digits += counted
        dots += reading & is_dot
    bad |= (digits == 0) | (dots > 1)
    long |= digits > MAX_DIGITS
    value = mantissa / _POW10[np.minimum(decimals, MAX_DIGITS)]
    return np.where(negative, -value, value), bad & ~long, long


def tokenize(block: bytes) -> Tokens:
    """Tokenise ``block``, whole lines each ending with ``\\n``."""
    raw = np.frombuffer(block, dtype=np.uint8)
    newline = np.flatnonzero(raw == NL)
    lines = len(newline)
    starts = np.empty(lines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = newline[:-1] + 1
    ends = newline
    sizes = ends - starts + 1
    padded = np.concatenate([raw, np.zeros(WIDTH + 4, dtype=np.uint8)])
    first = padded[starts]
    code = ~np.repeat(first == SEMI, sizes)
    code[newline] = False
    semi = raw == SEMI
    if (semi & code).any():  # comments after code: the code ends at the first ';'
        seen = np.cumsum(semi, dtype=np.int32)
        code &= seen == np.repeat(seen[starts] - semi[starts], sizes)
    filled = code & (raw != SPACE) & (raw != CR) & (raw != 9)
    kind = np.where(_per_line(starts, filled), OTHER, BLANK)
    kind[first == SEMI] = COMMENT
    # Heads: G0 to G3 or G92, followed by a space, CR, ';' or the line's end.
    head = np.full(lines, -1, dtype=np.int16)
    g = first == ord("G")
    c1, c2, c3 = padded[starts + 1], padded[starts + 2], padded[starts + 3]
    ends_at = np.isin(c2, (SPACE, CR, SEMI, NL))
    ends_after = np.isin(c3, (SPACE, CR, SEMI, NL))
    three = g & (c1 == ord("9")) & (c2 == ord("2")) & ends_after
    head[three] = 92
    for motion in range(4):  # G0 to G3, also written G00 to G03
        head[g & (c1 == ord("0") + motion) & ends_at] = motion
        padded_code = g & (c1 == ord("0")) & (c2 == ord("0") + motion) & ends_after
        head[padded_code] = motion
        three |= padded_code
    body = code.copy()
    last = len(raw) - 1  # a newline: never code, so safe to clear
    body[starts] = False
    body[np.minimum(starts + 1, last)] = False
    body[np.minimum(starts + 2, last)[three]] = False
    candidate = (head >= 0) & (kind == OTHER)
    body &= np.repeat(candidate, sizes)
    bad = body & ~_BODY[raw]
    letter = body & (_LETTER[raw] >= 0)
    prior = np.empty_like(raw)
    prior[0] = SPACE
    prior[1:] = raw[:-1]
    after_space = prior == SPACE
    word_start = body & (raw != SPACE) & (raw != CR) & after_space
    bad |= letter ^ word_start  # a letter only right after a space, and nothing else
    plain = candidate & ~_per_line(starts, bad)
    letter &= np.repeat(plain, sizes)
    letter_at = np.flatnonzero(letter)
    word_line = np.searchsorted(newline, letter_at)
    code_end = starts + np.add.reduceat(code, starts)  # where each line's comment starts
    span_end = code_end[word_line]
    span_end[:-1] = np.minimum(span_end[:-1], letter_at[1:])
    value, bad_word, long_word = _numbers(padded, letter_at + 1, span_end - letter_at - 1)
    plain[word_line[bad_word]] = False
    kind[plain] = PLAIN
    long = np.zeros(lines, dtype=bool)
    long[word_line[long_word]] = True
    values = np.full((lines, len(LETTERS)), np.nan)
    keep = plain[word_line]
    values[word_line[keep], _LETTER[raw[letter_at[keep]]]] = value[keep]
    # I J K R only on arcs; elsewhere the full tokenizer says what they mean.
    odd = plain & ((head < 2) | (head == 92)) & ~np.isnan(values[:, 5:]).all(axis=1)
    kind[odd] = OTHER
    return Tokens(starts, ends, kind, head, values, long & (kind == PLAIN))
