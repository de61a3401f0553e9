"""Firmware profiles: how a firmware family speaks, as validated TOML data.

A profile is read from ``fabhub.firmware_profiles/<name>.toml`` (or any path) and
checked against the dataclasses below: every key must be known, present and within
its allowed values, else :class:`ProfileError` names the file, the key and what is
allowed. Drivers read these flags; no driver branches on a firmware's name.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabhub.drivers.errors import ProfileError

PROFILE_PACKAGE = "fabhub.firmware_profiles"


def _choice(*values: str, doc: str) -> dict[str, Any]:
    return {"choices": values, "doc": doc}


def _range(low: float, high: float, doc: str) -> dict[str, Any]:
    return {"range": (low, high), "doc": doc}


def _regex(doc: str, groups: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"regex": True, "groups": groups, "doc": doc}


def _plain(doc: str) -> dict[str, Any]:
    return {"doc": doc}


@dataclass(frozen=True)
class Handshake:
    """How to greet and identify the firmware."""

    boot_wait_s: float = field(
        metadata=_range(0, 30, "seconds to let a board that resets on open boot"))
    identify: str = field(metadata=_plain("command that makes the firmware name itself"))
    identify_pattern: str = field(metadata=_regex("reply line naming the firmware", ("firmware",)))
    capability_pattern: str = field(metadata=_regex("reply line of one capability (or empty)",
                                     ("name", "value")))
    buffer_pattern: str = field(metadata=_regex("reply line giving the receive buffer (or empty)",
                                 ("blocks", "bytes")))
    init_commands: list[str] = field(
        metadata=_plain("commands sent and waited for after identifying"))
    timeout_s: float = field(
        metadata=_range(0.1, 120, "seconds to wait for each identification attempt"))
    attempts: int = field(metadata=_range(1, 10, "identification attempts before giving up"))


@dataclass(frozen=True)
class Lines:
    """How each line is framed."""

    line_numbers: bool = field(metadata=_plain("prefix job lines with N<number>"))
    checksums: bool = field(metadata=_plain("append *<checksum> to numbered lines"))
    paren_comments: bool = field(metadata=_plain("( ) are comments and are stripped"))
    max_line_bytes: int = field(
        metadata=_range(16, 1024, "longest line the firmware accepts, newline included"))


@dataclass(frozen=True)
class Flow:
    """Acknowledgement flow."""

    mode: str = field(metadata=_choice("ping_pong", "window", "character_counting",
                        doc="one line at a time, a window of lines, or Grbl's byte counting"))
    window_lines: int = field(
        metadata=_range(1, 64, "most unacknowledged lines (ping_pong needs 1)"))
    rx_buffer_bytes: int = field(
        metadata=_range(16, 65536, "usable bytes of the firmware's receive buffer"))
    rx_buffer_from_firmware: bool = field(
        metadata=_plain("take the buffer size from the identify reply"))
    send_and_wait: list[str] = field(
        metadata=_plain("command words sent only when nothing else is in flight"))
    response_timeout_s: float = field(
        metadata=_range(0.1, 600, "silence that triggers a tickle, then an error"))
    long_commands: list[str] = field(
        metadata=_plain("command words that may legitimately take long"))
    long_command_timeout_s: float = field(
        metadata=_range(1, 7200, "timeout while a long command is in flight"))
    tickle: str = field(
        metadata=_plain("command sent once when the firmware falls silent (or empty)"))
    resend_history_lines: int = field(
        metadata=_range(16, 100000, "sent lines kept for resend requests"))
    max_resends_per_line: int = field(
        metadata=_range(1, 100, "requests for one line before the job fails"))


@dataclass(frozen=True)
class Replies:
    """Forms of the firmware's reply lines (regular expressions)."""

    ok: str = field(metadata=_regex("acknowledgement"))
    resend: str = field(metadata=_regex("resend request (or empty)", ("line",)))
    busy: str = field(metadata=_regex("busy / keep-alive line (or empty)"))
    error: str = field(metadata=_regex("error line; group 'code' if numbered", ("message",)))
    line_error: str = field(
        metadata=_regex("error about a garbled line, answered by a resend (or empty)"))
    alarm: str = field(metadata=_regex("alarm line (or empty)", ("code",)))
    fatal: list[str] = field(metadata=_plain("patterns that make an error fatal"))
    startup: str = field(metadata=_regex("banner printed when the firmware (re)starts"))


