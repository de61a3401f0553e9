"""Machine profiles: strict TOML in, TOML out, defaults from the firmware family."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabhub.jobs.analysis_model import Bounds
from fabhub.jobs.firmware_families import FAMILIES
from fabhub.jobs.machine_profile import (
    Axes,
    Envelope,
    Kinematics,
    MachineProfile,
    Material,
    ProfileError,
    dump_profile,
    example_names,
    example_profile,
    example_profiles,
    load_profile,
    load_profile_file,
    normalise_command,
)

LASER = """
name = "Test laser"
kind = "laser"
firmware = "grbl"
machine_class = "laser"
class_weight = 2
laser_max_power_w = 40
laser_max_s = 1000
[envelope]
x_min = 0
x_max = 400
y_min = 0
y_max = 300
z_min = 0
z_max = 50
"""


def test_three_examples_ship_one_of_each_kind() -> None:
    profiles = example_profiles()
    assert set(example_names()) == {"fdm-marlin", "laser-grbl", "cnc-grbl"}
    assert {p.kind for p in profiles.values()} == {"fdm", "laser", "cnc"}
    fdm = profiles["fdm-marlin"]
    assert (fdm.envelope.x_max, fdm.envelope.y_max, fdm.envelope.z_max) == (250, 210, 210)
    assert fdm.firmware == "marlin" and fdm.confirm_bed_clear and fdm.trust_embedded_limits
    assert fdm.material("pla").density_g_cm3 == pytest.approx(1.24)
    assert profiles["laser-grbl"].laser_max_s == 1000
    assert profiles["cnc-grbl"].envelope.z_max == 80
    assert profiles["cnc-grbl"].coordinates == "work"


@pytest.mark.parametrize("name", ["fdm-marlin", "laser-grbl", "cnc-grbl"])
def test_examples_round_trip_through_toml(name: str) -> None:
    profile = example_profile(name)
    assert load_profile(dump_profile(profile)) == profile


def test_unknown_example_names_the_examples() -> None:
    with pytest.raises(ProfileError, match="fdm-marlin"):
        example_profile("nope")


def test_profiles_inherit_the_firmware_familys_forbidden_commands() -> None:
    profile = load_profile(LASER)
    assert profile.forbidden_commands == FAMILIES["grbl"].forbidden
    assert "$<N>=" in profile.forbidden_commands
    assert "M500" in example_profile("fdm-marlin").forbidden_commands
    assert not profile.confirm_bed_clear
    # The dump leaves inherited values out, so the file keeps inheriting them.
    assert "forbidden_commands" not in dump_profile(profile)


def test_a_profile_may_override_forbidden_commands() -> None:
    profile = load_profile(LASER.replace('class_weight = 2',
                                         'class_weight = 2\nforbidden_commands = ["m3", "$H"]'))
    assert profile.forbidden_commands == ("M3", "$H")
    assert load_profile(dump_profile(profile)) == profile


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("kind = \"laser\"", "kind = \"plasma\""), r"kind: must be one of fdm, laser, cnc"),
        (("firmware = \"grbl\"", "firmware = \"mach3\""), r"firmware: must be one of .*grbl"),
        (("class_weight = 2", "class_weight = 2\ncolour = 1"),
         r"colour: unknown key; allowed keys: name, kind"),
        (("x_min = 0", "x_min = 0\nw_min = 1"),
         r"envelope.w_min: unknown key; allowed keys: x_min"),
        (("laser_max_s = 1000", ""), r"laser_max_s: is required for a laser machine"),
        (("laser_max_s = 1000", "laser_max_s = 1000\nnozzle_diameter_mm = 0.4"),
         r"nozzle_diameter_mm: applies only to a fdm machine"),
        (("class_weight = 2", "class_weight = true"), r"class_weight: must be a number"),
        (("class_weight = 2", "class_weight = -1"), r"class_weight: must be more than zero"),
        (("x_max = 400", "x_max = -1"), r"envelope.x_max: must be more than x_min"),
        (("name = \"Test laser\"", ""), r"name: is missing"),
        (("class_weight = 2", "class_weight = 2\ntrust_embedded_limits = \"yes\""),
         r"trust_embedded_limits: must be true or false"),
        (("class_weight = 2", "class_weight = 2\nforbidden_commands = \"M500\""),
         r"forbidden_commands: must be an array"),
        (("[envelope]", "[kinematics]\ncornering = \"smooth\"\n[envelope]"),
         r"kinematics.cornering: must be one of jerk, junction_deviation"),
        (("[envelope]", "[kinematics]\nmax_feedrate = { x = 1, y = 1, z = 1 }\n[envelope]"),
         r"kinematics.max_feedrate.e: is missing"),
        (("class_weight = 2", "class_weight = 2\nmaterials = [{ name = \"a\" }, "
                              "{ name = \"A\" }]"), r"materials: each material name"),
        (("name = ", "name = = "), r"not valid TOML"),
    ],
)
def test_bad_profiles_name_source_key_and_allowed_values(change: tuple[str, str],
                                                         expected: str) -> None:
    text = LASER.replace(*change)
    with pytest.raises(ProfileError, match=r"^lab/laser.toml: (?s:.*)" + expected):
        load_profile(text, source="lab/laser.toml")


def test_fdm_materials_need_temperatures_and_density() -> None:
    text = dump_profile(example_profile("fdm-marlin")).replace("density_g_cm3 = 1.24\n", "", 1)
    with pytest.raises(ProfileError, match=r"materials\[0\].density_g_cm3: is required"):
        load_profile(text)


def test_load_profile_file_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the profile"):
        load_profile_file(tmp_path / "missing.toml")
    path = tmp_path / "laser.toml"
    path.write_text(LASER)
    assert load_profile_file(path).name == "Test laser"


def test_envelope_contains_and_fits() -> None:
    def box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Bounds:
        return Bounds(x0, x1, y0, y1, z0, z1, moves=1)

    env = Envelope(0, 100, 0, 50, 0, 10)
    assert env.contains(box(0, 100, 0, 50, 0, 10))
    assert not env.contains(box(-1, 10, 0, 5, 0, 1))
    assert env.fits(box(-50, 40, -20, 20, -5, 0))
    assert not env.fits(box(-50, 60, 0, 5, 0, 1))
    assert env.contains(Bounds())


@pytest.mark.parametrize(("raw", "expected"),
                         [("m500", "M500"), (" G01 ", "G1"), ("g28.1", "G28.1"),
                          ("$rst=", "$RST="), ("T", "T")])
def test_command_names_are_normalised(raw: str, expected: str) -> None:
    assert normalise_command(raw) == expected


positive = st.floats(min_value=0.001, max_value=1e5, allow_nan=False)
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)


@st.composite
def fdm_profiles(draw) -> MachineProfile:
    lows = [draw(st.floats(-100, 100)) for _ in range(3)]
    highs = [low + draw(positive) for low in lows]
    axes = st.builds(Axes, positive, positive, positive, positive)
    materials = draw(st.lists(st.builds(Material, names, positive, positive, positive,
                                        st.none() | positive),
                              min_size=1, max_size=3, unique_by=lambda m: m.name.lower()))
    materials = [dataclasses.replace(m, max_temp_c=m.min_temp_c + m.max_temp_c)
                 for m in materials]
    return MachineProfile(
        name=draw(names), kind="fdm", firmware=draw(st.sampled_from(sorted(FAMILIES))),
        machine_class=draw(names), class_weight=draw(positive),
        envelope=Envelope(lows[0], highs[0], lows[1], highs[1], lows[2], highs[2]),
        kinematics=Kinematics(max_feedrate=draw(axes), jerk=draw(axes),
                              cornering=draw(st.sampled_from(["jerk", "junction_deviation"]))),
        nozzle_diameter_mm=draw(positive), filament_diameter_mm=draw(positive),
        materials=tuple(materials), max_hotend_temp_c=draw(positive),
        max_bed_temp_c=draw(positive), confirm_bed_clear=draw(st.booleans()),
        trust_embedded_limits=draw(st.booleans()),
    )


@settings(max_examples=40, deadline=None, derandomize=True)
@given(fdm_profiles())
def test_any_valid_profile_round_trips(profile: MachineProfile) -> None:
    assert load_profile(dump_profile(profile)) == profile
