"""The core's findings and profile errors in the reader's language, rebuilt from their codes.

The job domain (``fabhub.jobs``) writes English sentences for the JSON API and the
command line, and beside each a stable code with its parameters. The pages build
the sentence again from the code with Flask-Babel, so a French reader gets French.
A code without an entry here, or a finding stored before parameters were kept,
falls back to the core's English text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

from fabhub.jobs.analysis import Finding
from fabhub.problems import Problem

Params = Mapping[str, Any]


def _kind(kind: object) -> str:
    return {"fdm": _("a 3D printer"), "laser": _("a laser cutter"),
            "cnc": _("a CNC mill")}.get(str(kind), str(kind))


def _outside(what: str) -> Callable[[Params], str]:
    return lambda p: _("%(what)s reaches %(axis)s=%(value)s mm, outside %(machine)s's "
                       "%(axis)s range %(low)s to %(high)s mm.", what=what, **p)


FINDINGS: dict[str, Callable[[Params], str]] = {
    "kind_unknown": lambda p: _("The file does not show which kind of machine it is for; "
                                "check it is meant for %(kind)s.", kind=_kind(p["kind"])),
    "kind_mismatch": lambda p: _("This file is for %(kind)s, but %(machine)s is "
                                 "%(machine_kind)s.", kind=_kind(p["kind"]),
                                 machine=p["machine"], machine_kind=_kind(p["machine_kind"])),
    "outside_envelope": lambda p: _outside(_("The work"))(p),
    "travel_outside_envelope": lambda p: _outside(_("A travel move"))(p),
    "larger_than_envelope": lambda p: _(
        "The %(part)s spans %(spans)s mm (X × Y × Z); %(machine)s has room for %(room)s mm "
        "wherever its work zero is set.",
        **{**p, "part": _("work") if p["part"] == "work" else _("travel")}),
    "forbidden_command": lambda p: _(
        "%(command)s is not allowed on %(machine)s: it changes the machine's stored settings "
        "or firmware; remove it from the file.", **p),
    "unsupported_command": lambda p: _(
        "%(machine)s cannot run %(command)s: its firmware (%(firmware)s) does not take it.",
        **p),
    "hotend_too_hot": lambda p: _("The nozzle is set to %(value)s °C; %(machine)s allows at "
                                  "most %(limit)s °C.", **p),
    "bed_too_hot": lambda p: _("The bed is set to %(value)s °C; %(machine)s allows at most "
                               "%(limit)s °C.", **p),
    "material_not_accepted": lambda p: _("%(machine)s does not take %(material)s; it takes "
                                         "%(accepted)s.", **p),
    "too_hot_for_material": lambda p: _("%(value)s °C is above %(limit)s °C, the most "
                                        "%(material)s takes on %(machine)s.", **p),
    "too_cold_for_material": lambda p: _("%(value)s °C is below %(limit)s °C, the least "
                                         "%(material)s needs; expect poor layers.", **p),
    "bed_too_hot_for_material": lambda p: _("The bed at %(value)s °C is above %(limit)s °C, "
                                            "the most for %(material)s.", **p),
    "laser_power_above_limit": lambda p: _("Laser power S%(value)s is above S%(limit)s, the "
                                           "most %(machine)s allows.", **p),
    "spindle_speed_above_limit": lambda p: _(
        "Spindle speed S%(value)s is above %(limit)s rpm; %(machine)s will run at its top "
        "speed instead.", **p),
}

PROFILE_ERRORS: dict[str, Callable[[Params], str]] = {
    "not_toml": lambda p: _("This is not valid TOML: %(detail)s", **p),
    "unreadable": lambda p: _("The profile cannot be read: %(detail)s", **p),
    "unknown_example": lambda p: _("%(name)s is not an example profile; examples: "
                                   "%(allowed)s", **p),
    "not_a_number": lambda p: _("must be a number, not %(value)s", **p),
    "not_finite": lambda _p: _("must be a finite number"),
    "not_positive": lambda p: _("must be more than zero, not %(value)s", **p),
    "negative": lambda p: _("must be zero or more, not %(value)s", **p),
    "not_boolean": lambda p: _("must be true or false, not %(value)s", **p),
    "not_string": lambda p: _("must be a non-empty text, not %(value)s", **p),
    "not_command_list": lambda _p: _('must be an array of command names such as "M500"'),
    "not_material_list": lambda _p: _("must be an array of tables ([[materials]])"),
    "not_table": lambda _p: _("must be a table"),
    "unknown_key": lambda p: _("unknown key; allowed keys: %(allowed)s", **p),
    "missing": lambda _p: _("is missing"),
    "not_a_choice": lambda p: _("must be one of %(allowed)s, not %(value)s", **p),
    "max_not_above_min": lambda p: _("must be more than %(other)s", **p),
    "required_for_kind": lambda p: _("is required for %(kind)s", kind=_kind(p["kind"])),
    "only_for_kind": lambda p: _("applies only to %(kind)s, not to %(actual)s",
                                 kind=_kind(p["kind"]), actual=_kind(p["actual"])),
    "no_material": lambda _p: _("a 3D printer must accept at least one material"),
    "required_for_fdm_material": lambda _p: _("is required for a 3D printer's materials"),
    "below_other": lambda p: _("must be at least %(other)s", **p),
    "duplicate_material": lambda _p: _("each material name may appear only once"),
    "class_kind_mismatch": lambda p: _(
        "machine class %(machine_class)s holds %(class_kind)s machines, but the profile "
        "describes %(kind)s.", machine_class=p["machine_class"],
        class_kind=_kind(p["class_kind"]), kind=_kind(p["kind"])),
}


ANALYSIS_ERRORS: dict[str, Callable[[Params], str]] = {
    "unreadable": lambda p: _("The file could not be read (%(reason)s); upload it again.", **p),
    "binary_gcode": lambda _p: _(
        "This is Prusa binary G-code (.bgcode); export plain G-code instead (PrusaSlicer: "
        "Printer Settings > General > Firmware > Binary G-code off)."),
    "binary_file": lambda _p: _("This is a binary file, not G-code text; upload the .gcode "
                                "file your slicer or CAM program exported."),
    "line_too_long": lambda _p: _("A line is longer than 1 MiB, so this is not a G-code "
                                  "file; upload the .gcode file your slicer exported."),
    "no_gcode": lambda _p: _("No G-code command was found: this does not look like G-code."),
    "mostly_not_gcode": lambda p: _(
        "%(invalid)s of %(lines)s lines are not G-code (the first at line %(first)s): this "
        "does not look like G-code.", **p),
}


def _numbers(params: Params) -> dict[str, Any]:
    """Parameters with numbers written the reader's way (decimal comma in French)."""
    return {k: format_decimal(v, format="#,##0.###")
            if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in params.items()}


