"""What Grbl 1.1's ``error:N`` and ``ALARM:N`` mean, as data.

Condensed from the tables in Grbl's documentation (doc/csv/error_codes_en_US.csv and
alarm_codes_en_US.csv of the Grbl 1.1 sources), in fabhub's own words.
"""

from __future__ import annotations

ERRORS: dict[int, str] = {
    1: "expected a command letter: a G-code word must be a letter followed by a value",
    2: "bad number format: a word's value is missing or not a valid number",
    3: "invalid statement: Grbl does not know this '$' system command",
    4: "value < 0: a value that must be positive was negative",
    5: "setting disabled: homing is not enabled in the settings",
    6: "value < 3 usec: the step pulse time must be at least 3 microseconds",
    7: "EEPROM read failed: the affected settings were restored to their defaults",
    8: "not idle: this '$' command only works while Grbl is idle",
    9: "G-code locked: commands are refused during an alarm or a jog",
    10: "homing not enabled: soft limits need homing to be enabled",
    11: "line overflow: the line has too many characters and was not executed",
    12: "step rate > 30 kHz: this setting would make the step rate too high",
    13: "check door: the safety door was opened",
    14: "line length exceeded: the build info or startup line is too long for EEPROM",
    15: "travel exceeded: the jog target is outside the machine's travel; jog ignored",
    16: "invalid jog command: it has no '=' or contains a forbidden G-code",
    17: "setting disabled: laser mode needs PWM output",
    20: "unsupported command: the block contains an unsupported or invalid G-code",
    21: "modal group violation: two commands of the same modal group in one block",
    22: "undefined feed rate: no feed rate has been set",
    23: "the command in this block needs an integer value",
    24: "two commands in this block both need the axis words",
    25: "a G-code word is repeated in this block",
    26: "no axis words in this block, but its command or the modal state needs them",
    27: "invalid line number value",
    28: "the command is missing a required value word",
    29: "G59.x work coordinate systems are not supported",
    30: "G53 is only allowed with G0 and G1 motion",
    31: "axis words found, but no command or modal state in this block uses them",
    32: "G2/G3 arcs need at least one axis word in the selected plane",
    33: "the motion command's target is invalid",
    34: "the arc radius value is invalid",
    35: "G2/G3 arcs need at least one offset word in the selected plane",
    36: "unused value words in this block",
    37: "G43.1 dynamic tool length offset is not on the configured tool length axis",
    38: "the tool number is greater than the largest supported",
}

ALARMS: dict[int, str] = {
    1: "hard limit triggered: position is probably lost after the sudden stop; re-home",
    2: "soft limit: a motion target is outside the machine's travel; position kept, "
       "it is safe to unlock",
    3: "reset while moving: position is probably lost after the sudden stop; re-home",
    4: "probe fail: the probe was not in the expected state before the probing cycle",
    5: "probe fail: the probe did not touch the workpiece within the programmed travel",
    6: "homing fail: the homing cycle was reset",
    7: "homing fail: the safety door was opened during homing",
    8: "homing fail: pulling off did not clear the limit switch; raise the pull-off "
       "setting or check the wiring",
    9: "homing fail: no limit switch found within the search distance; check max travel, "
       "pull-off distance and wiring",
}


def describe_error(code: int) -> str:
    """``error:<code>`` in words."""
    return f"error {code}: " + ERRORS.get(code, "not in Grbl 1.1's error table")


def describe_alarm(code: int) -> str:
    """``ALARM:<code>`` in words."""
    return f"alarm {code}: " + ALARMS.get(code, "not in Grbl 1.1's alarm table")
