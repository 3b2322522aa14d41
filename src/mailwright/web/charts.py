"""Line charts as SVG geometry (pure): series of counts in, points and axis ticks out.

The template draws the ``<svg>``; each point carries a ``<title>`` so hovering shows its value
without any script. The y axis runs from 0 to a "nice" maximum (1, 2 or 5 times a power of ten)
so the ticks are round numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
TICKS = 4


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: tuple[int, ...]
    start: int = 0  # the bucket of the first value (a series that begins later)


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str  # "2026-11-26 14:00 delivered: 12"


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    colour: str
    total: int
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float
    right: float
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is >= ``value`` (and at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def line_chart(labels: Sequence[str], series: Sequence[Series], *, x_ticks: int = 6) -> Chart:
    """One line per series over ``labels`` (one label per bucket, oldest first)."""
    count = len(labels)
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y_of(v: int) -> float:
        return TOP + plot_h * (1 - v / top)

    lines = tuple(
        Line(
            s.name,
            s.colour,
            sum(s.values),
            tuple(
                Point(x_of(i), y_of(v), f"{labels[i]} {s.name}: {v}")
                for i, v in enumerate(s.values[: max(0, count - s.start)], start=s.start)
            ),
        )
        for s in series
    )
    steps = sorted({top * k // TICKS for k in range(TICKS + 1)})  # small maxima: no repeats
    y_ticks = tuple((y_of(v), f"{v:,}") for v in steps)
    every = max(1, math.ceil(count / x_ticks))
    x_tick_list = tuple((x_of(i), labels[i]) for i in range(0, count, every))
    return Chart(WIDTH, HEIGHT, LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, lines, y_ticks, x_tick_list)
