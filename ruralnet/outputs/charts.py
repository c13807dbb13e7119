"""Charts for reports, as inline SVG (text left to the browser, so Chinese labels render)."""

from __future__ import annotations

import functools
import io
import logging
import warnings

import numpy as np
import pandas as pd

from ..model.labels import STAGES, label, text


def _plain_text(chart):
    """Run a chart with matplotlib's mathtext off: a school name with ``$`` or ``\\`` is
    text, never a formula (``$\\notacommand$`` crashed the report)."""

    @functools.wraps(chart)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return chart(*args, **kwargs)

    return wrapper


def _svg(fig) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # Text stays text in the SVG (drawn by the browser): a layout font without CJK glyphs is
    # fine, and so are CJK families this machine lacks (matplotlib logs each lookup).
    fonts_log = logging.getLogger("matplotlib.font_manager")
    level = fonts_log.level
    fonts_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            # no date, ids from a fixed salt: the same chart gives the same bytes
            with matplotlib.rc_context({"svg.hashsalt": "ruralnet"}):
                fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        fonts_log.setLevel(level)
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # keep text as text: the browser draws the CJK glyphs
    plt.rcParams["font.family"] = [
        "Noto Sans CJK SC",
        "Microsoft YaHei",
        "SimHei",
        "DejaVu Sans",
        "sans-serif",
    ]
    return plt.subplots(*args, **kwargs)


@_plain_text
def travel_time_chart(
    before: pd.DataFrame,
    after: pd.DataFrame,
    lang: str,
    labels=("current", "plan"),
    limits: tuple[float, float] = (30, 45),
) -> str:
    """Pupils by daily travel time to school, per stage, before and after (from plan
    assignments; boarders' weekly trips are left out); reference lines at the walking and
    ride limits of the settings."""
    fig, axes = _figure(1, 3, figsize=(11, 3.2), sharey=False)
    bins = np.arange(0, max(95, 2 * limits[1] + 5), 5)
    for ax, stage in zip(axes, STAGES, strict=True):
        for table, name, style in ((before, labels[0], "--"), (after, labels[1], "-")):
            part = table[
                (table["stage"] == stage)
                & table["minutes"].notna()
                & table["way"].isin(["walk", "bus", "beyond"])
            ]
            counts, _ = np.histogram(
                np.clip(part["minutes"], 0, bins[-2]), bins=bins, weights=part["pupils"]
            )
            ax.step(bins[:-1], counts, where="post", linestyle=style, label=name)
        ax.set_title(label(STAGES, stage, lang))
        ax.set_xlabel(text("minutes", lang))
        ax.axvline(limits[0], color="grey", lw=0.8)
        ax.axvline(limits[1], color="grey", lw=0.8, ls=":")
    axes[0].legend()
    return _svg(fig)


@_plain_text
def capacity_chart(sites: pd.DataFrame, lang: str, top: int = 30) -> str:
    """Capacity use of the open sites after the plan (the fullest ``top``)."""
    open_ = (
        sites[sites["open"] & sites["capacity_use"].notna()]
        .sort_values("capacity_use", ascending=False)
        .head(top)
    )
    fig, ax = _figure(figsize=(8, max(2.5, 0.25 * len(open_))))
    colors = ["#d7301f" if u > 1 else "#3182bd" for u in open_["capacity_use"]]
    ax.barh(
        open_["name"].astype(str)[::-1], (open_["capacity_use"] * 100)[::-1], color=colors[::-1]
    )
    ax.axvline(100, color="k", lw=0.8)
    ax.set_xlabel("%")
    return _svg(fig)


@_plain_text
def timeline_chart(
    enrolment: pd.DataFrame, phases: pd.DataFrame, lang: str, title: str = ""
) -> str:
    """Pupils per year by stage (the central births variant as a line, low to high as a band)
    and the sites open after each phase (bars, right axis).

    Parameters
    ----------
    enrolment
        ``year, stage, variant, pupils`` (summed over the sites shown).
    phases
        ``year, sites_open`` of each phase.
    """
    fig, ax = _figure(figsize=(7, 3))
    for stage in STAGES:
        part = enrolment[enrolment["stage"] == stage].pivot_table(
            index="year", columns="variant", values="pupils", aggfunc="sum"
        )
        if part.empty:
            continue
        line = ax.plot(part.index, part["central"], marker=".", label=label(STAGES, stage, lang))
        ax.fill_between(
            part.index, part["low"], part["high"], alpha=0.15, color=line[0].get_color()
        )
    ax.set_ylabel(text("pupils", lang))
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.bar(phases["year"], phases["sites_open"], width=0.35, alpha=0.25, color="grey")
    right.set_ylabel(text("open_sites", lang))
    right.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    return _svg(fig)
