"""Fault injection for the simulated firmware, parsed from ``name=value`` strings."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

HELP = """\
corrupt=RATE          change one byte of this share of numbered lines (host to device)
drop=RATE             lose this share of numbered lines whole (host to device)
corrupt_replies=RATE  change one byte of this share of ok replies (device to host)
lose_ok=N             execute line N but never acknowledge it
error_at=N[:CODE]     firmware error at line N (Marlin: a fatal thermal runaway;
                      Grbl: error:CODE, default 20)
alarm_at=N[:CODE]     Grbl alarm CODE (default 1, hard limit) at line N
disconnect_at=N       the device vanishes when line N arrives
seed=S                random seed for the rates (default 0)
Line N is the line numbered N (Marlin) or the N-th G-code block (Grbl)."""


def _rate(name: str, value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name}={value}: a rate must be from 0 up to (not including) 1")
    return rate


def _line_and_code(name: str, value: str, default: int) -> tuple[int, int]:
    line, _, code = value.partition(":")
    number = int(line)
    if number < 1:
        raise ValueError(f"{name}={value}: line numbers start at 1")
    return number, int(code) if code else default


@dataclass
class Faults:
    """Which faults a simulator injects; the default injects none."""

    corrupt: float = 0.0
    drop: float = 0.0
    corrupt_replies: float = 0.0
    lose_ok: set[int] = field(default_factory=set)
    error_at: dict[int, int] = field(default_factory=dict)
    alarm_at: dict[int, int] = field(default_factory=dict)
    disconnect_at: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Faults:
        """Faults from strings such as ``corrupt=0.2`` or ``error_at=120:22``.

        Raises ``ValueError`` naming the bad spec and listing the accepted ones.
        """
        faults = cls()
        for spec in specs:
            name, sep, value = spec.partition("=")
            try:
                if not sep:
                    raise ValueError(f"{spec!r} is not name=value")
                if name in ("corrupt", "drop", "corrupt_replies"):
                    setattr(faults, name, _rate(name, value))
                elif name == "lose_ok":
                    faults.lose_ok.add(_line_and_code(name, value, 0)[0])
                elif name == "error_at":
                    line, code = _line_and_code(name, value, 20)
                    faults.error_at[line] = code
                elif name == "alarm_at":
                    line, code = _line_and_code(name, value, 1)
                    faults.alarm_at[line] = code
                elif name == "disconnect_at":
                    faults.disconnect_at = _line_and_code(name, value, 0)[0]
                elif name == "seed":
                    faults.seed = int(value)
                    faults.random = random.Random(faults.seed)
                else:
                    raise ValueError(f"unknown fault {name!r}")
            except ValueError as exc:
                raise ValueError(f"bad fault {spec!r}: {exc}. Accepted:\n{HELP}") from exc
        return faults

    def hit(self, rate: float) -> bool:
        """Draw once: does a fault with this rate strike now?"""
        return rate > 0 and self.random.random() < rate

    def garble(self, data: bytes) -> bytes:
        """``data`` (without its line ending) with one byte changed to another printable one."""
        if not data:
            return data
        where = self.random.randrange(len(data))
        new = data[where]
        while new == data[where]:
            new = self.random.randrange(33, 127)
        return data[:where] + bytes([new]) + data[where + 1:]
