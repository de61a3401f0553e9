"""What each firmware family accepts and what a job file must never send to it (data).

A machine profile names its firmware (the same names as ``firmware_profiles/``). The
analyzer and the validator read this table, never the firmware's name, to decide which
commands a job may contain. The command names are normalised as the analyzer records
them:

* G, M and T words as ``G1``, ``M104``, ``G28.1``, ``T`` (any tool number);
* Grbl system commands as ``$`` plus their letters, with a numbered setting written as
  ``$<N>`` and ``=`` appended when the line assigns: ``$110=500`` is ``$<N>=``,
  ``$RST=*`` is ``$RST=``, ``$N0=G20`` is ``$N=``, ``$H`` is ``$H``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FirmwareFamily:
    """One firmware family: forbidden commands, and the commands it takes or refuses.

    ``accepts`` is the complete list of commands the firmware takes (anything else is
    refused, as Grbl answers ``error:20``), or ``None`` when the firmware takes anything
    not listed in ``refuses``. ``refuses`` maps a command to why the firmware refuses it.
    ``supports_kinematics_commands`` says whether M201-M205 change its motion limits;
    ``feedrate_limits_per_minute`` whether M203 takes mm/min (RepRapFirmware) not mm/s.
    """

    name: str
    forbidden: tuple[str, ...]
    accepts: frozenset[str] | None
    refuses: dict[str, str]
    supports_kinematics_commands: bool
    feedrate_limits_per_minute: bool = False

    def refusal(self, command: str) -> str | None:
        """Why this firmware does not take ``command``, or ``None`` if it does."""
        if command in self.refuses:
            return self.refuses[command]
        if self.accepts is not None and command not in self.accepts:
            return f"{self.name} does not implement {command}"
        return None


# Grbl 1.1's G-code and M-code support, then its system commands.
_GRBL_CODES = (
    "G0 G1 G2 G3 G4 G10 G17 G18 G19 G20 G21 G28 G28.1 G30 G30.1 G38.2 G38.3 G38.4 G38.5 "
    "G40 G43.1 G49 G53 G54 G55 G56 G57 G58 G59 G61 G80 G90 G91 G91.1 G92 G92.1 G93 G94 "
    "M0 M1 M2 M30 M3 M4 M5 M7 M8 M9 M56 T"
)
_GRBL_SYSTEM = "$$ $# $G $I $N $C $X $H $J= $SLP $<N>= $RST= $N= $I="
_GRBL_ACCEPTS = frozenset(_GRBL_CODES.split(" ") + _GRBL_SYSTEM.split(" "))

FAMILIES: dict[str, FirmwareFamily] = {
    "marlin": FirmwareFamily(
        name="marlin",
        forbidden=(
            "M28",   # start writing a file to the SD card
            "M29",   # stop writing to the SD card
            "M30",   # delete a file from the SD card
            "M303",  # PID autotune: heats without supervision
            "M500",  # save settings to EEPROM
            "M502",  # factory reset of settings
            "M928",  # start SD logging
            "M997",  # firmware update
        ),
        accepts=None,
        refuses={
            "G20": "stock Marlin builds lack INCH_MODE_SUPPORT and take inch values as mm",
        },
        supports_kinematics_commands=True,
    ),
    "reprapfirmware": FirmwareFamily(
        name="reprapfirmware",
        forbidden=("M28", "M29", "M30", "M303", "M500", "M997", "M999"),
        accepts=None,
        refuses={},
        supports_kinematics_commands=True,
        feedrate_limits_per_minute=True,
    ),
    "smoothieware": FirmwareFamily(
        name="smoothieware",
        forbidden=("M28", "M29", "M30", "M303", "M500", "M502"),
        accepts=None,
        refuses={},
        supports_kinematics_commands=True,
    ),
    "grbl": FirmwareFamily(
        name="grbl",
        forbidden=(
            "$<N>=",  # write a numbered setting ($110=500)
            "$RST=",  # restore settings or wipe EEPROM
            "$N=",    # store a startup block
            "$I=",    # write the build-info string
        ),
        accepts=_GRBL_ACCEPTS,
        refuses={},
        supports_kinematics_commands=False,
    ),
}


def family(name: str) -> FirmwareFamily:
    """The family called ``name``; ``KeyError`` if there is none."""
    return FAMILIES[name]
