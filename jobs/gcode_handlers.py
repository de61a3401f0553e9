"""What each G-code command (other than a plain G0/G1) does to the scanner's state.

:func:`run_line` takes one tokenised line, records its commands, applies the modal ones
in the standard order (feed, spindle, tool, modes, then motion) and returns a linear move
for :meth:`Scanner.move`, or ``None``. Handlers are plain functions registered by name.
"""

from __future__ import annotations

from collections.abc import Callable

from fabhub.jobs.arcs import arc_move
from fabhub.jobs.gcode_scan import LIMIT, Scanner, command_name

Params = dict[str, float]
MOTIONS = {"G0": 0, "G1": 1, "G2": 2, "G3": 3}
# Commands whose S word is the laser power or spindle speed.
SPINDLE_CONTEXT = frozenset({"G0", "G1", "G2", "G3", "M3", "M4", "M5"})
# Commands known and without effect on what the analyzer measures.
_KNOWN = (
    "G17 G18 G19 G21 G29 G30 G38.2 G38.3 G38.4 G38.5 G40 G43.1 G49 G53 G54 G55 G56 G57 "
    "G58 G59 G61 G64 G80 G90.1 G91.1 G92.1 G94 "
    "M2 M7 M8 M9 M17 M18 M21 M22 M30 M42 M73 M84 M92 M105 M106 M107 M110 M114 M115 M119 "
    "M141 M155 M201 M203 M204 M205 M300 M303 M500 M501 M502 M503 M851 M862.1 M862.3 M900 "
    "M907 M997 M999"
)
KNOWN = frozenset(_KNOWN.split(" "))
DEFAULT_RETRACT = (3.0, 45.0, 8.0)  # Marlin FWRETRACT: length mm, retract and recover mm/s


def run_line(sc: Scanner, words: list[tuple[str, bytes]]) -> tuple | None:
    """Apply one tokenised line; return ``(motion, x, y, z, e, f)`` for a linear move."""
    commands: list[str] = []
    params: Params = {}
    bare = False
    for letter, value in words:
        if not value:
            bare = True  # an axis letter alone: present, no value
            params[letter] = 0.0
        elif letter in "GM":
            name = command_name(letter, value)
            if name is None:
                sc.invalid_line()
                return None
            commands.append(name)
        else:
            number = float(value)
            if not -LIMIT < number < LIMIT:
                sc.invalid_line()
                return None
            params[letter] = number
    sc.valid_lines += 1
    if bare and any(name in MOTIONS for name in commands):
        params = {k: v for k, v in params.items() if v or (k, b"") not in words}
    if "T" in params and all(name == "M6" or name[0] == "G" for name in commands):
        commands.append("T")  # a tool change; on M104 T1 and the like T is an argument
    for name in commands:
        sc.commands.setdefault(name, sc.line)
    if "F" in params and params["F"] > 0:
        sc.feed = params["F"] * sc.scale / 60.0
    if "S" in params and all(name in SPINDLE_CONTEXT for name in commands):
        spindle_speed(sc, params["S"])
    motion = None
    for name in commands:
        if name in MOTIONS:
            motion = MOTIONS[name]
            sc.motion = motion
            continue
        handler = HANDLERS.get(name)
        if handler is not None:
            handler(sc, params)
        elif name not in KNOWN:
            sc.unknown.setdefault(name, sc.line)
    if motion is None:
        if commands or not any(axis in params for axis in "XYZE"):
            return None
        motion = sc.motion  # a bare coordinate line repeats the modal motion
    if motion >= 2:
        arc_move(sc, params, clockwise=motion == 2)
        return None
    return (motion, params.get("X"), params.get("Y"), params.get("Z"), params.get("E"),
            params.get("F"))


def peak(sc: Scanner, key: str, value: float) -> None:
    """Remember the highest ``value`` of ``key`` and the line that set it."""
    if value > sc.peaks.get(key, (0.0, 0))[0]:
        sc.peaks[key] = (value, sc.line)


