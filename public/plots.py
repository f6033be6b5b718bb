"""Server-side SVG plots (matplotlib): readable without JavaScript, axes labelled with units.

One kind of picture: the value of one property key per model, sorted, with one model
highlighted and the reference data drawn as a line (or a band when it has an uncertainty).
"""

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from public.values import Point  # noqa: E402

#: Beyond this many models the x axis names none of them (they would overlap).
MAX_NAMED_MODELS = 30
#: Fixed margins (fractions of the figure) instead of tight_layout, which draws the whole
#: figure once more to measure it: 55 ms of a 500-model plot's 85 (bench_site's test plot).
#: The bottom one leaves room for the rotated model names.
MARGINS = {"left": 0.1, "right": 0.98, "top": 0.92}
BOTTOM_NAMED, BOTTOM_UNNAMED = 0.42, 0.1
#: Text as SVG text (the browser's fonts), not every glyph as a path: smaller and faster.
SVG_STYLE = {"svg.fonttype": "none"}


@dataclass
class Reference:
    """A reference value to draw: a line, or a band of ± ``uncertainty``."""

    label: str
    value: float
    uncertainty: float | None = None


def values_svg(points: list[Point], *, title: str, quantity: str, unit: str,
               highlight: str | None = None, references: list[Reference] = ()) -> str:
    """An SVG document plotting ``points`` sorted by value."""
    ordered = sorted(points, key=lambda p: p.value)
    figure = Figure(figsize=(7.5, 3.6), dpi=100)
    axes = figure.add_subplot()
    xs = list(range(len(ordered)))
    # One marker line for every model and one for the highlighted one: two artists whatever
    # the number of models (a scatter with a colour and size per point styles each marker).
    others = [(x, p.value) for x, p in zip(xs, ordered, strict=True) if p.model_kim_id != highlight]
    chosen = [(x, p.value) for x, p in zip(xs, ordered, strict=True) if p.model_kim_id == highlight]
    for pairs, colour, size in ((others, "#1f77b4", 4.5), (chosen, "#d62728", 8.5)):
        if pairs:
            axes.plot(*zip(*pairs, strict=True), linestyle="none", marker="o", markersize=size,
                      color=colour, zorder=3)
    for reference in references:
        if reference.uncertainty:
            axes.axhspan(reference.value - reference.uncertainty,
                         reference.value + reference.uncertainty, color="#2ca02c", alpha=0.2)
        axes.axhline(reference.value, color="#2ca02c", linestyle="--",
                     label=f"reference: {reference.label}")
    if references:
        axes.legend(loc="best", fontsize=7)
    axes.set_ylabel(f"{quantity} ({unit})" if unit else quantity)
    if len(ordered) <= MAX_NAMED_MODELS:
        axes.set_xticks(xs, [p.model_kim_id.split("__")[0][:28] for p in ordered],
                        rotation=60, ha="right", fontsize=6)
        axes.set_xlabel("model")
    else:
        axes.set_xticks([])
        axes.set_xlabel(f"{len(ordered)} models, sorted by value")
    axes.set_title(title, fontsize=9)
    axes.grid(axis="y", alpha=0.3)
    if not ordered:
        axes.text(0.5, 0.5, "no values yet", transform=axes.transAxes, ha="center")
    figure.subplots_adjust(**MARGINS, bottom=BOTTOM_NAMED if len(ordered) <= MAX_NAMED_MODELS
                           and ordered else BOTTOM_UNNAMED)
    out = io.StringIO()
    with rc_context(SVG_STYLE):
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
