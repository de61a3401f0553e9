"""Talking to machines: G-code lines, firmware profiles, serial transport, streaming.

Imports nothing from the rest of fabhub.
"""
