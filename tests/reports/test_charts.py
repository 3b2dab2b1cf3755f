"""The server-drawn SVG charts: well-formed, escaped, and drawn to scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kvitt.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_bars_are_drawn_to_scale_with_their_values_as_titles() -> None:
    svg = parse(
        charts.bars(
            ["jan", "feb"],
            [("Fakturerat", [100, 50]), ("Inbetalt", [25, 0])],
            title="Fakturerat och inbetalt",
            desc="per månad",
            label=lambda v: f"{v} kr",
        )
    )
    assert svg.find(f"{SVG}title").text == "Fakturerat och inbetalt"  # type: ignore[union-attr]
    bars = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    heights = [int(r.get("height", "0")) for r in bars]
    assert len(bars) == 4 and heights[0] == 2 * heights[2] == 4 * heights[1] and heights[3] == 0
    assert [r.find(f"{SVG}title").text for r in bars][:2] == ["jan Fakturerat: 100 kr", "jan Inbetalt: 25 kr"]  # type: ignore[union-attr]


def test_text_is_escaped() -> None:
    markup = str(charts.hbars([("<script>alert(1)</script>", 5)], title="a & b", desc="<b>", label=str))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert parse(markup).find(f"{SVG}title").text == "a & b"  # type: ignore[union-attr]


def test_a_missing_value_breaks_the_line() -> None:
    svg = parse(
        charts.lines(["a", "b", "c", "d", "e"], [("DSO", [10, 20, None, 30, 40])], title="t", desc="d", label=str)
    )
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2
    assert len(list(svg.iter(f"{SVG}circle"))) == 4


def test_an_empty_chart_is_still_a_chart() -> None:
    svg = parse(charts.bars([], [], title="t", desc="d", label=str))
    assert svg.tag == f"{SVG}svg"
    assert parse(charts.lines(["a"], [("x", [None])], title="t", desc="d", label=str)).tag == f"{SVG}svg"
