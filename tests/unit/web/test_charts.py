from __future__ import annotations

import pytest

from mailwright.web.charts import HEIGHT, Series, line_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (250, 500), (1001, 2000)],
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_points_scale_between_axis_and_top() -> None:
    chart = line_chart(["a", "b", "c"], [Series("sent", "#000", (0, 5, 10))])
    (line,) = chart.lines
    ys = [p.y for p in line.points]
    assert ys[0] == pytest.approx(chart.bottom)  # zero sits on the x axis
    assert ys[2] < ys[1] < ys[0]
    assert ys[2] == pytest.approx(12)  # the maximum touches the top margin
    assert line.total == 15
    assert [p.label for p in line.points] == ["a sent: 0", "b sent: 5", "c sent: 10"]
    assert [label for _, label in chart.y_ticks] == ["0", "2", "5", "7", "10"]


def test_x_ticks_are_thinned_to_the_requested_number() -> None:
    labels = [f"{h:02d}:00" for h in range(24)]
    chart = line_chart(labels, [Series("sent", "#000", tuple(range(24)))], x_ticks=6)
    assert [label for _, label in chart.x_ticks] == [
        "00:00",
        "04:00",
        "08:00",
        "12:00",
        "16:00",
        "20:00",
    ]


def test_small_maxima_do_not_repeat_tick_labels() -> None:
    chart = line_chart(["a", "b"], [Series("sent", "#000", (0, 1))])
    assert [label for _, label in chart.y_ticks] == ["0", "1"]


def test_empty_series_draw_flat_lines() -> None:
    chart = line_chart(["x"], [Series("sent", "#000", (0,))])
    (point,) = chart.lines[0].points
    assert point.y == pytest.approx(HEIGHT - 28)
    assert chart.lines[0].path == f"{point.x:.1f},{point.y:.1f}"


def test_a_series_that_begins_later_starts_at_its_bucket() -> None:
    labels = ["a", "b", "c", "d"]
    chart = line_chart(
        labels, [Series("all", "#000", (1, 1, 1, 1)), Series("new", "#111", (1, 1), start=2)]
    )
    full, late = chart.lines
    assert [p.x for p in late.points] == [p.x for p in full.points[2:]]
    assert [p.label for p in late.points] == ["c new: 1", "d new: 1"]
