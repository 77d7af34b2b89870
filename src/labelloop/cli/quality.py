"""Quality commands: ``aggregate``, ``agreement``, ``labels``, ``label-errors``, ``drift``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from labelloop.cli.common import JsonOut, ProjectDir, actor, emit, open_dir, out, user_errors
from labelloop.errors import InvalidInputError

__all__ = ["register"]

label_errors_app = typer.Typer(
    help="Suspected label errors (confident learning) and their re-review.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the quality commands to the ``labelloop`` app."""
    app.command("aggregate")(aggregate_cmd)
    app.command("agreement")(agreement_cmd)
    app.command("labels")(labels_cmd)
    app.command("drift")(drift_cmd)
    app.add_typer(label_errors_app, name="label-errors")


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@user_errors
def aggregate_cmd(
    method: Annotated[
        str | None, typer.Option("--method", help="majority, dawid_skene or adjudicated (default: the project's)")
    ] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Decide every complete task's final labels from its answers, with method and confidence."""
    from labelloop.quality.service import aggregate

    result = aggregate(open_dir(project_dir), method=method, actor=actor())

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"{d['tasks']:,} tasks labeled ({d['method']}), {d['labels']:,} final labels, "
            f"mean confidence {_fmt(d['mean_confidence'])}; by method: {d['by_method']}"
        )
        if d["more_annotators"] or d["to_adjudication"]:
            out.print(
                f"low confidence: {d['more_annotators']:,} tasks ask one more annotator, "
                f"{d['to_adjudication']:,} go to adjudication"
            )

    emit(result, as_json, human)


@user_errors
def agreement_cmd(
    question: Annotated[str | None, typer.Option("--question", help="default: the first categorical question")] = None,
    slice_field: Annotated[str | None, typer.Option("--slice", help="also per value of this payload field")] = None,
    window: Annotated[str, typer.Option("--window", help="trend window: day, week, month")] = "week",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, max=10_000, help="resamples for the CI")] = 500,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Inter-annotator agreement now: Krippendorff's α with its interval, per label, per annotator, per slice."""
    from labelloop.quality.service import agreement

    result = agreement(
        open_dir(project_dir), question=question, slice_field=slice_field, window=window, bootstrap=bootstrap,
        actor=actor(),
    )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        ci = d["alpha_ci"]
        interval = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""
        out.print(
            f"{d['question']} ({d['level']}): Krippendorff's α = {_fmt(d['krippendorff_alpha'])}{interval} "
            f"over {d['units']:,} items with 2+ answers"
        )
        if d["per_label"]:
            table = Table("label", "α (this label or not)", "answers")
            for label, v in d["per_label"].items():
                table.add_row(label, _fmt(v["alpha"]), f"{v['count']:,}")
            out.print(table)
        if d["per_annotator"]:
            table = Table("annotator", "shared items", "agreement", "mean κ")
            for name, v in d["per_annotator"].items():
                table.add_row(name, f"{v['units']:,}", f"{v['agreement']:.0%}", _fmt(v["cohen_kappa"]))
            out.print(table)

    emit(result, as_json, human)


