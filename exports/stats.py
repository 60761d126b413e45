"""The pathway's numbers (`care.stats.PathwayStats`) as one chart (PNG) and as a CSV file.

Both show exactly the same figures, suppressed the same way: a figure drawn from fewer
than five cases is "< 5", never a number. Neither carries a case's label — only phase,
clock and lane names from the pathway file.

The chart has four panels — days per phase (and admission to discharge), days on the
statutory clocks, the share of items done late per lane, hours to acknowledge per
receiving lane — each a horizontal bar per line (the median, with the quartiles as a
whisker, or the share), and a footer with the re-openings within 30 days.

A second picture says why children wait (`draw_waits`): the days waited per reason and
lane (all the days together, with the days per wait beside them), and the days after the
child was ready to go home with what they cost at the rate the pathway cites.

The CSV is for spreadsheets: UTF-8 with a byte-order mark (so Excel reads å, ä, ö, ø,
æ), every field quoted, numbers as plain decimals, and any text that a spreadsheet would
take for a formula (starting with =, +, -, @, a tab or a carriage return) prefixed with '.
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence

from homeward.care.stats import SUPPRESSED, CostRow, PathwayStats, Share, Spread, WaitRow
from homeward.exports.picture import Picture, new_figure, to_picture
from homeward.exports.wording import Words, words

FONT = "DejaVu Sans"
DPI = 160
BAR = "#0072B2"
LATE = "#D55E00"
WAIT = "#CC79A7"  # Okabe–Ito reddish purple: the days waited, apart from the other panels' bars
WHISKER = "#222222"
CSV_COLUMNS = (
    "figure",
    "id",
    "name",
    "unit",
    "cases",
    "median",
    "q1",
    "q3",
    "share",
    "part",
    "whole",
    "total",
    "lane",
    "code",
    "note",
)


def _period(stats: PathwayStats, w: Words) -> str:
    cases = SUPPRESSED if stats.suppressed else str(stats.cases)
    if stats.since is None and stats.until is None:
        return w("stats.all_time", cases=cases)
    since = w.date(stats.since) if stats.since else "…"
    until = w.date(stats.until) if stats.until else "…"
    return w("stats.period", cases=cases, since=since, until=until)


def _spread_panel(axes, rows: list[tuple[str, Spread]], title: str, unit: str) -> None:
    names = ["\n".join(textwrap.wrap(name, 24)[:2]) for name, _ in rows]
    values = [s.median if s.median is not None and not s.suppressed else 0.0 for _, s in rows]
    top = max([s.q3 or 0.0 for _, s in rows if not s.suppressed] + [1.0])
    ys = list(range(len(rows)))
    axes.barh(ys, values, color=BAR, height=0.6, zorder=2)
    for y, (_, s) in enumerate(rows):
        if s.suppressed or s.median is None or s.q1 is None or s.q3 is None:  # the three are set together
            axes.text(top * 0.02, y, SUPPRESSED, va="center", ha="left", fontsize=12, fontfamily=FONT, color="#555555")
            continue
        axes.plot([s.q1, s.q3], [y, y], color=WHISKER, linewidth=1.6, zorder=3)
        axes.text(
            s.q3 + top * 0.02,
            y,
            f"{s.median:g}",
            va="center",
            ha="left",
            fontsize=11.5,
            fontfamily=FONT,
            fontweight="bold",
        )
    _finish(axes, ys, names, title, unit, top * 1.25)


def _share_panel(axes, rows: list[tuple[str, Share]], title: str, unit: str) -> None:
    names = ["\n".join(textwrap.wrap(name, 24)[:2]) for name, _ in rows]
    ys = list(range(len(rows)))
    values = [100 * (s.share or 0.0) for _, s in rows]
    axes.barh(ys, values, color=LATE, height=0.6, zorder=2)
    for y, (_, s), value in zip(ys, rows, values, strict=True):
        text = SUPPRESSED if s.suppressed else f"{value:.0f} %"
        axes.text(
            value + 2,
            y,
            text,
            va="center",
            ha="left",
            fontsize=11.5,
            fontfamily=FONT,
            fontweight="normal" if s.suppressed else "bold",
            color="#555555" if s.suppressed else "#111111",
        )
    _finish(axes, ys, names, title, unit, 118)
    axes.set_xticks([0, 25, 50, 75, 100])


def _wait_name(row: WaitRow, w: Words) -> str:
    """The reason in at most two lines, and the lane under it."""
    reason = _lines(row.reason_name or w("stats.waits_none"), 26, 2)
    return "\n".join([*reason, *_lines("· " + row.lane_name, 26, 1)])


def _lines(text: str, width: int, most: int) -> list[str]:
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def _wait_panel(axes, stats: PathwayStats, w: Words) -> None:
    """Days waited per reason and lane: a bar of all the days, with the days per wait (median) beside it."""
    rows = list(stats.waits)
    names = [_wait_name(row, w) for row in rows]
    values = [row.total.value for row in rows]
    top = max([*values, 1.0])
    ys = list(range(len(rows)))
    axes.barh(ys, values, color=WAIT, height=0.6, zorder=2)
    for y, row in zip(ys, rows, strict=True):
        median = w.number(row.spread.median or 0.0, 1) if row.spread.median is not None else SUPPRESSED
        axes.text(
            row.total.value + top * 0.02,
            y,
            w("stats.waits_bar", total=w.number(row.total.value, 1), median=median),
            va="center",
            ha="left",
            fontsize=11.5,
            fontfamily=FONT,
            fontweight="bold",
        )
    _finish(axes, ys, names, w("stats.waits"), w("stats.days"), top * 2.0)
    for label in axes.get_yticklabels():
        label.set_fontsize(10.5)
    if not rows:
        axes.texts[-1].set_text(w("stats.waits_hidden") if stats.waits_hidden else w("stats.waits_empty"))
        axes.texts[-1].set_fontsize(11.5)


def cost_lines(stats: PathwayStats, w: Words) -> list[str]:
    """Per clock: the days past its limit over the cases whose clock stopped, and what they cost (or why not)."""
    lines: list[str] = []
    for row in stats.costs:
        lines.append(_cost_line(row, w))
    return lines


def _cost_line(row: CostRow, w: Words) -> str:
    if row.suppressed:
        return w("stats.cost_suppressed", clock=row.name)
    days = w.number(row.paid_days.value)
    if row.cost is None or row.currency is None:
        return w("stats.cost_none", clock=row.name, days=days, unit=row.unit or w("stats.days"))
    years = ", ".join(str(year) for year in row.years)
    rates = w("stats.cost_estimate", year=years) if row.estimated else w("stats.cost_rates", years=years)
    return w(
        "stats.cost_line",
        clock=row.name,
        days=days,
        unit=row.unit or w("stats.days"),
        amount=w.number(row.cost.value),
        currency=row.currency,
        rates=rates,
    )


def _finish(axes, ys: list[int], names: list[str], title: str, unit: str, right: float) -> None:
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold", fontfamily=FONT)
    axes.set_yticks(ys)
    axes.set_yticklabels(names, fontsize=11, fontfamily=FONT)
    axes.set_ylim(len(ys) - 0.5 if ys else 0.5, -0.5)
    axes.set_xlim(0, right)
    axes.set_xlabel(unit, fontsize=11, fontfamily=FONT)
    axes.tick_params(axis="x", labelsize=10.5)
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#E0E0E0", zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if not ys:
        axes.set_yticks([])
        axes.text(0.02, 0.5, "—", transform=axes.transAxes, fontsize=14, fontfamily=FONT)


def draw_stats(stats: PathwayStats, *, dpi: int = DPI) -> Picture:
    """The chart of the figures: four panels one under the other (a phone's screen is tall), and a footer."""
    w = words(stats.language, stats.timezone)
    phases = [(r.name, r.spread) for r in stats.phase_days if r.spread] + [(w("stats.stay"), stats.stay)]
    clocks = [(r.name, r.spread) for r in stats.clocks if r.spread]
    late = [(r.name, r.share) for r in stats.late if r.share]
    acks = [(r.name, r.spread) for r in stats.ack_hours if r.spread]
    panels = [max(len(rows), 1) for rows in (phases, clocks, late, acks)]
    width, head, foot, per_row, per_panel = 8.5, 1.55, 1.45, 0.5, 1.15
    height = head + foot + per_row * sum(panels) + per_panel * len(panels)
    figure = new_figure(width, height)
    grid = figure.add_gridspec(
        len(panels),
        1,
        height_ratios=[n * per_row + per_panel * 0.35 for n in panels],
        left=2.55 / width,
        right=1 - 0.35 / width,
        top=1 - head / height,
        bottom=foot / height,
        hspace=0.75,
    )
    _spread_panel(figure.add_subplot(grid[0]), phases, w("stats.phase_days"), w("stats.days"))
    _spread_panel(figure.add_subplot(grid[1]), clocks, w("stats.clock_days"), w("stats.days"))
    _share_panel(figure.add_subplot(grid[2]), late, w("stats.late_share"), "%")
    _spread_panel(figure.add_subplot(grid[3]), acks, w("stats.ack_hours"), w("stats.hours"))
    title = "\n".join(textwrap.wrap(w("stats.title", pathway=stats.pathway_title), 58)[:2])
    figure.text(
        0.3 / width,
        1 - 0.2 / height,
        title,
        fontsize=15,
        fontweight="bold",
        fontfamily=FONT,
        va="top",
        linespacing=1.15,
    )
    figure.text(
        0.3 / width, 1 - 1.0 / height, _period(stats, w), fontsize=12.5, color="#444444", fontfamily=FONT, va="top"
    )
    figure.text(
        0.3 / width, 0.65 / height, f"{w('stats.reopened')}: {_reopened(stats, w)}", fontsize=12.5, fontfamily=FONT
    )
    figure.text(
        0.3 / width,
        0.15 / height,
        "\n".join(textwrap.wrap(w("stats.legend"), 90)),
        fontsize=10.5,
        fontfamily=FONT,
        color="#444444",
    )
    return to_picture(figure, dpi)


def draw_waits(stats: PathwayStats, *, dpi: int = DPI) -> Picture:
    """Why children wait: days waited per reason and lane, and the days after ready to go home with their cost.

    A picture of its own beside the main chart, narrow enough to read on a phone."""
    w = words(stats.language, stats.timezone)
    notes = cost_lines(stats, w) + ([w("stats.waits_hidden")] if stats.waits_hidden and stats.waits else [])
    lines = ["\n".join(textwrap.wrap(line, 62)) for line in notes]
    note_rows = sum(line.count("\n") + 1 for line in lines)
    width, head, panel_title, per_row, axis = 7.5, 1.45, 0.45, 0.62, 0.75
    notes_height = 0.3 + 0.27 * note_rows
    plot = per_row * max(len(stats.waits), 1)
    height = head + panel_title + plot + axis + notes_height
    figure = new_figure(width, height)
    bottom = (notes_height + axis) / height
    axes = figure.add_axes((2.45 / width, bottom, 1 - (2.45 + 0.3) / width, plot / height))
    _wait_panel(axes, stats, w)
    title = "\n".join(textwrap.wrap(w("stats.waits_title", pathway=stats.pathway_title), 46)[:2])
    figure.text(0.3 / width, 1 - 0.2 / height, title, fontsize=15, fontweight="bold", fontfamily=FONT, va="top")
    figure.text(
        0.3 / width, 1 - 1.0 / height, _period(stats, w), fontsize=12.5, color="#444444", fontfamily=FONT, va="top"
    )
    if lines:
        figure.text(
            0.3 / width,
            (0.15 + 0.27 * note_rows) / height,
            "\n".join(lines),
            fontsize=12,
            fontfamily=FONT,
            va="top",
            linespacing=1.3,
        )
    return to_picture(figure, dpi)


def _reopened(stats: PathwayStats, w: Words) -> str:
    if stats.reopened is None:
        return w("stats.not_known")
    if stats.reopened.suppressed:
        return SUPPRESSED
    return f"{100 * (stats.reopened.share or 0.0):.0f} % ({stats.reopened.part}/{stats.reopened.whole})"


def _text(value: object) -> object:
    """A text cell a spreadsheet cannot run as a formula; numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _spread_cells(s: Spread) -> list[object]:
    if s.suppressed:
        return [SUPPRESSED, SUPPRESSED, SUPPRESSED, SUPPRESSED, "", "", "", ""]
    return [s.cases, s.median, s.q1, s.q3, "", "", "", ""]


def _share_cells(s: Share) -> list[object]:
    if s.suppressed:
        return [SUPPRESSED, "", "", "", SUPPRESSED, SUPPRESSED, SUPPRESSED, ""]
    return [s.cases, "", "", "", s.share, s.part, s.whole, ""]


def stats_csv(stats: PathwayStats) -> bytes:
    """The same figures as rows: one per phase, clock and lane, with the case count each is drawn from."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def out(
        figure: str,
        row_id: str,
        name: str,
        unit: str,
        cells: Sequence[object],
        lane: str = "",
        code: str = "",
        note: str = "",
    ) -> None:
        writer.writerow([_text(figure), _text(row_id), _text(name), unit, *cells, _text(lane), _text(code), note])

    out(
        "cases",
        stats.pathway_id,
        stats.pathway_title,
        "cases",
        [SUPPRESSED if stats.suppressed else stats.cases, "", "", "", "", "", "", ""],
    )
    for row in stats.phase_days:
        if row.spread:
            out("phase_days", row.id, row.name, "days", _spread_cells(row.spread))
    out("admission_to_discharge", "admission-discharge", "", "days", _spread_cells(stats.stay))
    for row in stats.clocks:
        if row.spread and row.share:
            out("clock_days", row.id, row.name, "days", _spread_cells(row.spread))
            out("clock_reached_limit", row.id, row.name, "share", _share_cells(row.share))
    for row in stats.late:
        if row.share:
            out("late_share", row.id, row.name, "share", _share_cells(row.share))
    for row in stats.ack_hours:
        if row.spread:
            out("ack_hours", row.id, row.name, "hours", _spread_cells(row.spread))
    if stats.reopened is None:
        out("reopened_30_days", "", "", "share", ["", "", "", "", "", "", "", ""])
    else:
        out("reopened_30_days", "", "", "share", _share_cells(stats.reopened))
    for wait in stats.waits:  # only rows of five cases or more: the others are not named
        cells = _spread_cells(wait.spread)
        cells[-1] = SUPPRESSED if wait.total.suppressed else round(wait.total.value, 2)
        out("wait_days", wait.reason or "-", wait.reason_name, "days", cells, wait.lane, wait.code or "")
    if stats.waits_hidden:
        out("wait_days", "*", "", "days", [SUPPRESSED, "", "", "", "", "", "", SUPPRESSED])
    for cost in stats.costs:
        paid = [SUPPRESSED if cost.suppressed else cost.paid_days.cases, "", "", "", "", "", ""]
        out(
            "paid_days", cost.id, cost.name, cost.unit or "days", [*paid, _total(cost.paid_days.value, cost.suppressed)]
        )
        if cost.cost is not None and cost.currency is not None:
            years = " ".join(str(year) for year in cost.years)
            note = f"rates of {years}" + ("; estimate: a later year at an earlier rate" if cost.estimated else "")
            out("cost", cost.id, cost.name, cost.currency, [*paid, _total(cost.cost.value, cost.suppressed)], note=note)
    return buffer.getvalue().encode("utf-8-sig")


def _total(value: float, hidden: bool) -> object:
    return SUPPRESSED if hidden else round(value, 2)
