"""A drawn picture as the bot posts it: the PNG, its size, and a smaller thumbnail.

matplotlib draws with its Agg backend into a `Figure` of its own — never `pyplot`, whose
global state is not safe in a server that draws in worker threads — and Pillow (which
matplotlib depends on) scales the thumbnail Element shows in the timeline.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

#: The thumbnail's largest size; Element shows images in the timeline at most about this big.
THUMBNAIL_BOX = (800, 600)


@dataclass(frozen=True)
class Picture:
    """A PNG with its pixel size, and a PNG thumbnail with its own."""

    png: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int

    def info(self) -> dict[str, Any]:
        """The `info` of an m.image: size in pixels, mimetype and bytes.

        The thumbnail's are added when it is uploaded.
        """
        return {"w": self.width, "h": self.height, "mimetype": "image/png", "size": len(self.png)}


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure of its own (not pyplot's), with the Agg canvas attached."""
    figure = Figure(figsize=(width_in, height_in), facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def to_picture(figure: Figure, dpi: int) -> Picture:
    """Render the figure as PNG and make its thumbnail."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    png = buffer.getvalue()
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        small = image.convert("RGB")
        small.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
        # A palette of 256 (octree, no dithering) keeps the state colours and makes the thumbnail
        # a fraction of the picture.
        small = small.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return Picture(png, width, height, out.getvalue(), small.width, small.height)