def spindle_speed(sc: Scanner, value: float) -> None:
    """An S word for the laser or spindle."""
    sc.spindle_s = value
    peak(sc, "s", value)


def _tool_on(sc: Scanner, params: Params) -> None:
    sc.tool_on = True
    if sc.rapid_g0 is None and not sc.extruded:
        sc.rapid_g0 = True


def _tool_off(sc: Scanner, params: Params) -> None:
    sc.tool_on = False


def _dwell(sc: Scanner, params: Params) -> None:
    sc.planner.stop()
    on = sc.tool_on and sc.spindle_s > 0
    if "S" in params:
        sc.dwell_s += max(0.0, params["S"])
        if on:
            sc.dwell_s_tool_on += max(0.0, params["S"])
    elif "P" in params:
        sc.dwell_p += max(0.0, params["P"])
        if on:
            sc.dwell_p_tool_on += max(0.0, params["P"])


def _home(sc: Scanner, params: Params) -> None:
    sc.planner.stop()
    axes = [axis for axis in "XYZ" if axis in params] or ["X", "Y", "Z"]
    for axis in axes:
        setattr(sc, axis.lower(), 0.0)


def _set_position(sc: Scanner, params: Params) -> None:
    if not any(axis in params for axis in "XYZE"):
        sc.x = sc.y = sc.z = sc.e = 0.0
        return
    for axis in "XYZE":
        if axis in params:
            setattr(sc, axis.lower(), params[axis] * sc.scale)


def _g10(sc: Scanner, params: Params) -> None:
    if "L" in params:
        sc.note("G10 L changes work offsets; bounds are given in program coordinates")
    elif "P" in params and ("S" in params or "R" in params):
        _set_hotend(sc, int(params["P"]), params.get("S", 0.0))  # RepRapFirmware tool temp
    else:
        length, speed, _ = DEFAULT_RETRACT
        sc.planner.add(0.0, 0.0, 0.0, -length, speed)


def _g11(sc: Scanner, params: Params) -> None:
    length, _, speed = DEFAULT_RETRACT
    sc.planner.add(0.0, 0.0, 0.0, length, speed)


def _set_hotend(sc: Scanner, tool: int, value: float) -> None:
    sc.hotend(tool).set(value, sc.now())
    peak(sc, "hotend", value)
    if sc.rapid_g0 is None and value > 0:
        sc.rapid_g0 = False


def _m104(sc: Scanner, params: Params) -> None:
    value = params.get("S", params.get("R"))
    if value is not None:
        _set_hotend(sc, int(params.get("T", sc.tool)), value)


def _m109(sc: Scanner, params: Params) -> None:
    _m104(sc, params)
    _wait(sc, sc.hotend(int(params.get("T", sc.tool))), cooling_too="R" in params)


def _m140(sc: Scanner, params: Params) -> None:
    value = params.get("S", params.get("R"))
    if value is not None:
        sc.bed.set(value, sc.now())
        peak(sc, "bed", value)


def _m190(sc: Scanner, params: Params) -> None:
    _m140(sc, params)
    _wait(sc, sc.bed, cooling_too="R" in params)


def _m116(sc: Scanner, params: Params) -> None:
    for heater in [*sc.hotends.values(), sc.bed]:
        _wait(sc, heater, cooling_too=False)


def _wait(sc: Scanner, heater, cooling_too: bool) -> None:
    sc.planner.stop()
    sc.heating_s += heater.wait(sc.now(), cooling_too)


def _stop(sc: Scanner, params: Params) -> None:
    sc.planner.stop()


def _pause(sc: Scanner, params: Params) -> None:
    sc.planner.stop()
    sc.note("the job pauses for the operator (M0/M1/M600/M601); its time excludes the pause")


def _tool_change(sc: Scanner, params: Params) -> None:
    if "T" in params:
        sc.planner.stop()
        sc.tool = int(params["T"])


