"""Server-side SVG plots (matplotlib): readable without JavaScript, axes labelled with units.

One kind of picture: the value of one property key per model, sorted, with one model
highlighted and the reference data drawn as a line (or a band when it has an uncertainty).
"""

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot

from matplotlib.figure import Figure  # noqa: E402

from public.values import Point  # noqa: E402

#: Beyond this many models the x axis names none of them (they would overlap).
MAX_NAMED_MODELS = 30


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
    colours = ["#d62728" if p.model_kim_id == highlight else "#1f77b4" for p in ordered]
    sizes = [60 if p.model_kim_id == highlight else 18 for p in ordered]
    axes.scatter(xs, [p.value for p in ordered], c=colours, s=sizes, zorder=3)
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
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