@dataclass(frozen=True)
class Status:
    """Status and telemetry."""

    query: str = field(metadata=_plain("status or temperature query"))
    query_is_realtime: bool = field(
        metadata=_plain("the query is a real-time character, outside the buffer"))
    poll_interval_s: float = field(metadata=_range(0.2, 60, "seconds between polls (at most 5 Hz)"))
    autoreport_capability: str = field(
        metadata=_plain("capability that allows temperature autoreport"))
    autoreport_command: str = field(
        metadata=_plain("command enabling autoreport; {seconds} is replaced"))
    position_query: str = field(metadata=_plain("command that reports the position (or empty)"))


@dataclass(frozen=True)
class Commands:
    """Control sequences."""

    pause: list[str] = field(metadata=_plain("lines sent when pausing"))
    pause_realtime: str = field(metadata=_plain("real-time character sent when pausing (or empty)"))
    resume: list[str] = field(metadata=_plain("lines sent when resuming"))
    resume_realtime: str = field(
        metadata=_plain("real-time character sent when resuming (or empty)"))
    stop_mode: str = field(metadata=_choice("cancel_sequence", "hold_reset_unlock",
                             doc="how cancel stops the machine"))
    cancel: list[str] = field(metadata=_plain("lines sent after streaming stops on cancel"))
    hold_complete_states: list[str] = field(
        metadata=_plain("states that mean a feed hold has finished"))
    reset_realtime: str = field(metadata=_plain("real-time soft reset character (or empty)"))
    unlock: str = field(metadata=_plain("command that clears an alarm lock (or empty)"))
    check_mode: str = field(metadata=_plain("command toggling a G-code check mode (or empty)"))
    emergency_stop: str = field(metadata=_plain("emergency stop: a line, or a real-time character"))
    emergency_stop_is_realtime: bool = field(
        metadata=_plain("emergency_stop is a real-time character"))


@dataclass(frozen=True)
class FirmwareProfile:
    """A whole validated profile."""

    name: str
    dialect: str
    default_baud: int
    handshake: Handshake
    lines: Lines
    flow: Flow
    replies: Replies
    status: Status
    commands: Commands
    source: str = ""


_TOP = {"name": _plain("display name"),
        "dialect": _choice("reprap", "grbl", doc="N/checksum/ok protocol or Grbl's"),
        "default_baud": _range(300, 4_000_000, "baud rate used when none is given")}
_SECTIONS: dict[str, type] = {"handshake": Handshake, "lines": Lines, "flow": Flow,
                              "replies": Replies, "status": Status, "commands": Commands}


def _describe(meta: Mapping[str, Any], kind: type) -> str:
    if "choices" in meta:
        return "one of " + ", ".join(meta["choices"])
    if "range" in meta:
        low, high = meta["range"]
        return f"{kind.__name__} from {low} to {high}"
    if meta.get("regex"):
        return "a regular expression" + (
            f" (groups: {', '.join(meta['groups'])})" if meta["groups"] else "")
    return {"str": "a string", "bool": "true or false", "list[str]": "a list of strings",
            "int": "an integer", "float": "a number"}.get(kind.__name__, kind.__name__)


