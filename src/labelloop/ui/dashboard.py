"""The dashboard page: a project's figures as charts, each with a table of its numbers.

The figures come from :func:`labelloop.metrics.dashboard.dashboard` (counters and a snapshot, see
there); this module only turns them into Plotly figures (built with ``plotly.graph_objects``) and a
text alternative per chart. Each figure's JSON travels in the chart's ``data-figure`` attribute
(escaped by Jinja) and ``static/dashboard.js`` draws it with ``Plotly.newPlot``: no script element
carries data. People's figures (per annotator) are built only for roles allowed ``quality.manage``
(stewards and admins), as the API does for agreement per annotator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import Registry
from labelloop.governance.service import allowed
from labelloop.metrics.dashboard import AGE_BUCKETS, dashboard
from labelloop.ui.web import CurrentSession, PageRoute, member, render

__all__ = ["Chart", "charts", "duration", "plain", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Colours of the series (colour-blind safe, Okabe-Ito order), and the layout every chart shares.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
_LAYOUT: dict[str, Any] = {
    "height": 280,
    "margin": {"l": 56, "r": 16, "t": 12, "b": 48},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1d2330"},
    "colorway": PALETTE,
    "xaxis": {"gridcolor": "#e6e9ef", "zerolinecolor": "#d9dde5", "automargin": True},
    "yaxis": {"gridcolor": "#e6e9ef", "zerolinecolor": "#d9dde5", "automargin": True, "rangemode": "tozero"},
    "legend": {"orientation": "h", "y": -0.22},
    "hovermode": "closest",
}


@dataclass
class Chart:
    """One chart: its heading, the Plotly figure as JSON (None when there is nothing to draw yet), a
    one-line summary with the key numbers, and the table that is its text alternative."""

    key: str
    title: str
    summary: str
    columns: list[str]
    rows: list[list[str]]
    figure: str | None = None
    note: str | None = None
    people: bool = False


def duration(seconds: float | None) -> str:
    """A duration for people: ``45 s``, ``12 min``, ``3.2 h``, ``4.5 days``; an em dash for None."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _unit(values: list[float]) -> tuple[float, str]:
    """A divisor and unit name that suit the largest of ``values`` (seconds)."""
    top = max((v for v in values if v is not None), default=0.0)
    if top < 120:
        return 1.0, "seconds"
    if top < 2 * 3600:
        return 60.0, "minutes"
    if top < 72 * 3600:
        return 3600.0, "hours"
    return 86_400.0, "days"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _when(epoch: float | None) -> str:
    return "—" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(epoch: float) -> str:
    """An epoch time as Plotly reads dates on a date axis."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def plain(value: Any) -> Any:
    """``value`` with ``&``, ``<`` and ``>`` written as entities when it is a string.

    Plotly reads a subset of HTML in the text it draws (``<b>``, ``<i>``, ``<br>``, ``<a href>``):
    label, source and people names are data, so they must be drawn as written, never as markup.
    Plotly turns the entities back into the characters when it draws them.
    """
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _figure(data: list[Any], **layout: Any) -> str:
    merged = {**_LAYOUT, **layout}
    for axis in ("xaxis", "yaxis"):
        if axis in layout:
            merged[axis] = {**_LAYOUT[axis], **layout[axis]}
    figure = go.Figure(data=data, layout=merged)
    for trace in figure.data:
        for key in ("x", "y", "name", "text"):
            value = trace[key]
            if isinstance(value, str):
                trace[key] = plain(value)
            elif isinstance(value, tuple | list):
                trace[key] = [plain(v) for v in value]
    return str(pio.to_json(figure, validate=False, engine="json"))


def _backlog(d: dict[str, Any]) -> Chart:
    queues = d["backlog"]
    names = [q["queue"] for q in queues]
    data = [
        go.Bar(name=label, x=names, y=[q["by_age"][label] for q in queues], marker_color=PALETTE[i])
        for i, (_, label) in enumerate(AGE_BUCKETS)
    ]
    waiting = sum(q["items"] for q in queues)
    summary = "; ".join(f"{q['queue']}: {q['items']:,} waiting, oldest {duration(q['oldest_age_s'])}" for q in queues)
    return Chart(
        "backlog",
        "Backlog per queue and its age",
        summary + ".",
        ["Queue", "Waiting", "Oldest"],
        [[q["queue"], f"{q['items']:,}", duration(q["oldest_age_s"])] for q in queues],
        _figure(data, barmode="stack", yaxis={"title": {"text": "items"}}) if waiting else None,
    )


def _throughput(d: dict[str, Any]) -> list[Chart]:
    t = d["throughput"]
    days = t["days"]
    active = [(day, n) for day, n in zip(days, t["total"], strict=True) if n]
    summary = f"{t['answers']:,} answers in the last {len(days)} days" + (
        f"; busiest day {max(active, key=lambda x: x[1])[0]} with {max(n for _, n in active):,}." if active else "."
    )
    per = t.get("by_annotator")
    if per:
        data = [go.Bar(name=name, x=days, y=values) for name, values in per.items()]
    else:
        data = [go.Bar(name="answers", x=days, y=t["total"], marker_color=PALETTE[0])]
    out = [
        Chart(
            "throughput",
            "Throughput per day",
            summary,
            ["Day (UTC)", "Answers"],
            [[day, f"{n:,}"] for day, n in active[-10:]],
            _figure(data, barmode="stack", showlegend=bool(per), yaxis={"title": {"text": "answers"}})
            if t["answers"]
            else None,
        )
    ]
    if per is not None:
        totals = t["annotators"]
        names = list(totals)
        out.append(
            Chart(
                "throughput-people",
                "Throughput per annotator",
                f"{len(names)} annotators answered in the last {len(days)} days"
                + (f"; most: {names[0]} with {totals[names[0]]:,}." if names else "."),
                ["Annotator", "Answers"],
                [[name, f"{n:,}"] for name, n in totals.items()],
                _figure(
                    [go.Bar(x=[totals[n] for n in names], y=names, orientation="h", marker_color=PALETTE[2])],
                    yaxis={"autorange": "reversed", "rangemode": "normal"},
                    xaxis={"title": {"text": "answers"}},
                    height=max(200, 28 * len(names) + 80),
                )
                if names
                else None,
                people=True,
            )
        )
    return out


def _latency(d: dict[str, Any]) -> Chart:
    lat = d["latency"]
    rows = [("all sources", lat["overall"]), *list(lat["by_source"].items())]
    shown = [(name, s) for name, s in rows if s["labels"]]
    divisor, unit = _unit([s["p95_s"] for _, s in shown])
    data = [
        go.Bar(name="p50", x=[n for n, _ in shown], y=[s["p50_s"] / divisor for _, s in shown]),
        go.Bar(name="p95", x=[n for n, _ in shown], y=[s["p95_s"] / divisor for _, s in shown]),
    ]
    overall = lat["overall"]
    return Chart(
        "latency",
        "Ingest-to-label latency",
        f"Median {duration(overall['p50_s'])}, 95th percentile {duration(overall['p95_s'])} "
        f"over {overall['labels']:,} labeled tasks.",
        ["Source", "Labels", "p50", "p95"],
        [[name, f"{s['labels']:,}", duration(s["p50_s"]), duration(s["p95_s"])] for name, s in rows],
        _figure(data, barmode="group", yaxis={"title": {"text": unit}}) if shown else None,
    )


def _coverage(d: dict[str, Any]) -> list[Chart]:
    cov = d["coverage"]
    classes = cov["by_class"]
    by_class = Chart(
        "coverage-class",
        "Coverage per class" + (f" ({cov['question']})" if cov["question"] else ""),
        f"{cov['final_labels']:,} final labels"
        + (
            "; "
            + ", ".join(
                f"{label} {v['labels']:,}" for label, v in sorted(classes.items(), key=lambda kv: -kv[1]["labels"])[:5]
            )
            + "."
            if cov["final_labels"]
            else " (run the aggregation to decide final labels)."
        ),
        ["Class", "Final labels", "Share", "Target", "Missing"],
        [
            [
                label,
                f"{v['labels']:,}",
                _pct(v["share"]),
                "—" if v["target"] is None else f"{v['target']:,}",
                "—" if v["missing"] is None else f"{v['missing']:,}",
            ]
            for label, v in classes.items()
        ],
        _figure(
            [
                go.Bar(
                    x=list(classes),
                    y=[v["labels"] for v in classes.values()],
                    marker_color=PALETTE[0],
                    name="final labels",
                ),
                *_targets(list(classes), [v["target"] for v in classes.values()]),
            ],
            yaxis={"title": {"text": "final labels"}},
        )
        if cov["final_labels"]
        else None,
        note=cov["targets_note"],
    )
    sources = cov["by_source"]
    shown = {k: v for k, v in sources.items() if v["coverage"] is not None}
    by_source = Chart(
        "coverage-source",
        "Coverage per source",
        "; ".join(
            f"{name}: {v['labeled']:,} of {v['accepted']:,} labeled ({_pct(v['coverage'])})"
            for name, v in sources.items()
        )
        + ".",
        ["Source", "Labeled", "Accepted", "Coverage", "Target"],
        [
            [
                name,
                f"{v['labeled']:,}",
                f"{v['accepted']:,}",
                _pct(v["coverage"]),
                "—" if v["target"] is None else _pct(v["target"]) + (" (met)" if v["met"] else " (not met)"),
            ]
            for name, v in sources.items()
        ],
        _figure(
            [
                go.Bar(
                    x=list(shown),
                    y=[v["coverage"] * 100 for v in shown.values()],
                    text=[_pct(v["coverage"]) for v in shown.values()],
                    textposition="auto",
                    marker_color=PALETTE[2],
                    name="labeled",
                ),
                *_targets(list(shown), [None if v["target"] is None else v["target"] * 100 for v in shown.values()]),
            ],
            yaxis={"title": {"text": "% of accepted records labeled"}, "range": [0, 100]},
        )
        if shown
        else None,
        note=cov["targets_note"],
    )
    return [by_class, by_source]


def _targets(names: list[str], targets: list[float | None]) -> list[Any]:
    """A target marker per bar, where a target is set (none: no trace)."""
    if all(t is None for t in targets):
        return []
    return [
        go.Scatter(
            x=names,
            y=targets,
            mode="markers",
            name="target",
            marker={"symbol": "line-ew-open", "size": 28, "line": {"width": 3}, "color": "#b3261e"},
        )
    ]


def _completeness(d: dict[str, Any]) -> Chart:
    c = d["completeness"]
    names = ["tasks at their overlap", "complete tasks adjudicated"]
    values = [c["share_at_overlap"], c["adjudicated_share"]]
    return Chart(
        "completeness",
        "Completeness",
        f"{c['at_overlap']:,} of {c['tasks']:,} tasks have all their answers ({_pct(c['share_at_overlap'])}); "
        f"{c['adjudicated']:,} of {c['complete']:,} complete tasks were adjudicated ({_pct(c['adjudicated_share'])}).",
        ["Figure", "Count", "Share"],
        [
            ["Tasks at their overlap", f"{c['at_overlap']:,} of {c['tasks']:,}", _pct(c["share_at_overlap"])],
            ["Complete tasks adjudicated", f"{c['adjudicated']:,} of {c['complete']:,}", _pct(c["adjudicated_share"])],
        ],
        _figure(
            [
                go.Bar(
                    x=[(v or 0) * 100 for v in values],
                    y=names,
                    orientation="h",
                    text=[_pct(v) for v in values],
                    textposition="auto",
                    marker_color=[PALETTE[0], PALETTE[1]],
                )
            ],
            xaxis={"range": [0, 100], "title": {"text": "%"}},
            yaxis={"rangemode": "normal"},
            height=200,
        )
        if c["tasks"]
        else None,
    )


def _freshness(d: dict[str, Any]) -> Chart:
    f = d["freshness"]["by_source"]
    shown = {k: v for k, v in f.items() if v["age_s"] is not None}
    divisor, unit = _unit([v["age_s"] for v in shown.values()])
    return Chart(
        "freshness",
        "Freshness per source",
        "Age of the newest labeled record: "
        + "; ".join(f"{name} {duration(v['age_s'])}" for name, v in f.items())
        + ".",
        ["Source", "Newest labeled record ingested", "Age"],
        [[name, _when(v["newest_labeled_ingested_at"]), duration(v["age_s"])] for name, v in f.items()],
        _figure(
            [go.Bar(x=list(shown), y=[v["age_s"] / divisor for v in shown.values()], marker_color=PALETTE[4])],
            yaxis={"title": {"text": unit}},
        )
        if shown
        else None,
    )


def _agreement(d: dict[str, Any]) -> list[Chart]:
    a = d["agreement"]
    now = a["now"]
    out: list[Chart] = []
    per_label = (now or {}).get("per_label") or {}
    alpha = None if now is None else now.get("krippendorff_alpha")
    labels = [k for k, v in per_label.items() if v.get("alpha") is not None]
    summary = (
        f"Krippendorff's α {_num(alpha)} over {now.get('units', 0):,} items with two or more answers."
        if now is not None and alpha is not None
        else "No agreement yet: it needs items answered by at least two people."
    )
    out.append(
        Chart(
            "agreement",
            "Agreement per label",
            summary,
            ["Label", "α", "Answers using it"],
            [[label, _num(v.get("alpha")), f"{v.get('count', 0):,}"] for label, v in per_label.items()],
            _figure(
                [go.Bar(x=labels, y=[per_label[k]["alpha"] for k in labels], marker_color=PALETTE[0])],
                yaxis={"title": {"text": "α"}, "range": [min(0.0, *(per_label[k]["alpha"] for k in labels)), 1]},
            )
            if labels
            else None,
            note=a["note"],
        )
    )
    history = [h for h in a["history"] if h["alpha"] is not None]
    trend = [t for t in (now or {}).get("trend") or [] if t.get("alpha") is not None]
    data = []
    if history:
        data.append(
            go.Scatter(
                name="recorded α",
                mode="lines+markers",
                x=[_iso(h["at"]) for h in history],
                y=[h["alpha"] for h in history],
            )
        )
    if trend:
        data.append(
            go.Scatter(
                name="α of items first answered that week",
                mode="lines+markers",
                x=[_iso(t["start"]) for t in trend],
                y=[t["alpha"] for t in trend],
            )
        )
    out.append(
        Chart(
            "agreement-trend",
            "Agreement trend",
            f"{len(a['history'])} recorded agreement figures"
            + (f"; latest α {_num(history[-1]['alpha'])} at {_when(history[-1]['at'])}." if history else ".")
            + (f" Weekly α of new items: {', '.join(_num(t['alpha']) for t in trend[-4:])}." if trend else ""),
            ["Recorded at", "α", "Items"],
            [[_when(h["at"]), _num(h["alpha"]), f"{h.get('units') or 0:,}"] for h in a["history"][-10:]],
            _figure(data, xaxis={"type": "date"}, yaxis={"title": {"text": "α"}, "rangemode": "normal"})
            if data
            else None,
        )
    )
    people = (now or {}).get("per_annotator")
    if people:
        names = list(people)
        out.append(
            Chart(
                "agreement-people",
                "Agreement per annotator",
                f"Mean Cohen's κ with the others, for {len(names)} annotators.",
                ["Annotator", "Shared items", "Agreement", "κ"],
                [[name, f"{v['units']:,}", _pct(v["agreement"]), _num(v["cohen_kappa"])] for name, v in people.items()],
                _figure(
                    [go.Bar(x=names, y=[people[n]["cohen_kappa"] for n in names], marker_color=PALETTE[3])],
                    yaxis={"title": {"text": "Cohen's κ"}, "rangemode": "normal"},
                ),
                people=True,
            )
        )
    return out


def _gold(d: dict[str, Any]) -> Chart | None:
    gold = d["gold"]
    if gold is None:
        return None
    measured = [g for g in gold if g["accuracy"] is not None]
    return Chart(
        "gold",
        "Gold accuracy per annotator",
        f"{len(measured)} annotators answered gold items"
        + (
            "; "
            + ", ".join(f"{g['user']} {_pct(g['accuracy'])}" for g in measured[:6])
            + " (95% Wilson intervals in the table)."
            if measured
            else "."
        ),
        ["Annotator", "Gold answers", "Correct", "Accuracy", "95% interval", "Paused"],
        [
            [
                g["user"],
                f"{g['answers']:,}",
                f"{g['correct']:,}",
                _pct(g["accuracy"]),
                f"{_pct(g['interval'][0])} – {_pct(g['interval'][1])}",
                "yes" if g["paused"] else "no",
            ]
            for g in gold
        ],
        _figure(
            [
                go.Scatter(
                    mode="markers",
                    x=[g["user"] for g in measured],
                    y=[g["accuracy"] * 100 for g in measured],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [(g["interval"][1] - g["accuracy"]) * 100 for g in measured],
                        "arrayminus": [(g["accuracy"] - g["interval"][0]) * 100 for g in measured],
                    },
                    marker={"size": 10, "color": PALETTE[5]},
                )
            ],
            yaxis={"title": {"text": "% correct"}, "range": [0, 100]},
        )
        if measured
        else None,
        people=True,
    )


def _errors(d: dict[str, Any]) -> list[Chart]:
    e = d["errors"]
    codes = dict(sorted(e["by_code"].items(), key=lambda kv: (-kv[1], kv[0])))
    out = [
        Chart(
            "errors",
            "Error types from reviews",
            f"{e['reviews']:,} reviews"
            + ("; " + ", ".join(f"{code} {n:,}" for code, n in list(codes.items())[:5]) + "." if codes else "."),
            ["Reason code (or decision)", "Reviews"],
            [[code, f"{n:,}"] for code, n in codes.items()],
            _figure(
                [go.Bar(x=list(codes), y=list(codes.values()), marker_color=PALETTE[5])],
                yaxis={"title": {"text": "reviews"}},
            )
            if codes
            else None,
        )
    ]
    people = e.get("by_annotator")
    if people:
        all_codes = sorted({c for v in people.values() for c in v})
        names = sorted(people)
        out.append(
            Chart(
                "errors-people",
                "Error types per annotator",
                f"Review outcomes of {len(names)} annotators' answers.",
                ["Annotator", *all_codes],
                [[name, *(f"{people[name].get(c, 0):,}" for c in all_codes)] for name in names],
                _figure(
                    [go.Bar(name=c, x=names, y=[people[n].get(c, 0) for n in names]) for c in all_codes],
                    barmode="stack",
                    yaxis={"title": {"text": "reviews"}},
                ),
                people=True,
            )
        )
    return out


def _drift(d: dict[str, Any]) -> Chart:
    drift = d["drift"]
    runs = drift["runs"]
    severities = sorted({k for r in runs for k in r if k not in ("run_id", "at", "alerts")})
    data = [go.Bar(name=s, x=[f"run {r['run_id']}" for r in runs], y=[r.get(s, 0) for r in runs]) for s in severities]
    return Chart(
        "drift",
        "Drift alerts",
        f"{len(runs)} drift reports recorded, {sum(r['alerts'] for r in runs):,} alerts"
        + (f"; latest report {_when(runs[-1]['at'])} with {runs[-1]['alerts']} alerts." if runs else "."),
        ["Report", "Feature", "Kind", "Slice", "Severity"],
        [
            [
                f"run {a['run_id']} ({_when(a['at'])})",
                str(a["feature"]),
                str(a["kind"]),
                str(a["slice"] or "all"),
                str(a["severity"]),
            ]
            for a in drift["alerts"][:12]
        ],
        _figure(data, barmode="stack", yaxis={"title": {"text": "alerts"}}) if data else None,
    )


def _learning(d: dict[str, Any]) -> Chart:
    learn = d["learning"]
    releases = learn["releases"]
    names = [r["name"] for r in releases]
    data: list[Any] = [
        go.Bar(name="labels in the release", x=names, y=[r["records"] for r in releases], marker_color=PALETTE[4])
    ]
    scored = [r for r in releases if r["test_accuracy"] is not None]
    if scored:
        data.append(
            go.Scatter(
                name="model test accuracy",
                mode="lines+markers",
                x=[r["name"] for r in scored],
                y=[r["test_accuracy"] for r in scored],
                yaxis="y2",
                marker_color=PALETTE[5],
            )
        )
    return Chart(
        "learning",
        "Learning curve across releases",
        f"{len(releases)} releases"
        + (f"; latest {releases[-1]['name']} with {releases[-1]['records']:,} labels" if releases else "")
        + (f"; model test accuracy {', '.join(_num(r['test_accuracy']) for r in scored[-4:])}." if scored else "."),
        ["Release", "Labels", "Model test accuracy", "Macro-F1"],
        [[r["name"], f"{r['records']:,}", _num(r["test_accuracy"]), _num(r["test_macro_f1"])] for r in releases],
        _figure(
            data,
            yaxis={"title": {"text": "labels"}},
            yaxis2={
                "title": {"text": "accuracy"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 1],
                "showgrid": False,
            },
        )
        if releases
        else None,
        note=learn["note"],
    )


def charts(d: dict[str, Any]) -> list[Chart]:
    """Every chart of the dashboard data ``d`` (from :func:`labelloop.metrics.dashboard.dashboard`), in page order."""
    out: list[Chart] = [_backlog(d), *_throughput(d), _latency(d), *_coverage(d), _completeness(d), _freshness(d)]
    out += _agreement(d)
    gold = _gold(d)
    if gold is not None:
        out.append(gold)
    out += [*_errors(d), _drift(d), _learning(d)]
    return out


def kpi_tiles(d: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The headline figures: (key, label, shown value, raw value)."""
    k = d["kpis"]
    return [
        ("records", "Records", f"{k['records']:,}", k["records"]),
        ("labeled", "Labeled", f"{k['labeled']:,}", k["labeled"]),
        ("coverage", "Coverage", _pct(k["coverage"]), k["coverage"]),
        ("completeness", "Tasks at overlap", _pct(k["completeness"]), k["completeness"]),
        ("adjudicated", "Adjudicated", _pct(k["adjudicated_share"]), k["adjudicated_share"]),
        ("latency_p50", "Latency p50", duration(k["label_latency_p50_s"]), k["label_latency_p50_s"]),
        ("latency_p95", "Latency p95", duration(k["label_latency_p95_s"]), k["label_latency_p95_s"]),
        ("freshness", "Freshness", duration(k["freshness_s"]), k["freshness_s"]),
        ("alpha", "Krippendorff's α", _num(k["krippendorff_alpha"]), k["krippendorff_alpha"]),
    ]


@router.get("/projects/{project}/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """The project's dashboard (``metrics.read``: every role); people's figures for stewards and admins."""
    target = member(registry, session, project, "metrics.read")
    people = allowed(session.principal, "quality.manage")
    data = await run_in_threadpool(dashboard, target, people=people)
    built = await run_in_threadpool(charts, data)
    return render(
        request,
        "dashboard.html",
        session,
        project,
        {
            "active": "dashboard",
            "data": data,
            "charts": built,
            "kpis": kpi_tiles(data),
            "as_of": _when(data["as_of"]),
            "counts": data["counts"],
        },
    )
