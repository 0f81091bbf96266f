"""Colours of the app in one place: lights (灭红灯), alert levels, hotspot bins, choropleth ramp, theme.

Lights and alert levels take their colours from the enumerations that define them
(`geo.deadlines.LIGHTS`, `geo.warnings.LEVELS`), so a map, a chart and a list always agree.
"""

from __future__ import annotations

from geo.deadlines import LIGHT_BY_CODE, LIGHTS
from geo.warnings import LEVEL_BY_CODE, LEVELS

RGB = tuple[int, int, int]

# Theme (matches .streamlit/config.toml).
BACKGROUND = "#0e1a2b"
PANEL = "#16263d"
PANEL_EDGE = "#24385a"
TEXT = "#e6edf5"
MUTED = "#8da2bd"
ACCENT = "#e8483b"

# Choropleth: YlOrRd, 6 classes, light for few cases, dark red for many.
SEQUENTIAL: tuple[RGB, ...] = ((255, 255, 178), (254, 217, 118), (254, 178, 76), (253, 141, 60),
                               (240, 59, 32), (189, 0, 38))
NO_DATA: RGB = (90, 100, 115)
SUPPRESSED: RGB = (150, 160, 175)  # a unit whose count is shown as "<5": one colour, not its class
OUTLINE: RGB = (230, 237, 245)
GRID_EDGE = (14, 26, 43, 160)

LIGHT_ORDER: tuple[str, ...] = tuple(light.code for light in LIGHTS)      # red, yellow, green, none
LEVEL_ORDER: tuple[str, ...] = tuple(level.code for level in LEVELS)      # red, orange, yellow, blue

# Getis-Ord Gi* bins: +3 hot 99 % … -3 cold 99 % (outlines on the maps).
HOTSPOT_RGB: dict[int, RGB] = {3: (215, 38, 61), 2: (242, 140, 40), 1: (242, 183, 5),
                               -1: (120, 170, 230), -2: (70, 130, 210), -3: (47, 90, 190)}

# Series of the charts (new vs concluded cases, stacked statuses).
SERIES: dict[str, str] = {"received": "#5fa8ff", "closed": "#2e9e5b", "open": "#f2b705", "overdue": "#d7263d",
                          "resolved": "#2e9e5b", "pending": "#5fa8ff"}


def light_hex(code: str) -> str:
    """Hex colour of a light code (red / yellow / green / none)."""
    return LIGHT_BY_CODE[code].colour if code in LIGHT_BY_CODE else LIGHT_BY_CODE["none"].colour


def light_rgb(code: str) -> RGB:
    return LIGHT_BY_CODE[code].rgb if code in LIGHT_BY_CODE else LIGHT_BY_CODE["none"].rgb


def level_hex(code: str) -> str:
    """Hex colour of an alert level (red / orange / yellow / blue); grey when unknown."""
    return LEVEL_BY_CODE[code].colour if code in LEVEL_BY_CODE else "#8a94a6"


def level_rgb(code: str) -> RGB:
    return LEVEL_BY_CODE[code].rgb if code in LEVEL_BY_CODE else (138, 148, 166)


def level_rank(code: str) -> int:
    """0 for red … 3 for blue, 4 for anything else: sort key, most severe first."""
    return LEVEL_ORDER.index(code) if code in LEVEL_ORDER else len(LEVEL_ORDER)


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
