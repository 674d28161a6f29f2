"""``summary.html``: the day at a glance, one self-contained page (no script, no font, no image from the internet).

Rendered by Jinja2 with autoescaping on, so a buyer name or an issue message is shown as text, never as markup.
The chart is an inline SVG drawn by matplotlib (its SVG backend: text kept as text, a fixed hash salt for its
element ids and no date in its metadata, so the bytes are the same on every run); it shows the day's gross sales,
refunds, fees, tax and payouts per currency. The chart holds only figures and fixed labels: it is the one piece
inserted unescaped.
"""

from __future__ import annotations

import io
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:
    from fb_commerce.finance.reports import DayReport

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: orders listed on the page (all of them are in orders.csv)
ORDERS_SHOWN = 20
CHART_BARS = ("gross_sales", "refunds", "fees", "tax", "payouts")
#: any constant: matplotlib derives the SVG's element ids from it instead of from a random number
HASH_SALT = "fb-commerce"


def chart_svg(figures: dict[str, dict[str, Decimal]]) -> str:
    """A bar chart of :data:`CHART_BARS` (sizes: refunds and fees are shown as positive amounts), one group of
    bars per currency, as an ``<svg>`` element."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    labels = [name.replace("_", " ") for name in CHART_BARS]
    with matplotlib.rc_context({"svg.hashsalt": HASH_SALT, "svg.fonttype": "none", "font.size": 9}):
        figure = Figure(figsize=(7.5, 2.8), dpi=72)
        axes = figure.add_subplot()
        currencies = list(figures) or [""]
        width = 0.8 / len(currencies)
        for n, currency in enumerate(currencies):
            values = [float(abs(figures.get(currency, {}).get(name, Decimal(0)))) for name in CHART_BARS]
            positions = [i + n * width - 0.4 + width / 2 for i in range(len(CHART_BARS))]
            bars = axes.bar(positions, values, width=width * 0.9, label=currency or "no data")
            axes.bar_label(bars, labels=[f"{v:,.2f}" for v in values], fontsize=7)
        axes.set_xticks(range(len(CHART_BARS)), labels)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_title("The day's money (absolute amounts)")
        if len(currencies) > 1:
            axes.legend()
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or DOCTYPE inside HTML


def _texts(row: dict[str, Any], timezone: str) -> dict[str, Any]:
    """A row's values as the CSVs show them (money with two decimals, times in the merchant's zone)."""
    from fb_commerce.finance.reports import cell

    zone = zoneinfo.ZoneInfo(timezone)
    return {key: cell(value, zone) for key, value in row.items()}


def fee_rate(figure: dict[str, Decimal]) -> str:
    """Fees over gross sales, as a percentage with two decimals (empty without sales)."""
    if not figure["gross_sales"]:
        return ""
    return f"{(-figure['fees'] / figure['gross_sales'] * 100).quantize(Decimal('0.01'))} %"


def render_summary(report: DayReport) -> str:
    """The page as text."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    cash = report.sheet("cash").rows
    orders = report.sheet("orders").rows
    zone = report.timezone
    return environment.get_template(
        "summary.html.j2"
    ).render(
        day=report.day.isoformat(),
        timezone=report.timezone,
        start=report.start.strftime("%Y-%m-%d %H:%M"),
        end=report.end.strftime("%Y-%m-%d %H:%M"),
        files=[*(s.file_name for s in report.sheets), f"finance_{report.day.isoformat()}.xlsx"],
        headlines=[*CHART_BARS, "net"],
        figures={c: _texts(f, zone) for c, f in report.figures.items()},
        fee_rates={c: fee_rate(f) for c, f in report.figures.items()},
        chart=Markup(chart_svg(report.figures)),  # noqa: S704 - our own figures and labels, drawn by matplotlib
        balance=[_texts(r, zone) for r in report.balance],
        payouts=[_texts(r, zone) for r in cash],
        issues=[_texts(i, zone) for i in report.open_issues],
        orders=[_texts(o, zone) for o in orders[:ORDERS_SHOWN]],
        orders_count=len(orders),
    )


def write_summary(path: Path, report: DayReport) -> None:
    """Write ``summary.html`` (UTF-8)."""
    path.write_bytes(render_summary(report).encode("utf-8"))


__all__ = ["CHART_BARS", "chart_svg", "render_summary", "write_summary"]
