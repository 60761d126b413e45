"""Drawing the timeline of a case (`care.timeline.TimelineLayout`) as a PNG.

Everything that decides what is shown is in the layout; this only draws it: phase bands
with their titles above the plot, a row per lane (and one per statutory clock on top),
the marks in state colours and shapes, the named dates as dotted lines with their labels
in a strip under the rows, today's line, and a legend. The axis is the pathway's local
wall-clock time. Words (legend, month names) come from `templates/exports/words.toml` in
the pathway's language; the font is DejaVu Sans, shipped with matplotlib, which has
å, ä, ö, ø and æ.

Laid out for a phone held upright: a portrait picture, 6.2 inches wide, each lane's name
written above its row rather than beside it, so the plot has the whole width; type sized so
that, opened in Element's viewer on a 390 px phone, the smallest text is about 12 px
(`text_px_on`), and drawn at 230 dpi (about 1,430 px wide), so it stays sharp when zoomed
and prints well in the case PDF (which fits it to the page). A thumbnail goes with it.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

from matplotlib import dates as mdates
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from homeward.care.timeline import CLOCK_COLOURS, LABEL_CHAR, MAX_STACK, STATE_COLOURS, TimelineLayout
from homeward.exports.picture import Picture, new_figure, to_picture
from homeward.exports.wording import Words, words

WIDTH_IN = 6.2
DPI = 230
FONT = "DejaVu Sans"
#: Marker shape per state, so the states differ in a grey-scale print too.
SHAPES = {"done_on_time": "o", "done_late": "D", "open": "o", "overdue": "^"}
ROW_IN = 1.05  # height of one lane row: its name on top, its marks below
CLOCK_IN = 0.95
DATES_IN = 1.25  # the strip with the named dates' labels (three levels)
TOP_IN = 1.55  # title, subtitle and the phase titles
BOTTOM_IN = 2.1  # the time axis and the legend (two columns)
SIDE_IN = 0.25  # margin left and right: the plot has the whole width
SLOT = 0.12  # vertical step between marks stacked in a row
GAP = 0.22  # rows of room above the first row, so its name stays clear of the phase titles
#: Where a row's name sits, as a share of a row above its middle (the marks are below it).
NAME_AT = 0.36
#: The type, in points; the smallest is what `text_px_on` measures.
SIZES = {
    "title": 19,
    "subtitle": 14,
    "axis": 14,
    "lane": 14.5,
    "clock": 14,
    "phase": 14,
    "date": 13.5,
    "legend": 13.5,
    "days": 14,
    "today": 14,
    "more": 13.5,
}


def text_px_on(screen_px: int, *, width_in: float = WIDTH_IN) -> float:
    """How tall the smallest text of the picture is, in CSS px, when it is shown `screen_px` wide (a 390 px phone
    opening it in Element's viewer): type in points, times the picture's pixels per point, scaled to the screen."""
    picture_px = width_in * DPI
    return min(SIZES.values()) * DPI / 72 * screen_px / picture_px


def _wall(moment: datetime, layout: TimelineLayout) -> float:
    """A matplotlib date number for the local wall-clock time of `moment`."""
    return float(mdates.date2num(moment.astimezone(layout.zone).replace(tzinfo=None)))


def _formatter(layout: TimelineLayout, w: Words) -> FuncFormatter:
    months = w("timeline.months").split()

    def label(value: float, _position: object) -> str:
        moment = mdates.num2date(value)
        if layout.span == "hours":
            return moment.strftime("%H:%M")
        if layout.span == "months":
            return f"{months[moment.month - 1]} {moment.year}"
        return f"{moment.day} {months[moment.month - 1]}"

    return FuncFormatter(label)


def _locator(layout: TimelineLayout) -> mdates.DateLocator:
    width = layout.end - layout.start
    ticks = 4  # about this many labels fit the axis of an upright picture in 14 pt
    if layout.span == "hours":
        return mdates.HourLocator(interval=max(1, round(width / timedelta(hours=ticks))))
    if layout.span == "days":
        return mdates.DayLocator(interval=max(1, round(width / timedelta(days=ticks))))
    if layout.span == "weeks":
        return mdates.WeekdayLocator(byweekday=mdates.MO, interval=max(1, round(width / timedelta(weeks=ticks))))
    return mdates.MonthLocator(interval=max(1, round(width / timedelta(days=30 * ticks))))


def _title(text: str, width: float, per_char: float) -> str:
    """A phase title in at most two lines of what fits `width` (data units, `per_char` each), cut with an ellipsis."""
    room = int(width / per_char)
    if room < 4:
        return ""
    lines = [
        line if len(line) <= room else line[: room - 1] + "…"
        for line in textwrap.wrap(text, room, break_long_words=False) or [""]
    ]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: room - 1] + "…"]
    return "\n".join(lines)


def _lines(text: str, width: int, most: int) -> list[str]:
    """`text` wrapped to `width` characters in at most `most` lines, the last cut with an ellipsis."""
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def _offset(slot: int) -> float:
    """Marks of one lane and day alternate around the row's middle: 0, above, below, further above…"""
    step = (slot + 1) // 2
    return SLOT * (-step if slot % 2 else step)


REASON_COLOUR = "#5A3A7A"  # the reasons' words beside late marks: dark, apart from the state colours


def _draw_reasons(axes, layout: TimelineLayout) -> None:
    """Over (or under) each late mark whose lanes said why, the pathway's own word ("utstyr") in italics (issue 27;
    its own function, so the layout of the rest of the picture stays as it is). Words of one row that would run into
    each other alternate above and below their marks."""
    x0, x1 = _wall(layout.start, layout), _wall(layout.end, layout)
    per_char = (x1 - x0) / 110  # about this many characters of 10 pt fit across the plot
    last_end: dict[tuple[int, int], float] = {}
    for note in sorted(layout.reasons, key=lambda n: (n.row, n.at)):
        x = _wall(note.at, layout)
        half = per_char * (len(note.words) + 1) / 2
        side = 0 if last_end.get((note.row, 0), x0 - 1) < x - half else 1
        last_end[(note.row, side)] = x + half
        axes.annotate(
            note.words,
            (x, note.row + _offset(note.slot)),
            xytext=(0, 10 if side == 0 else -10),
            textcoords="offset points",
            ha="center",
            va="bottom" if side == 0 else "top",
            fontsize=10,
            fontstyle="italic",
            fontfamily=FONT,
            color=REASON_COLOUR,
            zorder=5,
        )


def _reason_handle(w: Words) -> Line2D:
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=r"$\mathit{abc}$",
        markersize=20,
        color=REASON_COLOUR,
        label=w("timeline.reason"),
    )


