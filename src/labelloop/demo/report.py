"""The demo's HTML report: learning curves and label quality per round, as Plotly charts.

Plotly's JavaScript ships inside its Python package and is written into the file, so the
report opens offline (no CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def write_report(result: dict[str, Any], path: Path) -> Path:
    """Write the learning curves of ``result`` (``run_loop``'s output) to ``path`` as one HTML file."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rounds, baseline = result["rounds"], result["baseline"]
    figure = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "Model accuracy on the test split",
            "Final-label accuracy: Dawid-Skene vs majority vote",
            "Agreement (Krippendorff's alpha)",
        ),
    )
    labels = [r["labels"] for r in rounds]
    figure.add_trace(go.Scatter(x=labels, y=[r["accuracy"] for r in rounds], name=f"{result['strategy']}"), 1, 1)
    figure.add_trace(
        go.Scatter(x=[r["labels"] for r in baseline], y=[r["accuracy"] for r in baseline], name="random"), 1, 1
    )
    figure.add_trace(go.Scatter(x=labels, y=[r["label_accuracy_ds"] for r in rounds], name="Dawid-Skene"), 1, 2)
    figure.add_trace(go.Scatter(x=labels, y=[r["label_accuracy_mv"] for r in rounds], name="majority vote"), 1, 2)
    figure.add_trace(go.Scatter(x=labels, y=[r["alpha"] for r in rounds], name="alpha"), 1, 3)
    for column in (1, 2, 3):
        figure.update_xaxes(title_text="items labeled", row=1, col=column)
    saving = result["saving"]
    share = saving["share_of_random_labels"]
    title = (
        f"labelloop demo: {result['strategy']} reached random sampling's final accuracy "
        f"({saving['random_final_accuracy']:.3f}) with {share:.0%} of its labels"
        if share is not None
        else f"labelloop demo: {result['strategy']} did not reach random sampling's final accuracy"
    )
    figure.update_layout(title_text=title, height=480, width=1400)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
