"""Server-rendered SVG line charts: a few polylines, no chart library, readable without colour
(each series has its own dash pattern and a legend in words).

The time axis is fixed: the last five minutes, the dashboard's whole history, with each sample
placed by its own timestamp, so a young history is a short line at the right, not a stretched
one. The value axis runs from 0 to a round number above the highest value, and is labelled.
Numbers are written for people: three significant digits, thousands separated, never an exponent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from backend.core.stats import KEEP_SAMPLES, SAMPLE_EVERY

WIDTH = 600
HEIGHT = 160
PAD = 4
WINDOW = KEEP_SAMPLES * SAMPLE_EVERY  # seconds shown: every sample the dashboard keeps
TICK_EVERY = 60
STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)  # round tops, times a power of 10
MAX_DECIMALS = 6
SINGULAR = {"jobs": "job", "jobs/s": "job/s"}


def number(value: float) -> str:
    """`value` to three significant digits, e.g. 7.13, 71.3, 713, 7,130: halves rounded up, no
    exponent, no trailing zeros, so whole numbers have no decimals."""
    if abs(value) < 10**-MAX_DECIMALS:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = min(MAX_DECIMALS, max(0, 2 - magnitude))
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: float, unit: str) -> str:
    """A number with its unit: milliseconds from a second up as seconds ("7.13 s")."""
    if unit == "ms" and abs(value) >= 999.5:
        return quantity(value / 1000, "s")
    text = number(value)
    return f"{text} {SINGULAR.get(unit, unit) if text == '1' else unit}"


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) at or
    above `value`; 1 for nothing at all."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in STEPS if step * power >= value * (1 - 1e-9))


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]
    css: str  # class for stroke colour and dash pattern


@dataclass(frozen=True)
class Tick:
    label: str
    x: float  # in the SVG's own units
    left: float  # the same place as a percentage of the width, for the HTML label


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    series: list[Series]
    times: list[float]  # one per value of every series: when the sample was taken
    now: float
    top: float

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return HEIGHT

    @property
    def minutes(self) -> int:
        return WINDOW // 60

    @property
    def scale(self) -> str:
        """The value axis's label: what the top of the chart stands for."""
        return quantity(self.top, self.unit)

    @property
    def ticks(self) -> list[Tick]:
        """A label a minute along the bottom: "-5 min" on the left to "now" on the right."""
        found = []
        for ago in range(WINDOW, -1, -TICK_EVERY):
            x = self.x(self.now - ago)
            label = f"-{ago // 60} min" if ago else "now"
            found.append(Tick(label, x, x / WIDTH * 100))
        return found

    def x(self, t: float) -> float:
        since = min(max(t - (self.now - WINDOW), 0.0), float(WINDOW))
        return PAD + since / WINDOW * (WIDTH - 2 * PAD)

    def y(self, value: float) -> float:
        return HEIGHT - PAD - value / self.top * (HEIGHT - 2 * PAD)

    def points(self, series: Series) -> str:
        """The series' samples within the window, each at its own time; gaps left out."""
        start = self.now - WINDOW
        return " ".join(
            f"{self.x(t):.1f},{self.y(v):.1f}"
            for t, v in zip(self.times, series.values, strict=False)
            if v is not None and t >= start
        )

    def latest(self, series: Series) -> str:
        values = [v for v in series.values if v is not None]
        return quantity(values[-1], self.unit) if values else "none yet"


def chart(title: str, unit: str, series: list[Series], times: list[float], now: float) -> Chart:
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    return Chart(title, unit, series, times, now, top=nice_ceiling(peak))
