"""One figure style for every report figure: Okabe-Ito colours, Agg, deterministic files.

Matplotlib is imported lazily (inside :func:`pyplot`), always with the Agg
backend.  :func:`save` writes a PNG and an SVG whose bytes depend only on the
figure: the SVG hash salt is fixed and no date is written, so regenerating a
report from the same run directory gives identical files.

>>> PALETTE[0], len(PALETTE)
('#0072B2', 8)
>>> color_for(["unet", "identity", "pix2pix"], "pix2pix") == PALETTE[2]
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
GREY = "#7F7F7F"
SIGNIFICANCE = 0.05
"""Adjusted p-values below this are marked significant in figures and text."""

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "svg.hashsalt": "reconfair",
    "svg.fonttype": "path",
    "axes.prop_cycle": None,  # filled in by pyplot(): the Okabe-Ito cycle
}


@contextmanager
def pyplot() -> Iterator[Any]:
    """``matplotlib.pyplot`` under the report style (Agg backend, default rc plus :data:`STYLE`)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from cycler import cycler

    rc = dict(STYLE, **{"axes.prop_cycle": cycler(color=list(PALETTE))})
    with plt.style.context("default"), matplotlib.rc_context(rc):
        yield plt


def save(fig: Any, out_dir: str | Path, stem: str) -> Path:
    """Write ``stem.png`` and ``stem.svg`` into ``out_dir`` (created), close ``fig``, return the PNG path."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{stem}.png"
    # "tight" grows the canvas to hold text placed outside the axes (row labels, CI text, legends)
    fig.savefig(png, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.05)
    fig.savefig(out / f"{stem}.svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    return png


def color_for(names: Sequence[str], name: str) -> str:
    """The palette colour of ``name`` by its position in ``names`` (a stable legend order)."""
    return PALETTE[list(names).index(name) % len(PALETTE)]


def significant(p_adjusted: float) -> bool:
    """Whether an adjusted p-value is below :data:`SIGNIFICANCE` (NaN is never significant).

    >>> significant(0.01), significant(0.2), significant(float("nan"))
    (True, False, False)
    """
    return bool(p_adjusted == p_adjusted and p_adjusted < SIGNIFICANCE)
