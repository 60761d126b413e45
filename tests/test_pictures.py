"""The drawn pictures (exports/timeline.py, exports/stats.py) and the case PDF's timeline.

What a picture shows is decided by the layouts (tests/test_timeline_layout.py,
tests/test_stats.py); these check what is drawn from them: real PNGs of the size they
announce with a thumbnail Element can show, every language's letters in the font, the
CSV a spreadsheet can open safely, and the timeline as an image inside the case's PDF.
"""

from __future__ import annotations

import io
import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader

from homeward.care.careplan import CarePlan
from homeward.care.case import Ack, CaseView, ExtraTask, ItemRecord, Membership
from homeward.care.clocks import read_clocks
from homeward.care.pathway import Item, Pathway
from homeward.care.stats import MIN_CASES, PathwayStats, Row, Share, Spread
from homeward.care.timeline import timeline_layout
from homeward.exports.build import careplan_document
from homeward.exports.picture import THUMBNAIL_BOX
from homeward.exports.render import render_html, render_pdf
from homeward.exports.stats import draw_stats, stats_csv
from homeward.exports.timeline import draw_timeline, text_px_on

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 12, 4, 11, tzinfo=STOCKHOLM)


def busy_case(pathway: Pathway, extra: int = 12) -> CaseView:
    """A case in its second phase with dates, a sent notice, and `extra` added tasks, a third of them done."""
    lanes = [lane.id for lane in pathway.lanes if lane.role in ("care", "family")]
    view = CaseView(
        pathway=pathway,
        label="Sjöstjärna-2",
        phase_id=pathway.phases[1].id,
        dates={"admission": NOW - timedelta(days=6)},
        members={"@c:x": Membership("@c:x", None, True)},
        records={},
    )
    if "discharge" in {d.id for d in pathway.dates}:
        view.dates["discharge"] = (NOW + timedelta(days=10)).date()
    for n in range(extra):
        item = Item(
            id=f"a{n}",
            kind="task",
            title=f"Åtgärd {n}: ø æ å ä ö",
            text="x",
            mandatory=False,
            lane=lanes[n % len(lanes)],
        )
        view.extra[item.id] = ExtraTask(
            item, pathway.phases[n % len(pathway.phases)].id, NOW + timedelta(days=n - 4, hours=n)
        )
        if n % 3 == 0:
            view.records[item.id] = ItemRecord(
                acks=[Ack(item.lane or "", "@c:x", NOW + timedelta(days=n - 4, hours=n + (n % 2) * 30))]
            )
    return view


def history(pathway: Pathway) -> list[tuple[str, datetime]]:
    return [(pathway.phases[0].id, NOW - timedelta(days=7)), (pathway.phases[1].id, NOW - timedelta(days=3))]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize("pathway_id", ["orebro", "sthf"])
def test_the_timeline_is_a_png_of_the_size_it_announces_with_a_thumbnail(
    pathways: dict[str, Pathway], pathway_id: str
) -> None:
    pathway = pathways[pathway_id]
    view = busy_case(pathway)
    picture = draw_timeline(timeline_layout(view, NOW, history(pathway), read_clocks(view, NOW)))
    image, small = decode(picture.png), decode(picture.thumbnail)
    assert image.size == (picture.width, picture.height) and picture.info() == {
        "w": picture.width,
        "h": picture.height,
        "mimetype": "image/png",
        "size": len(picture.png),
    }
    assert small.size == (picture.thumbnail_width, picture.thumbnail_height)
    assert small.width <= THUMBNAIL_BOX[0] and small.height <= THUMBNAIL_BOX[1]
    assert abs(small.width / small.height - image.width / image.height) < 0.02  # the same picture, smaller
    assert image.width >= 1400  # wide enough to stay sharp when a phone zooms in


def test_the_timeline_reads_on_a_phone_held_upright(pathways: dict[str, Pathway]) -> None:
    """Opened in Element's viewer on a 390 px phone, its smallest text is about 12 px (it was 7 px)."""
    pathway = pathways["orebro"]
    view = busy_case(pathway)
    picture = draw_timeline(timeline_layout(view, NOW, history(pathway), read_clocks(view, NOW)))
    assert picture.height > picture.width  # upright, as a phone is held
    assert text_px_on(390) >= 11.5
    assert text_px_on(1280) >= 30  # and on a laptop's whole screen


