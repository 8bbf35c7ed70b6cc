"""A server-rendered SVG bar chart of who runs which value: live and serving deployments.

No chart library and no script: the geometry is computed here and `_chart.html` draws it.
One row per value of a secret (its name and versions on a line of its own, so the chart stays
readable at a phone's width), with two bars: the value's live deployments and those of them
still serving. The numbers are written next to the bars and the same data is in the table
beside the chart, so nothing is told by colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 360
BAR_AREA: Final = 300  # the rest of the width holds the count after the longest bar
ROW_HEIGHT: Final = 52
BAR_HEIGHT: Final = 12
TOP: Final = 28  # room for the legend


@dataclass(frozen=True, slots=True)
class ChartValue:
    """What the chart shows of one value."""

    label: str
    live: int
    serving: int
    current: bool
    safe_to_revoke: bool


@dataclass(frozen=True, slots=True)
class ChartRow:
    value: ChartValue
    top: int  # y of the row's label baseline
    live_width: int
    serving_width: int

    @property
    def live_y(self) -> int:
        return self.top + 6

    @property
    def serving_y(self) -> int:
        return self.top + 6 + BAR_HEIGHT + 4


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bar_height: int
    rows: tuple[ChartRow, ...]


def usage_chart(values: Sequence[ChartValue]) -> Chart:
    """Bars scaled to the largest live count (at least 1, so that zero draws no bar)."""
    largest = max([1, *(value.live for value in values)])

    def width(count: int) -> int:
        # A non-zero count never rounds down to an invisible bar.
        return max(2, round(BAR_AREA * count / largest)) if count else 0

    rows = tuple(
        ChartRow(
            value=value,
            top=TOP + index * ROW_HEIGHT + 12,
            live_width=width(value.live),
            serving_width=width(value.serving),
        )
        for index, value in enumerate(values)
    )
    return Chart(
        width=WIDTH, height=TOP + len(rows) * ROW_HEIGHT + 8, bar_height=BAR_HEIGHT, rows=rows
    )
