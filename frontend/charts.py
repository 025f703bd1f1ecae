"""Server-rendered SVG line charts: a few polylines, no chart library, readable without colour
(each series has its own dash pattern and a legend in words)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 600
HEIGHT = 160
PAD = 4


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]
    css: str  # class for stroke colour and dash pattern


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    series: list[Series]
    top: float

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return HEIGHT

    def points(self, series: Series) -> str:
        count = max(2, len(series.values))
        step = (WIDTH - 2 * PAD) / (count - 1)
        scale = (HEIGHT - 2 * PAD) / self.top
        return " ".join(
            f"{PAD + i * step:.1f},{HEIGHT - PAD - v * scale:.1f}"
            for i, v in enumerate(series.values)
            if v is not None
        )

    def latest(self, series: Series) -> str:
        values = [v for v in series.values if v is not None]
        return f"{values[-1]:.3g} {self.unit}" if values else "none yet"


def chart(title: str, unit: str, series: list[Series]) -> Chart:
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    return Chart(title, unit, series, top=max(peak * 1.15, 1e-9) if peak else 1.0)
