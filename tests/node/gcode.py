"""Small generated G-code files for the end-to-end tests: one per machine kind."""

from __future__ import annotations


def fdm_print(moves: int, tag: str = "") -> bytes:
    """A square spiral of ``moves`` extruding moves in PLA on a small bed."""
    lines = [f"; fdm test print {tag}", "M104 S210", "M140 S60", "G28", "G90", "M83",
             "G1 Z0.2 F600"]
    for i in range(moves):
        x, y = 20 + (i % 40), 20 + (i // 40) % 40
        lines.append(f"G1 X{x} Y{y + (i % 2)} E0.05 F1200")
    lines += ["M104 S0", "M140 S0"]
    return ("\n".join(lines) + "\n").encode()


def laser_cut(moves: int, tag: str = "") -> bytes:
    """A zig-zag engraving of ``moves`` lines with the laser in dynamic power mode."""
    lines = [f"; laser test cut {tag}", "G21", "G90", "M4 S0", "G0 X10 Y10"]
    for i in range(moves):
        lines.append(f"G1 X{10 + (i % 50)} Y{10 + (i % 2) * 5} S300 F1500")
    lines += ["M5", "G0 X0 Y0"]
    return ("\n".join(lines) + "\n").encode()


def cnc_mill(moves: int, tag: str = "") -> bytes:
    """A shallow pocket of ``moves`` milling moves with the spindle on."""
    lines = [f"; cnc test pocket {tag}", "G21", "G90", "M3 S12000", "G0 Z5", "G0 X10 Y10",
             "G1 Z-0.5 F200"]
    for i in range(moves):
        lines.append(f"G1 X{10 + (i % 30)} Y{10 + (i % 2) * 3} F800")
    lines += ["G0 Z5", "M5", "G0 X0 Y0"]
    return ("\n".join(lines) + "\n").encode()
