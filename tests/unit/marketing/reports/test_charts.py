"""The SVG charts of reports: they parse as XML, every series is a titled group carrying its
values, bars stand where their values say, and every text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kith.marketing.reports.charts import Series, bar_chart, line_chart

NS = "{http://www.w3.org/2000/svg}"
WEEKS = ["2026-06-01", "2026-06-08", "2026-06-15"]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def series_of(root: ET.Element) -> dict[str, list[ET.Element]]:
    return {
        group.attrib["data-series"]: [shape for shape in group if "data-value" in shape.attrib]
        for group in root.iter(f"{NS}g")
        if "data-series" in group.attrib
    }


def test_a_stacked_bar_chart_stacks_each_series_on_the_one_before() -> None:
    root = parse(
        bar_chart(
            "Activity",
            WEEKS,
            [Series("login", [3, 0, 5]), Series("thread_started", [1, 2, 5])],
            x_label="week",
            y_label="events",
        )
    )

    shapes = series_of(root)
    assert list(shapes) == ["login", "thread_started"]
    for name, values in (("login", [3, 0, 5]), ("thread_started", [1, 2, 5])):
        assert [s.attrib["data-category"] for s in shapes[name]] == WEEKS
        assert [float(s.attrib["data-value"]) for s in shapes[name]] == values
        assert [s.findtext(f"{NS}title") for s in shapes[name]] == [
            f"{name}, {week}: {value}" for week, value in zip(WEEKS, values, strict=True)
        ]
    login, threads = shapes["login"][2], shapes["thread_started"][2]
    # equal values, equal heights, the second bar starting where the first ends
    assert float(login.attrib["height"]) == pytest.approx(float(threads.attrib["height"]))
    assert float(threads.attrib["y"]) + float(threads.attrib["height"]) == pytest.approx(
        float(login.attrib["y"])
    )
    assert float(shapes["login"][1].attrib["height"]) == 0
    titles = [
        group.findtext(f"{NS}title")
        for group in root.iter(f"{NS}g")
        if "data-series" in group.attrib
    ]
    assert titles == ["login", "thread_started"]
    texts = {text.text for text in root.iter(f"{NS}text")}
    assert {"Activity", "week", "events", *WEEKS} <= texts
    assert "10" in texts  # the axis reaches the tallest stack (5 + 5)


def test_grouped_bars_stand_side_by_side_and_scale_with_their_values() -> None:
    root = parse(
        bar_chart(
            "Members",
            ["w1", "w2"],
            [Series("added", [4, 2]), Series("removed", [2, 1])],
            x_label="week",
            y_label="members",
            stacked=False,
        )
    )
    shapes = series_of(root)
    added, removed = shapes["added"][0], shapes["removed"][0]
    assert float(added.attrib["x"]) < float(removed.attrib["x"])
    assert float(added.attrib["height"]) == pytest.approx(2 * float(removed.attrib["height"]))


def test_a_line_chart_draws_a_path_through_a_point_per_value() -> None:
    root = parse(
        line_chart(
            "New members", WEEKS, [Series("new members", [0, 2, 1])], x_label="w", y_label="n"
        )
    )
    group = next(g for g in root.iter(f"{NS}g") if g.get("data-series") == "new members")
    path = group.find(f"{NS}path")
    assert path is not None and path.attrib["d"].count("L") == len(WEEKS) - 1
    points = group.findall(f"{NS}circle")
    assert [float(p.attrib["data-value"]) for p in points] == [0, 2, 1]
    heights = [float(p.attrib["cy"]) for p in points]
    assert heights[1] < heights[2] < heights[0]  # higher values stand higher (smaller y)


def test_every_text_is_escaped() -> None:
    evil = '<script>alert("x")</script> & co'
    svg = bar_chart(evil, [evil], [Series(evil, [1])], x_label=evil, y_label=evil)

    assert "<script>" not in svg
    root = parse(svg)
    assert root.findtext(f"{NS}title") == evil
    assert list(series_of(root)) == [evil]
    assert series_of(root)[evil][0].attrib["data-category"] == evil


def test_empty_and_all_zero_charts_still_draw() -> None:
    parse(bar_chart("Nothing", [], [], x_label="x", y_label="y"))
    root = parse(line_chart("Zeros", ["a", "b"], [Series("s", [0, 0])], x_label="x", y_label="y"))
    assert [float(p.attrib["data-value"]) for p in series_of(root)["s"]] == [0, 0]


def test_a_series_must_have_a_value_per_category() -> None:
    with pytest.raises(ValueError, match="series 'login' has 2 values for 3 categories"):
        bar_chart("Activity", WEEKS, [Series("login", [1, 2])], x_label="x", y_label="y")