def _m6(sc: Scanner, params: Params) -> None:
    sc.planner.stop()
    sc.note("the job changes tools (M6); its time excludes the change")


def _kinematics(attr: str, scale: float = 1.0) -> Callable[[Scanner, Params], None]:
    """M201/M203/M205: per-axis limits from X Y Z E words (if the firmware takes them)."""
    def handler(sc: Scanner, params: Params) -> None:
        if sc.family is not None and not sc.family.supports_kinematics_commands:
            return
        values = getattr(sc.planner, attr)
        for index, axis in enumerate("XYZE"):
            if axis in params and params[axis] > 0:
                values[index] = params[axis] * scale
        sc.planner.limits_changed()
    return handler


def _m203(sc: Scanner, params: Params) -> None:
    """Maximum feed rates: mm/s on Marlin, mm/min on RepRapFirmware."""
    per_minute = sc.family is not None and sc.family.feedrate_limits_per_minute
    _kinematics("max_feedrate", 1.0 / 60.0 if per_minute else 1.0)(sc, params)


def _m204(sc: Scanner, params: Params) -> None:
    if sc.family is not None and not sc.family.supports_kinematics_commands:
        return
    planner = sc.planner
    if params.get("S", 0) > 0:
        planner.print_acceleration = planner.travel_acceleration = params["S"]
    if params.get("P", 0) > 0:
        planner.print_acceleration = params["P"]
    if params.get("R", 0) > 0:
        planner.retract_acceleration = params["R"]
    if params.get("T", 0) > 0:
        planner.travel_acceleration = params["T"]
    planner.limits_changed()


def _m205(sc: Scanner, params: Params) -> None:
    if sc.family is not None and not sc.family.supports_kinematics_commands:
        return
    _kinematics("jerk")(sc, params)
    planner = sc.planner
    if "S" in params:
        planner.min_print_feedrate = max(0.0, params["S"])
    if "T" in params:
        planner.min_travel_feedrate = max(0.0, params["T"])
    if params.get("J", 0) > 0:
        planner.junction_deviation = params["J"]
    if "B" in params:
        planner.min_segment_time = max(0.0, params["B"]) / 1e6
    planner.limits_changed()


def _mode(name: str, value: object) -> Callable[[Scanner, Params], None]:
    def handler(sc: Scanner, params: Params) -> None:
        setattr(sc, name, value)
    return handler


def _absolute(sc: Scanner, params: Params) -> None:
    sc.relative = sc.relative_e = False


def _relative(sc: Scanner, params: Params) -> None:
    sc.relative = sc.relative_e = True


def _percent(name: str) -> Callable[[Scanner, Params], None]:
    def handler(sc: Scanner, params: Params) -> None:
        if params.get("S", 0) > 0:
            setattr(sc, name, params["S"] / 100.0)
    return handler


def _inverse_time(sc: Scanner, params: Params) -> None:
    sc.note("G93 inverse-time feed is not modelled; the time estimate treats F as mm/min")


HANDLERS: dict[str, Callable[[Scanner, Params], None]] = {
    "G4": _dwell, "G10": _g10, "G11": _g11, "G28": _home, "G92": _set_position,
    "G17": _mode("plane", 17), "G18": _mode("plane", 18), "G19": _mode("plane", 19),
    "G20": _mode("scale", 25.4), "G21": _mode("scale", 1.0), "G90": _absolute,
    "G91": _relative, "G93": _inverse_time, "M0": _pause, "M1": _pause, "M600": _pause,
    "M601": _pause, "M3": _tool_on, "M4": _tool_on, "M5": _tool_off, "M6": _m6,
    "M82": _mode("relative_e", False), "M83": _mode("relative_e", True),
    "M104": _m104, "M109": _m109, "M140": _m140, "M190": _m190, "M116": _m116,
    "M201": _kinematics("max_acceleration"), "M203": _m203,
    "M204": _m204, "M205": _m205, "M220": _percent("speed_factor"),
    "M221": _percent("flow"), "M400": _stop, "T": _tool_change,
}
