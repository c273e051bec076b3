"""Charts as PNG bytes (matplotlib, headless): per-minute events and share of requests.

Used by the HTML report, the digest email and the postmortem; every chart is a picture of
numbers the report already holds, never new computation. Labels come from the logs (service
names, change lines), so they are drawn as plain text (`_plain`): a `$` would start
matplotlib's mathtext, and a bad formula there fails the whole render.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING

from logsense.escape import one_line

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Series", "per_minute_chart", "sparkline_png"]

# (label, [(minute start as UTC epoch seconds, value), ...])
Series = tuple[str, Sequence[tuple[int, float]]]
_PICTURES = re.compile("[\u2400-\u2426]")
_COLORS = ("#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


@functools.cache
def _matplotlib() -> tuple[ModuleType, ModuleType]:
    """pyplot and matplotlib.dates, headless; imported on the first chart (it takes ~0.3 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates
    import matplotlib.pyplot

    return matplotlib.pyplot, matplotlib.dates


def _plain(text: str) -> str:
    """`text` drawn as it is: on one line, `$` not mathtext, control characters as `?` (the
    chart font has no control pictures)."""
    return _PICTURES.sub("?", one_line(text)).replace("$", r"\$")


def _times(points: Sequence[tuple[int, float]]) -> list[float]:
    """Matplotlib date numbers of the minutes."""
    _, mdates = _matplotlib()
    return [float(mdates.date2num(datetime.fromtimestamp(minute, UTC))) for minute, _ in points]


def per_minute_chart(
    series: Sequence[Series],
    title: str,
    ylabel: str = "events / minute",
    marks: Sequence[tuple[int, str]] = (),
    width: float = 8.0,
    height: float = 2.8,
    legend_below: bool = False,
) -> bytes:
    """A PNG line chart of per-minute series, with optional labelled vertical marks (deploys).

    `legend_below` puts the legend under the plot, where it never hides a line.
    """
    plt, mdates = _matplotlib()
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    try:
        for (label, points), color in zip(series, _COLORS * 4, strict=False):
            axes.plot(
                _times(points), [v for _, v in points], label=_plain(label), color=color, lw=1.6
            )
        for at, text in marks:
            moment = float(mdates.date2num(datetime.fromtimestamp(at, UTC)))
            axes.axvline(moment, color="#555555", ls="--", lw=1)
            axes.annotate(
                _plain(text), (moment, 1.0), xycoords=("data", "axes fraction"),
                fontsize=8, ha="left", va="top", rotation=90, color="#555555",
            )  # fmt: skip
        axes.set_title(_plain(title), fontsize=10, loc="left")
        axes.set_ylabel(ylabel, fontsize=8)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
        if len(series) > 1 and legend_below:
            axes.legend(
                fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.14), frameon=False,
                ncol=min(len(series), 2),
            )  # fmt: skip
        elif len(series) > 1:
            axes.legend(fontsize=7, loc="upper left", frameon=False)
        figure.tight_layout()
        return _png(figure)
    finally:
        plt.close(figure)


def sparkline_png(
    points: Sequence[tuple[int, float]], width: float = 1.6, height: float = 0.35
) -> bytes:
    """A tiny PNG sparkline (no axes) for tables and emails."""
    plt, _ = _matplotlib()
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    try:
        axes.fill_between(_times(points), [v for _, v in points], color="#d62728", alpha=0.35, lw=0)
        axes.plot(_times(points), [v for _, v in points], color="#d62728", lw=1)
        axes.set_axis_off()
        axes.set_ylim(bottom=0)
        figure.subplots_adjust(0, 0, 1, 1)
        return _png(figure)
    finally:
        plt.close(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
