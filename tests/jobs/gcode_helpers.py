"""Helpers for the analysis tests: analyse G-code text under chosen kinematics."""

from __future__ import annotations

import dataclasses
import io

from fabhub.jobs.analysis import Analysis, analyze_stream
from fabhub.jobs.machine_profile import Axes, Kinematics, MachineProfile, example_profile

UNLIMITED = Axes(1e6, 1e6, 1e6, 1e6)


def kinematics(accel: float = 1000.0, cornering: str = "jerk", jerk: float = 0.0,
               deviation: float = 0.05) -> Kinematics:
    """One acceleration for every move, no feed-rate limits, the chosen cornering."""
    return Kinematics(max_feedrate=UNLIMITED, max_acceleration=UNLIMITED,
                      print_acceleration=accel, travel_acceleration=accel,
                      retract_acceleration=accel, cornering=cornering,
                      jerk=Axes(jerk, jerk, jerk, jerk), junction_deviation=deviation)


def profile(name: str = "fdm-marlin", **kinematics_args) -> MachineProfile:
    """An example profile with the given kinematics and no trust in embedded limits."""
    return dataclasses.replace(example_profile(name), kinematics=kinematics(**kinematics_args),
                               trust_embedded_limits=False)


def analyse(text: str, machine: MachineProfile | None = None) -> Analysis:
    """Analyse G-code given as text."""
    return analyze_stream(io.BytesIO(text.encode()), machine)


def trapezoid_s(length: float, v: float, a: float, v0: float = 0.0, v1: float = 0.0) -> float:
    """Hand formula: time to cover ``length`` from ``v0`` to ``v1``, cruising at ``v``."""
    accel_d = (v * v - v0 * v0) / (2 * a)
    decel_d = (v * v - v1 * v1) / (2 * a)
    if accel_d + decel_d <= length:
        return (v - v0) / a + (v - v1) / a + (length - accel_d - decel_d) / v
    peak = ((2 * a * length + v0 * v0 + v1 * v1) / 2) ** 0.5
    return (peak - v0) / a + (peak - v1) / a
