"""The usage chart's geometry, and its SVG as the template draws it."""

from __future__ import annotations

from itertools import pairwise

from keyturn.dashboard.chart import BAR_AREA, ChartValue, usage_chart
from keyturn.dashboard.rendering import render


def value(label: str, live: int, serving: int, **flags: bool) -> ChartValue:
    return ChartValue(
        label=label,
        live=live,
        serving=serving,
        current=flags.get("current", False),
        safe_to_revoke=flags.get("safe", False),
    )


def test_bars_scale_to_the_largest_live_count() -> None:
    chart = usage_chart([value("A v2", 10, 4, current=True), value("A v1", 5, 0)])
    assert [row.live_width for row in chart.rows] == [BAR_AREA, BAR_AREA // 2]
    assert [row.serving_width for row in chart.rows] == [120, 0]


def test_a_small_count_still_draws_a_visible_bar_and_zero_draws_none() -> None:
    chart = usage_chart([value("A v2", 1000, 1), value("A v1", 0, 0, safe=True)])
    assert chart.rows[0].serving_width == 2
    assert chart.rows[1].live_width == 0


def test_rows_stack_without_overlapping_and_the_height_holds_them() -> None:
    chart = usage_chart([value(f"N{i}", i, i) for i in range(4)])
    tops = [row.top for row in chart.rows]
    assert tops == sorted(tops)
    assert all(b - a >= 3 * chart.bar_height for a, b in pairwise(tops))
    assert chart.rows[-1].serving_y + chart.bar_height <= chart.height


def test_no_values_make_an_empty_chart() -> None:
    chart = usage_chart([])
    assert chart.rows == ()
    assert chart.height > 0


def test_the_svg_names_each_value_and_marks_what_is_safe_to_revoke() -> None:
    svg = render(
        "_chart.html",
        chart=usage_chart([value("DB v3-", 2, 1, current=True), value("DB v1-2", 0, 0, safe=True)]),
    )
    assert 'role="img"' in svg
    assert '<title id="chart-title">' in svg
    assert "DB v3- (current)" in svg
    assert "DB v1-2 (safe to revoke)" in svg
    assert svg.count('class="safe-band"') == 1
    assert "2 live" in svg
    assert "1 serving" in svg
    assert "style=" not in svg  # the CSP allows no inline style