@user_errors
def labels_cmd(
    cursor: Annotated[int, typer.Option("--cursor", min=0, help="start after this task id")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Final labels of complete tasks (from `aggregate`), with method, confidence and the answers used."""
    from labelloop.quality.service import final_labels

    rows, next_cursor = final_labels(open_dir(project_dir), cursor=cursor, limit=limit)

    def human(d: dict[str, Any]) -> None:
        table = Table("task", "record", "question", "value", "method", "confidence")
        for r in d["labels"]:
            table.add_row(
                str(r["task_id"]), str(r["record_id"]), r["question"], orjson.dumps(r["value"]).decode(),
                r["method"], f"{r['confidence']:.3f}",
            )  # fmt: skip
        out.print(table)

    emit({"labels": rows, "next_cursor": next_cursor}, as_json, human)


def _load_predictions(path: Path) -> dict[int, dict[str, float]]:
    """JSONL lines ``{"record_id": 1, "probs": {"sport": 0.9, ...}}``."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    found: dict[int, dict[str, float]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            found[int(row["record_id"])] = {str(k): float(v) for k, v in dict(row["probs"]).items()}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InvalidInputError(
                f'{path}:{number}: expected {{"record_id": <int>, "probs": {{label: probability}}}}'
            ) from None
    return found


@label_errors_app.command("scan")
@user_errors
def label_errors_scan(
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="JSONL of out-of-sample {record_id, probs}; default: the baseline model"),
    ] = None,
    question: Annotated[str | None, typer.Option("--question")] = None,
    filter_by: Annotated[str | None, typer.Option("--filter", help="confident-learning filter")] = None,
    enqueue: Annotated[bool, typer.Option("--enqueue/--no-enqueue", help="queue flags for re-review")] = True,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Find likely mislabeled items among the final labels and queue them for re-review."""
    from labelloop.quality.service import scan_label_errors

    probs = _load_predictions(predictions) if predictions is not None else None
    result = scan_label_errors(
        open_dir(project_dir), predictions=probs, question=question, filter_by=filter_by, enqueue=enqueue,
        actor=actor(),
    )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"{d['flagged']:,} of {d['items']:,} final labels look wrong ({d['model']}, {d['filter_by']}); "
            f"{d['new_flags']:,} queued for re-review"
        )
        table = Table("task", "record", "given", "suggested", "score")
        for r in d["top"]:
            table.add_row(str(r["task_id"]), str(r["record_id"]), r["given"], r["suggested"], f"{r['score']:.3f}")
        out.print(table)

    emit(result, as_json, human)


@label_errors_app.command("report")
@user_errors
def label_errors_report(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """How the flags turned out: open, confirmed (real errors), dismissed."""
    from labelloop.quality.service import label_error_report

    result = label_error_report(open_dir(project_dir))
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"open {d['open']:,}, confirmed {d['confirmed']:,}, dismissed {d['dismissed']:,}; "
            f"precision of the flags {_fmt(d['precision'])}"
        ),
    )


def parse_when(text: str, *, now: float) -> float:
    """An ISO date/time (UTC when no zone) or a relative ``-7d`` / ``-12h`` / ``now`` as epoch seconds."""
    text = text.strip()
    if text == "now":
        return now
    units = {"d": 86_400.0, "h": 3_600.0, "m": 60.0}
    if text[:1] in "-+" and text[-1:] in units:
        try:
            return now + float(text[:-1]) * units[text[-1]]
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"cannot read time '{text}': use an ISO date (2026-11-01), -7d, -12h or now") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _window(text: str, now: float) -> tuple[float, float]:
    start, sep, end = text.partition("..")
    if not sep:
        raise InvalidInputError(f"a window is START..END (e.g. -14d..-7d), not '{text}'")
    return parse_when(start, now=now), parse_when(end, now=now)


def _reference(text: str, now: float) -> tuple[float, float] | str:
    """A time window, or ``release:NAME[:SPLIT]`` passed on as it is (the service reads it)."""
    return text.strip() if text.strip().startswith("release:") else _window(text, now)


@user_errors
def drift_cmd(
    reference: Annotated[
        str,
        typer.Option(
            "--reference",
            help="START..END (e.g. -14d..-7d or 2026-10-01..2026-11-01), or release:NAME / release:NAME:SPLIT",
        ),
    ] = ("-14d..-7d"),
    current: Annotated[str, typer.Option("--current", help="START..END")] = "-7d..now",
    time_field: Annotated[str, typer.Option("--time", help="ingested or event (the record's event time)")] = "ingested",
    model: Annotated[
        str | None, typer.Option("--model", help="whose predictions to compare (default: the newest model's)")
    ] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="which version of the model (default: its newest)")
    ] = None,
    enqueue: Annotated[int, typer.Option("--enqueue", min=0, help="queue up to N records of drifted slices")] = 0,
    priority: Annotated[int, typer.Option("--priority", help="priority of the queued tasks")] = 10,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Compare a reference (a window or a release) with the current window: numeric, categorical, text,
    label, prediction and embedding drift, per slice; store the alerts."""
    import time

    from labelloop.quality.service import drift

    now = time.time()
    result = drift(
        open_dir(project_dir), reference=_reference(reference, now), current=_window(current, now),
        time_field=time_field, model=model, model_version=model_version, enqueue=enqueue, priority=priority,
        actor=actor(),
    )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        ref = d["reference_description"]
        against = "reference"
        if ref["kind"] == "release":
            against = f"release {ref['release']}" + (f" ({ref['split']})" if ref["split"] else "")
        model_note = ""
        if d.get("model"):
            model_note = f"; model {d['model']['model']} {d['model']['version']}"
        out.print(
            f"{d['reference_rows']:,} {against} rows vs {d['current_rows']:,} current rows{model_note}: "
            f"{len(d['alerts'])} alert(s), {d['enqueued']:,} records queued"
        )
        table = Table("feature", "slice", "kind", "severity", "metrics")
        for f in d["features"]:
            metrics = ", ".join(f"{k}={v:.3g}" for k, v in f["metrics"].items() if isinstance(v, int | float))
            table.add_row(f["name"], f.get("slice") or "", f["kind"], f["severity"], metrics)
        out.print(table)
        for skipped in d.get("skipped_features", []):
            out.print(f"skipped {skipped['feature']}: {skipped['reason']}")

    emit(result, as_json, human)