def _built(table: dict[str, Callable[[Params], str]], code: str, params: object,
           english: str) -> str:
    build = table.get(code)
    if build is None or not isinstance(params, Mapping):
        return english
    try:
        text = build(_numbers(params))
    except KeyError:  # stored before this code kept (all) its parameters
        return english
    # gettext leaves the placeholders unfilled when it gets no parameters at all.
    return english if "%(" in text else text


def finding_text(finding: Finding) -> str:
    """A finding's sentence in the current language (its line is shown beside it)."""
    return _built(FINDINGS, finding.code, finding.params, finding.message)


def profile_error_text(code: str, key: str, params: Params, english: str) -> str:
    """A machine-profile error in the current language, led by the TOML key it is about."""
    text = _built(PROFILE_ERRORS, code, params, english)
    if text is english or not key:
        return text
    return _("%(key)s: %(message)s", key=key, message=text)


def problem_text(problem: Problem) -> str:
    """A refusal's message in the current language where its details allow, else as sent."""
    details = problem.details if isinstance(problem.details, dict) else {}
    if problem.code == "invalid_profile" and "reason" in details:
        return profile_error_text(details["reason"], details.get("key", ""),
                                  details.get("params") or {}, problem.message)
    if problem.code == "not_gcode" and "reason" in details:
        return _built(ANALYSIS_ERRORS, details["reason"], details.get("params") or {},
                      problem.message)
    return problem.message