@pytest.mark.parametrize("pathway_id", ["orebro", "sthf"])
def test_the_font_has_every_letter_of_the_pathways_language(pathways: dict[str, Pathway], pathway_id: str) -> None:
    pathway = pathways[pathway_id]
    view = busy_case(pathway)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw_timeline(timeline_layout(view, NOW, history(pathway), read_clocks(view, NOW)))
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []


def test_an_empty_timeline_is_not_drawn(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = CaseView(pathway=pathway, label="X", phase_id="identifiering", dates={}, members={}, records={})
    with pytest.raises(ValueError, match="say so instead"):
        draw_timeline(timeline_layout(view, NOW, history(pathway)))


def test_a_case_with_127_items_draws(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = busy_case(pathway, extra=100)
    assert len(view.items()) == 127
    picture = draw_timeline(timeline_layout(view, NOW, history(pathway)))
    assert decode(picture.png).size == (picture.width, picture.height)


# --- the case PDF ------------------------------------------------------------------------------------
def test_the_case_pdf_has_the_timeline_as_an_image_and_the_plan_pdf_none(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = busy_case(pathway)
    layout = timeline_layout(view, NOW, history(pathway), read_clocks(view, NOW))
    with_timeline = careplan_document(view, CarePlan(), [], {}, NOW, "@c:x", timeline=layout)
    pdf = PdfReader(io.BytesIO(render_pdf(with_timeline)))
    images = list({image.data: image for page in pdf.pages for image in page.images}.values())  # pages share resources
    assert len(images) == 1
    drawn = draw_timeline(layout)
    picture = images[0].image
    assert picture is not None and picture.size == (drawn.width, drawn.height)  # the very picture, at full resolution
    assert "Tidslinje" in "\n".join(page.extract_text() for page in pdf.pages)
    without = PdfReader(io.BytesIO(render_pdf(careplan_document(view, CarePlan(), [], {}, NOW, "@c:x"))))
    assert [image for page in without.pages for image in page.images] == []


def test_the_case_html_embeds_the_timeline_as_a_data_uri_and_fetches_nothing(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = busy_case(pathway)
    html = render_html(
        careplan_document(view, CarePlan(), [], {}, NOW, "@c:x", timeline=timeline_layout(view, NOW, history(pathway)))
    )
    assert '<img class="timeline" src="data:image/png;base64,' in html and "file:" not in html


def test_a_case_with_nothing_planned_says_so_in_the_pdf(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = CaseView(pathway=pathway, label="X", phase_id="identifiering", dates={}, members={}, records={})
    html = render_html(
        careplan_document(view, CarePlan(), [], {}, NOW, "@c:x", timeline=timeline_layout(view, NOW, history(pathway)))
    )
    assert "Inget är planerat ännu" in html and "data:image/png" not in html


# --- the statistics --------------------------------------------------------------------------------------
def figures(pathway: Pathway, cases: int = 12) -> PathwayStats:
    spread = Spread(cases, cases * 2, 4.0, 2.5, 6.0)
    few = Spread(MIN_CASES - 1, 9, 1.0, 1.0, 1.0)
    return PathwayStats(
        pathway_id=pathway.id,
        pathway_title=pathway.title,
        language=pathway.language,
        timezone=pathway.timezone,
        cases=cases,
        since=None,
        until=None,
        phase_days=tuple(
            Row(p.id, p.title, spread=spread if n % 2 == 0 else few) for n, p in enumerate(pathway.phases)
        ),
        stay=spread,
        clocks=tuple(Row(c.id, c.label, spread=spread, share=Share(cases, 3, cases)) for c in pathway.clocks),
        late=(
            Row("kommun", '=HYPERLINK("http://x")', share=Share(cases, 4, 20)),
            Row("oppenvard", "Öppenvård", share=Share(2, 1, 2)),
        ),
        ack_hours=(Row("kommun", "Kommun", spread=spread),),
        reopened=Share(3, 1, 3),
    )


@pytest.mark.parametrize("pathway_id", ["orebro", "sthf"])
def test_the_stats_chart_is_a_png_of_the_size_it_announces(pathways: dict[str, Pathway], pathway_id: str) -> None:
    picture = draw_stats(figures(pathways[pathway_id]))
    assert decode(picture.png).size == (picture.width, picture.height)
    assert decode(picture.thumbnail).size == (picture.thumbnail_width, picture.thumbnail_height)


def test_the_stats_csv_opens_in_a_spreadsheet_with_small_cells_suppressed(pathways: dict[str, Pathway]) -> None:
    text = stats_csv(figures(pathways["orebro"])).decode("utf-8")
    assert (
        text.startswith("\ufeff")
        and text.splitlines()[0]
        == '\ufeff"figure","id","name","unit","cases","median","q1","q3","share","part","whole",'
        '"total","lane","code","note"'
    )
    lines = text.splitlines()
    assert '"phase_days","planering","Planering","days","< 5","< 5","< 5","< 5","","","","","","",""' in lines
    assert (
        '"phase_days","identifiering","Identifiering, Bedömning","days","12","4.0","2.5","6.0","","","","","","",""'
        in lines
    )
    assert (
        '"late_share","kommun","\'=HYPERLINK(""http://x"")","share","12","","","","0.2","4","20","","","",""' in lines
    )  # not a formula
    assert '"late_share","oppenvard","Öppenvård","share","< 5","","","","< 5","< 5","< 5","","","",""' in lines
    assert '"reopened_30_days","","","share","< 5","","","","< 5","< 5","< 5","","","",""' in lines


def test_a_chart_of_fewer_than_five_cases_draws_every_figure_suppressed(pathways: dict[str, Pathway]) -> None:
    few = figures(pathways["orebro"], cases=3)
    picture = draw_stats(few)
    assert decode(picture.png).size == (picture.width, picture.height)
    assert '"cases","orebro",' in stats_csv(few).decode("utf-8") and ',"cases","< 5",' in stats_csv(few).decode("utf-8")


def _with_waits(pathway: Pathway, *, hidden: bool) -> PathwayStats:
    from dataclasses import replace

    from homeward.care.stats import CostRow, Total, WaitRow

    spread = Spread(12, 24, 2.0, 1.0, 3.5)
    rows = (
        WaitRow("", "", "", "kommun", "Kommun", spread, Total(12, 31.5)),
        WaitRow("personal", "Väntar på personal i kommunen", "staff", "kommun", "Kommun", spread, Total(7, 12.0)),
    )
    clock = pathway.clocks[0]
    costs = (CostRow(clock.id, clock.label, Total(6, 9), Total(6, 83700.0), "SEK", "vårddygn", (2022,), True, "x"),)
    return replace(figures(pathway), waits=rows, waits_hidden=hidden, costs=costs)


def test_the_waits_chart_reads_on_a_phone_and_its_csv_rows_name_reason_and_lane(pathways: dict[str, Pathway]) -> None:
    from homeward.exports.stats import cost_lines, draw_waits
    from homeward.exports.wording import words

    stats = _with_waits(pathways["orebro"], hidden=True)
    picture = draw_waits(stats)
    assert decode(picture.png).size == (picture.width, picture.height) and picture.width <= 1300
    assert cost_lines(stats, words("sv", "Europe/Stockholm")) == [
        "Kommunens betalningsansvar: 9 vårddygn efter gränsen, ≈ 83\u00a0700 SEK (uppskattning: belopp från 2022)"
    ]
    lines = stats_csv(stats).decode("utf-8").splitlines()
    assert (
        '"wait_days","personal","Väntar på personal i kommunen","days",'
        '"12","2.0","1.0","3.5","","","","12.0","kommun","staff",""' in lines
    )
    assert '"wait_days","*","","days","< 5","","","","","","","< 5","","",""' in lines  # some not named
    assert any(line.startswith('"cost","betalningsansvar"') and '"83700.0"' in line for line in lines)
    empty = draw_waits(replace_waits(stats))
    assert decode(empty.png).size == (empty.width, empty.height)


def replace_waits(stats: PathwayStats) -> PathwayStats:
    from dataclasses import replace

    return replace(stats, waits=(), waits_hidden=False, costs=())
