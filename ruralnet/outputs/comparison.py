"""Writing a comparison of two runs (``ruralnet compare``): CSV tables, a workbook, a page."""

from __future__ import annotations

from pathlib import Path

from .._version import __version__
from ..analysis.comparison import Comparison
from ..model.atomic import atomic_path
from ..model.labels import text
from .files import output_folder, write_table, write_workbook
from .tables import for_csv, html_table, translated

#: The comparison's parts: file stem and the title's key in :data:`ruralnet.model.labels.TEXT`.
PARTS = (
    ("summary", "compare_summary"),
    ("sites", "compare_sites"),
    ("checks", "compare_checks"),
    ("settings", "compare_settings"),
)


def write_comparison(comparison: Comparison, out_dir: str | Path, lang: str = "zh") -> dict:
    """Write ``compare.csv`` (the totals), ``compare_sites.csv``, ``compare_checks.csv``,
    ``compare_settings.csv``, ``compare.xlsx`` and ``compare.html`` into ``out_dir``."""
    out = output_folder(out_dir)
    tables = {name: getattr(comparison, name) for name, _ in PARTS}
    files = {"summary": "compare.csv"} | {n: f"compare_{n}.csv" for n, _ in PARTS[1:]}
    paths = {files[n]: write_table(for_csv(t), out / files[n]) for n, t in tables.items()}
    paths["compare.xlsx"] = write_workbook(
        {text(key, lang): translated(tables[name], lang) for name, key in PARTS},
        out / "compare.xlsx",
    )
    with atomic_path(out / "compare.html") as tmp:
        tmp.write_text(_html(comparison, tables, lang), encoding="utf-8")
    paths["compare.html"] = out / "compare.html"
    return paths


def _html(comparison: Comparison, tables: dict, lang: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("ruralnet.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    parts = [
        {
            "title": text(key, lang),
            "table": html_table(tables[name], lang) if len(tables[name]) else "",
        }
        for name, key in PARTS
    ]
    return env.get_template("compare.html.j2").render(
        lang=lang,
        title=text("compare_title", lang),
        a=comparison.a,
        b=comparison.b,
        generated=text("generated", lang, version=__version__),
        parts=parts,
        none=text("compare_same", lang),
    )