def draw_timeline(layout: TimelineLayout, *, width_in: float = WIDTH_IN, dpi: int = DPI) -> Picture:
    """The picture of a layout that is not empty (an empty one is said in words, not drawn)."""
    if layout.empty:
        raise ValueError("nothing to draw: the layout is empty (say so instead)")
    w = words(layout.language, layout.timezone)
    clocks, rows = len(layout.clocks), len(layout.rows)
    plot_in = clocks * CLOCK_IN + rows * ROW_IN + DATES_IN + GAP * ROW_IN
    height_in = TOP_IN + plot_in + BOTTOM_IN
    figure = new_figure(width_in, height_in)
    left_in = SIDE_IN
    axes = figure.add_axes(
        (
            left_in / width_in,
            BOTTOM_IN / height_in,
            1 - (left_in + SIDE_IN) / width_in,
            plot_in / height_in,
        )
    )
    x0, x1 = _wall(layout.start, layout), _wall(layout.end, layout)
    # y: clock rows on top (negative), lane rows 0..n-1, the dates strip below them.
    clock_y = [-(clocks - n) * (CLOCK_IN / ROW_IN) for n in range(clocks)]
    strip = DATES_IN / ROW_IN
    top = (clock_y[0] - 0.5 * CLOCK_IN / ROW_IN if clocks else -0.5) - GAP
    bottom = rows - 0.5 + strip
    axes.set_xlim(x0, x1)
    axes.set_ylim(bottom, top)
    axes.xaxis.set_major_locator(_locator(layout))
    axes.xaxis.set_major_formatter(_formatter(layout, w))
    axes.tick_params(axis="x", labelsize=SIZES["axis"])
    axes.set_yticks([])
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    # Each row's name above its marks, from the left edge: on a phone the plot needs the whole width.
    names = [
        *(
            (y - NAME_AT * CLOCK_IN / ROW_IN, c.label, SIZES["clock"])
            for y, c in zip(clock_y, layout.clocks, strict=True)
        ),
        *((n - NAME_AT, r.name, SIZES["lane"]) for n, r in enumerate(layout.rows)),
    ]
    for y, name, size in names:
        axes.text(
            x0 + (x1 - x0) * 0.005,
            y,
            " ".join(_lines(name, 44, 1)),
            ha="left",
            va="center",
            fontsize=size,
            fontfamily=FONT,
            fontweight="bold",
            color="#333333",
            zorder=7,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )

    # Phase bands, with their titles above the plot.
    per_char = (x1 - x0) / (width_in - left_in - SIDE_IN) / 7.4  # about 7.4 characters of 14 pt fit in an inch
    for band in layout.bands:
        b0, b1 = _wall(band.start, layout), _wall(band.end, layout)
        planned = band.state == "planned"
        axes.axvspan(
            b0,
            b1,
            facecolor=band.colour,
            zorder=0,
            linewidth=0,
            hatch="//" if planned else None,
            edgecolor="#E2E2E2" if planned else band.colour,
        )
        title = _title(band.title, min(b1, x1) - max(b0, x0), per_char)
        if title:
            axes.text(
                (max(b0, x0) + min(b1, x1)) / 2,
                top,
                title,
                ha="center",
                va="bottom",
                fontsize=SIZES["phase"],
                fontfamily=FONT,
                linespacing=1.1,
                fontweight="bold" if band.state == "current" else "normal",
                color="#222222" if band.state != "planned" else "#777777",
                clip_on=False,
            )
    for n in range(rows):
        axes.axhline(n + 0.5, color="#D0D0D0", linewidth=0.8, zorder=1)
    if clocks:
        axes.axhline(-0.5, color="#A0A0A0", linewidth=1.0, zorder=1)

    # Named dates: dotted lines through the rows, labels in the strip below them.
    for marker in layout.markers:
        x = _wall(marker.at, layout)
        axes.vlines(x, top, rows - 0.5, colors="#555555", linestyles=":", linewidth=1.4, zorder=2)
        y = rows - 0.5 + strip * (0.2 + 0.29 * marker.level)
        half = (x1 - x0) * LABEL_CHAR * (len(marker.label) + 2) / 2
        align, at = ("left", x0) if x - half < x0 else ("right", x1) if x + half > x1 else ("center", x)
        axes.text(
            at,
            y,
            marker.label,
            ha=align,
            va="center",
            fontsize=SIZES["date"],
            fontfamily=FONT,
            color="#333333",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#BBBBBB", "linewidth": 0.6},
        )

    # Statutory clocks: grey until the limit, red after it.
    for y, bar in zip(clock_y, layout.clocks, strict=True):
        s, e, lim = _wall(bar.start, layout), _wall(bar.end, layout), _wall(bar.limit_at, layout)
        before_end = min(e, lim) if bar.reached else e
        axes.add_patch(
            Rectangle((s, y - 0.14), max(before_end - s, 0), 0.28, color=CLOCK_COLOURS["before_limit"], zorder=3)
        )
        if bar.reached:
            axes.add_patch(
                Rectangle((lim, y - 0.14), max(e - lim, 0), 0.28, color=CLOCK_COLOURS["after_limit"], zorder=3)
            )
        if bar.state != "stopped" or bar.reached:
            axes.vlines(lim, y - 0.3, y + 0.3, colors="#222222", linewidth=1.6, zorder=4)
        if bar.days is not None:
            axes.text(
                e,
                y,
                "  " + w("timeline.clock_days", days=bar.days),
                ha="left",
                va="center",
                fontsize=SIZES["days"],
                fontfamily=FONT,
                fontweight="bold",
                zorder=5,
            )

    # Marks: late ones with a thin line from the due time to when they were done.
    for mark in layout.marks:
        if not mark.shown:
            continue
        x, y = _wall(mark.at, layout), mark.row + _offset(mark.slot)
        if mark.state == "done_late" and mark.done_at is not None:
            axes.plot([x, _wall(mark.done_at, layout)], [y, y], color=mark.colour, linewidth=1.4, zorder=3)
        hollow = mark.state == "open"
        axes.scatter(
            [x],
            [y],
            s=150,
            marker=SHAPES[mark.state],
            zorder=4,
            linewidths=2.0,
            facecolors="white" if hollow else mark.colour,
            edgecolors=mark.colour,
        )
    for crowd in layout.crowds:
        y = crowd.row + _offset(MAX_STACK - 1)
        axes.text(
            _wall(crowd.at, layout),
            y,
            "  " + w("timeline.more", n=crowd.hidden),
            ha="left",
            va="center",
            fontsize=SIZES["more"],
            fontfamily=FONT,
            fontweight="bold",
            color="#333333",
            zorder=5,
        )

    _draw_reasons(axes, layout)

    # Today, or the closing.
    line_at, line_word = (
        (layout.today, w("timeline.today")) if layout.today else (layout.closed_at, w("timeline.closed"))
    )
    if line_at is not None:
        x = _wall(line_at, layout)
        axes.axvline(x, color="#111111", linewidth=2.0, zorder=6)
        axes.text(
            x,
            rows - 0.5,
            " " + line_word,
            ha="left",
            va="bottom",
            fontsize=SIZES["today"],
            fontfamily=FONT,
            fontweight="bold",
            color="#111111",
            zorder=6,
        )

    # Title and legend.
    figure.text(
        SIDE_IN / width_in,
        1 - 0.25 / height_in,
        w("timeline.title", label=layout.label),
        ha="left",
        va="top",
        fontsize=SIZES["title"],
        fontweight="bold",
        fontfamily=FONT,
    )
    when = layout.closed_at or layout.today
    subtitle = w("timeline.closed_on" if layout.closed_at else "timeline.as_of", when=w.datetime(when)) if when else ""
    figure.text(
        SIDE_IN / width_in,
        1 - 0.72 / height_in,
        subtitle,
        ha="left",
        va="top",
        fontsize=SIZES["subtitle"],
        color="#444444",
        fontfamily=FONT,
    )
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=SHAPES[state],
            markersize=10,
            markeredgewidth=2,
            markerfacecolor="white" if state == "open" else colour,
            markeredgecolor=colour,
            label=f"{w('timeline.' + state)} ({layout.counts.get(state, 0)})",
        )
        for state, colour in STATE_COLOURS.items()
    ]
    if layout.clocks:
        handles.append(Line2D([], [], color=CLOCK_COLOURS["after_limit"], linewidth=8, label=w("timeline.clock_after")))
    if layout.reasons:
        handles.append(_reason_handle(w))
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=2,  # two columns fit an upright picture in type that reads on a phone
        frameon=False,
        bbox_to_anchor=(0.5, 0.02),
        handletextpad=0.4,
        columnspacing=1.2,
        prop={"family": FONT, "size": SIZES["legend"]},
    )
    return to_picture(figure, dpi)