def _check(origin: str, key: str, value: Any, kind: type, meta: Mapping[str, Any]) -> Any:
    def bad(why: str) -> ProfileError:
        """The error for this key: file, key, value, why, and what is allowed."""
        return ProfileError(f"{origin}: {key} = {value!r} {why}; allowed: {_describe(meta, kind)}")

    if kind is bool and not isinstance(value, bool):
        raise bad("is not true or false")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, kind)):
        raise bad("has the wrong type")
    if kind is str and not isinstance(value, str):
        raise bad("is not a string")
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise bad("is not a list of strings")
    if "range" in meta and not meta["range"][0] <= value <= meta["range"][1]:
        raise bad("is out of range")
    if "choices" in meta and value not in meta["choices"]:
        raise bad("is not allowed")
    if meta.get("regex") and value:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise bad(f"is not a valid regular expression ({exc})") from exc
        missing = [g for g in meta["groups"] if g not in compiled.groupindex]
        if missing:
            raise bad(f"lacks the named group(s) {', '.join(missing)}")
    return value


_KINDS = {"str": str, "bool": bool, "int": int, "float": float, "list[str]": list}


def _build(cls: type, data: Mapping[str, Any], origin: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ProfileError(f"{origin}: [{prefix}] must be a table of keys")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ProfileError(f"{origin}: unknown key {prefix}.{unknown[0]}; "
                           f"allowed keys in [{prefix}]: {', '.join(fields)}")
    values = {}
    for name, spec in fields.items():
        kind = _KINDS[str(spec.type)]
        if name not in data:
            raise ProfileError(f"{origin}: missing key {prefix}.{name} "
                               f"({spec.metadata['doc']}); "
                               f"allowed: {_describe(spec.metadata, kind)}")
        values[name] = _check(origin, f"{prefix}.{name}", data[name], kind, spec.metadata)
    return cls(**values)


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], origin: str) -> None:
    for dotted, value in overrides.items():
        section, _, key = dotted.rpartition(".")
        target = data.get(section) if section else data
        if not isinstance(target, dict):
            raise ProfileError(f"{origin}: override {dotted!r} names no section of the profile")
        target[key] = value


def parse_profile(text: str, origin: str, overrides: Mapping[str, Any] | None = None
                  ) -> FirmwareProfile:
    """Validate TOML ``text``; ``origin`` names it in errors. ``overrides`` maps
    dotted keys (``"flow.window_lines"``) to values checked like the file's own."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: not valid TOML: {exc}") from exc
    _apply_overrides(data, overrides or {}, origin)
    allowed = [*_TOP, *_SECTIONS]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ProfileError(f"{origin}: unknown key {unknown[0]}; allowed: {', '.join(allowed)}")
    top = {}
    for key, spec in _TOP.items():
        kind = {"name": str, "dialect": str, "default_baud": int}[key]
        if key not in data:
            raise ProfileError(f"{origin}: missing key {key}; "
                               f"allowed: {_describe(spec, kind)}")
        top[key] = _check(origin, key, data[key], kind, spec)
    sections = {name: _build(cls, data.get(name, {}), origin, name)
                for name, cls in _SECTIONS.items()}
    profile = FirmwareProfile(**top, **sections, source=origin)
    if profile.flow.mode == "ping_pong" and profile.flow.window_lines != 1:
        raise ProfileError(f"{origin}: flow.window_lines = {profile.flow.window_lines} "
                           "with flow.mode = 'ping_pong'; allowed: 1")
    return profile


def available_profiles() -> list[str]:
    """Names of the profiles shipped with fabhub."""
    root = importlib.resources.files(PROFILE_PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None
                 ) -> FirmwareProfile:
    """A shipped profile by name (``"marlin"``), or a profile file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.parent != Path("."):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"cannot read firmware profile {path}: {exc}") from exc
        return parse_profile(text, str(path), overrides)
    resource = importlib.resources.files(PROFILE_PACKAGE).joinpath(f"{name_or_path}.toml")
    if not resource.is_file():
        raise ProfileError(f"no firmware profile named {name_or_path!r}; "
                           f"allowed: {', '.join(available_profiles())}")
    return parse_profile(resource.read_text(encoding="utf-8"), f"{name_or_path}.toml", overrides)
