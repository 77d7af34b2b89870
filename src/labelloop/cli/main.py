"""The ``labelloop`` command line (Typer + Rich).

Every command takes ``--project-dir`` and ``--json``. With ``--json`` exactly one
JSON object goes to stdout; progress and messages go to stderr. Exit codes: 0
success, 1 a user error (one line on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from labelloop.cli.common import JsonOut, ProjectDir, actor, emit, err, open_dir, out, user_errors
from labelloop.cli.learning import register as register_learning
from labelloop.cli.quality import register as register_quality
from labelloop.cli.releases import register as register_releases
from labelloop.cli.schedules import register as register_schedules
from labelloop.errors import InvalidInputError
from labelloop.governance.consent import withdraw_consent
from labelloop.governance.service import add_user
from labelloop.ingest.quarantine import decide_held_run, drop_quarantined, list_records, release_quarantined
from labelloop.ingest.service import COUNT_KEYS, IngestProgress, run_ingest
from labelloop.project import init_project

app = typer.Typer(
    name="labelloop",
    help="labelloop: collect, clean, select, label, prove and release the data behind a model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
quarantine_app = typer.Typer(help="Decide on rows held in quarantine.", no_args_is_help=True)
user_app = typer.Typer(help="Members of a project.", no_args_is_help=True)
runs_app = typer.Typer(help="Ingest runs held for review by anomaly checks.", no_args_is_help=True)
consent_app = typer.Typer(help="Data subjects' consent.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(runs_app, name="runs")
app.add_typer(consent_app, name="consent")
tasks_app = typer.Typer(help="Labeling tasks.", no_args_is_help=True)
schema_app = typer.Typer(help="The label schema and its versions.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(schema_app, name="schema")
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
gold_app = typer.Typer(help="Gold items: records with a known answer that measure annotators.", no_args_is_help=True)
app.add_typer(gold_app, name="gold")
app.add_typer(user_app, name="user")
register_quality(app)
register_learning(app)
register_schedules(app)
register_releases(app)


class _Bars(IngestProgress):
    """Rich progress bars on stderr, one per file."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=err,
            disable=not err.is_terminal,
            transient=False,
        )
        self.task: Any = None
        self.rows = 0

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def file_started(self, source: str, key: str, total_bytes: int, done_bytes: int) -> None:
        self.rows = 0
        name = key if len(key) < 40 else "..." + key[-37:]
        self.task = self.progress.add_task(f"{source}: {name}", total=total_bytes, completed=done_bytes, rows=0)

    def advanced(self, done_bytes: int, rows: int) -> None:
        self.rows += rows
        self.progress.update(self.task, completed=done_bytes, rows=self.rows)

    def file_finished(self) -> None:
        if self.task is not None:
            task = self.progress.tasks[-1]
            self.progress.update(self.task, completed=task.total)


@app.command()
@user_errors
def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder to create the project in.")] = None,
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's name).")] = None,
    template: Annotated[str, typer.Option(help="Starting point: default or news.")] = "default",
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Write labelloop.yaml and create the project's store."""
    target = directory or project_dir
    project = init_project(target, name, template)
    data = {"project_dir": str(project.dir), "project": project.name, "database": project.store.safe_url}
    emit(
        data,
        as_json,
        lambda d: out.print(
            f"Created project [bold]{d['project']}[/] in {d['project_dir']}\n"
            f"Next: edit {d['project_dir']}/labelloop.yaml, "
            f"then run 'labelloop ingest --project-dir {d['project_dir']}'"
        ),
    )


def _print_ingest(d: dict[str, Any]) -> None:
    table = Table(title=f"ingest run {d['run_id']}", show_header=False)
    for key in (*COUNT_KEYS, "files_read"):
        if key in d:
            table.add_row(key.replace("_", " "), f"{d[key]:,}")
    if d.get("seconds"):
        table.add_row("seconds", f"{d['seconds']:.2f}")
    out.print(table)
    for reason, n in sorted(d.get("quarantine_reasons", {}).items()):
        out.print(f"  quarantined: {n:,} x {reason}")
    for stage, figures in sorted(d.get("stages", {}).items()):
        shown = ", ".join(
            f"{k} {v:,}" if not isinstance(v, dict) else f"{k} " + ", ".join(f"{a} {b:,}" for a, b in sorted(v.items()))
            for k, v in sorted(figures.items())
        )
        if shown:
            out.print(f"  stage {stage}: {shown}")
    for source, verdict in sorted(d.get("anomalies", {}).items()):
        held = f" ({verdict['held']:,} records held: 'labelloop runs release {d['run_id']}')" if verdict["held"] else ""
        out.print(f"[bold yellow]anomalous run of source {source}[/]{held}")
        for anomaly in verdict["anomalies"]:
            out.print(f"  {anomaly['check']}: {anomaly['message']}")


@app.command()
@user_errors
def ingest(
    source: Annotated[str | None, typer.Option(help="Only this source (default: all file sources).")] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Read new data from the project's sources."""
    project = open_dir(project_dir)
    with _Bars() as bars:
        summary = run_ingest(project, source, progress=bars)
    emit(summary, as_json, _print_ingest)


@app.command()
@user_errors
def records(
    status: Annotated[
        str | None,
        typer.Option(help="accepted, duplicate, near_duplicate, quarantined, held, withdrawn, deleted"),
    ] = None,
    flag: Annotated[str | None, typer.Option(help="Only records with this flag (e.g. wrong_language).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Records per page.")] = 50,
    cursor: Annotated[int, typer.Option(min=0, help="Start after this record id (from next_cursor).")] = 0,
    payload: Annotated[bool, typer.Option(help="Include each record's payload.")] = False,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """List records, oldest first, one page at a time."""
    project = open_dir(project_dir)
    items, next_cursor = list_records(
        project, status=status, cursor=cursor, limit=limit, with_payload=payload, flag=flag
    )

    def human(d: dict[str, Any]) -> None:
        table = Table("id", "source", "source key", "status", "duplicate of", "reasons / flags")
        for r in d["records"]:
            notes = [f"{x['code']}: {x['message']}" for x in r["reasons"]] + [f["code"] for f in r["flags"]]
            dup = str(r["duplicate_of"] or "")
            if r["similarity"] is not None:
                dup += f" ({r['similarity']:.2f})"
            table.add_row(str(r["id"]), r["source"], r["source_key"], r["status"], dup, "; ".join(notes))
        out.print(table)
        if d["next_cursor"] is not None:
            out.print(f"more: --cursor {d['next_cursor']}")

    emit({"records": items, "next_cursor": next_cursor}, as_json, human)


@quarantine_app.command("release")
@user_errors
def quarantine_release(
    record_id: Annotated[int, typer.Argument(metavar="ID", help="The quarantined record's id.")],
    force: Annotated[
        bool, typer.Option(help="Ingest it even if quality rules still fail (it is flagged released_over_rule).")
    ] = False,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Re-validate a quarantined row and, if it now passes, ingest it."""
    result = release_quarantined(open_dir(project_dir), record_id, actor=actor(), force=force)
    emit(result, as_json, lambda d: out.print(f"record {d['id']}: {d['status']}"))


@quarantine_app.command("drop")
@user_errors
def quarantine_drop(
    record_id: Annotated[int, typer.Argument(metavar="ID", help="The quarantined record's id.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Drop a quarantined row: its raw content is erased, the decision is kept."""
    result = drop_quarantined(open_dir(project_dir), record_id, actor=actor())
    emit(result, as_json, lambda d: out.print(f"record {d['id']}: {d['status']}"))


@quarantine_app.command("list")
@user_errors
def quarantine_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per page.")] = 50,
    cursor: Annotated[int, typer.Option(min=0, help="Start after this record id (from next_cursor).")] = 0,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """List the rows waiting in quarantine, with their reasons."""
    items, next_cursor = list_records(open_dir(project_dir), status="quarantined", cursor=cursor, limit=limit)

    def human(d: dict[str, Any]) -> None:
        table = Table("id", "source", "source key", "reason", "message")
        for r in d["records"]:
            for x in r["reasons"]:
                table.add_row(str(r["id"]), r["source"], r["source_key"], x["code"], x["message"])
        out.print(table)
        if d["next_cursor"] is not None:
            out.print(f"more: --cursor {d['next_cursor']}")

    emit({"records": items, "next_cursor": next_cursor}, as_json, human)


@runs_app.command("release")
@user_errors
def runs_release(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The ingest run whose held records to release.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Release the records an anomalous run held: they become accepted."""
    result = decide_held_run(open_dir(project_dir), run_id, "release", actor=actor())
    emit(result, as_json, lambda d: out.print(f"run {d['run_id']}: {d['records']:,} records {d['status']}"))


@runs_app.command("drop")
@user_errors
def runs_drop(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The ingest run whose held records to drop.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Drop the records an anomalous run held: their payloads are erased."""
    result = decide_held_run(open_dir(project_dir), run_id, "drop", actor=actor())
    emit(result, as_json, lambda d: out.print(f"run {d['run_id']}: {d['records']:,} records {d['status']}"))


@consent_app.command("withdraw")
@user_errors
def consent_withdraw(
    subject: Annotated[str, typer.Option("--subject", help="The data subject's id.")],
    purpose: Annotated[list[str], typer.Option("--purpose", help="A purpose to withdraw (repeatable).")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Withdraw a data subject's consent for purposes; their records leave the queues at once."""
    result = withdraw_consent(open_dir(project_dir), subject, purpose, actor=actor())
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"consent for {', '.join(d['purposes'])} withdrawn: {d['records']:,} records changed, "
            f"{d['left_queues']:,} left the queues"
        ),
    )


@consent_app.command("erase")
@user_errors
def consent_erase(
    subject: Annotated[str, typer.Option("--subject", help="The data subject's id.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Erase a data subject's records: payloads, raw rows, signatures and predictions go; tasks are cancelled."""
    from labelloop.governance.erasure import erase_subject

    result = erase_subject(open_dir(project_dir), subject, actor=actor())
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"subject erased: {d['records']:,} records, {d['tasks_cancelled']:,} tasks cancelled, "
            f"{d['predictions']:,} predictions and {d['blobs_deleted']:,} blobs deleted"
        ),
    )


@tasks_app.command("create")
@user_errors
def tasks_create(
    strategy: Annotated[
        str,
        typer.Option(
            help="How to choose records: random, least_confidence, margin, entropy, vote_entropy, diversity, hybrid."
        ),
    ] = "random",
    budget: Annotated[int | None, typer.Option(min=1, help="At most this many tasks.")] = None,
    overlap: Annotated[int | None, typer.Option(min=1, max=50, help="Annotators per item.")] = None,
    k_max: Annotated[int | None, typer.Option(min=1, max=50, help="Up to this many when they disagree.")] = None,
    priority: Annotated[int, typer.Option(help="Higher first.")] = 0,
    ids: Annotated[str | None, typer.Option(help="Comma-separated record ids instead of a strategy.")] = None,
    source: Annotated[str | None, typer.Option(help="Only records of this source.")] = None,
    flag: Annotated[str | None, typer.Option(help="Only records with this flag (e.g. wrong_language).")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="Only records whose payload FIELD=VALUE (repeatable; VALUE as JSON or text)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the random choice.")] = None,
    model: Annotated[str | None, typer.Option(help="Predictions of this model (default: the newest).")] = None,
    model_version: Annotated[str | None, typer.Option(help="Of this version (default: the newest).")] = None,
    cost: Annotated[str | None, typer.Option(help="'length': prefer short texts at equal value.")] = None,
    freshness_half_life_days: Annotated[
        float | None, typer.Option(min=0.001, help="Halve an item's value per this many days since ingestion.")
    ] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Turn records into labeling tasks, chosen by a strategy (active learning reads the latest predictions)."""
    from labelloop.learning.service import create_tasks_by_strategy

    filters: dict[str, Any] = {}
    for item in where or []:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise InvalidInputError(f"--where takes FIELD=VALUE, got {item!r}")
        try:
            filters[field] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            filters[field] = raw
    chosen = None
    if ids is not None:
        try:
            chosen = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            raise InvalidInputError("--ids takes record ids separated by commas") from None
    result = create_tasks_by_strategy(
        open_dir(project_dir),
        strategy=strategy,
        budget=budget,
        model=model,
        model_version=model_version,
        cost=cost,
        freshness_half_life_days=freshness_half_life_days,
        seed=seed,
        actor=actor(),
        overlap=overlap,
        k_max=k_max,
        priority=priority,
        ids=chosen,
        source=source,
        flag=flag,
        where=filters or None,
    )
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"{d['created']:,} tasks created (overlap {d['overlap']}, up to {d['k_max']}, "
            f"schema version {d['schema_version']})"
        ),
    )


@tasks_app.command("list")
@user_errors
def tasks_list(
    state: Annotated[str | None, typer.Option(help="open, complete, adjudication, cancelled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    cursor: Annotated[int, typer.Option(min=0)] = 0,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """List tasks, oldest first, one page at a time."""
    from labelloop.labeling.tasks import list_tasks

    items, next_cursor = list_tasks(open_dir(project_dir), state=state, cursor=cursor, limit=limit)

    def human(d: dict[str, Any]) -> None:
        table = Table("task", "record", "state", "answers", "overlap", "leased", "priority")
        for t in d["tasks"]:
            table.add_row(
                str(t["id"]), str(t["record_id"]), t["state"], str(t["done"]),
                f"{t['overlap']}/{t['k_max']}", str(t["leased"]), str(t["priority"]),
            )  # fmt: skip
        out.print(table)
        if d["next_cursor"] is not None:
            out.print(f"more: --cursor {d['next_cursor']}")

    emit({"tasks": items, "next_cursor": next_cursor}, as_json, human)


@schema_app.command("publish")
@user_errors
def schema_publish(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Publish labelloop.yaml's label_schema as a new version (with its declared change)."""
    from labelloop.labeling.schemas import publish_schema

    result = publish_schema(open_dir(project_dir), actor=actor())
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"schema version {d['version']} published: {d['migrated']:,} annotations migrated, "
            f"{d['requeued']:,} records queued for relabeling"
        ),
    )


@schema_app.command("show")
@user_errors
def schema_show(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Show the current published label schema version."""
    from labelloop.errors import NotFoundError
    from labelloop.labeling.schemas import current_version

    project = open_dir(project_dir)
    with project.store.read() as conn:
        found = current_version(conn, project)
    if found is None:
        raise NotFoundError("no label schema published yet: 'labelloop tasks create' publishes the first")
    emit(found.public(), as_json, lambda d: out.print_json(data=d))


@audit_app.command("verify")
@user_errors
def audit_verify(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Check that no audit entry was edited, deleted or moved (exit 1 if one was)."""
    from labelloop.errors import ConflictError
    from labelloop.governance.audit import verify_audit

    result = verify_audit(open_dir(project_dir))
    if not result["ok"]:
        where = (
            f"entry {result['first_bad']}"
            if result["first_bad"] is not None
            else f"annotation {result['first_bad_annotation']}"
        )
        raise ConflictError(f"audit log broken at {where}: {result['problem']}")
    emit(
        result,
        as_json,
        lambda d: out.print(f"audit log intact: {d['entries']:,} entries and {d['annotations']:,} annotations chained"),
    )


@gold_app.command("add")
@user_errors
def gold_add(
    record_id: Annotated[int, typer.Argument(metavar="RECORD_ID", help="The record with a known answer.")],
    value: Annotated[str, typer.Option(help='The known answer as JSON, e.g. {"topic": {"label": "sport"}}.')],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Make a record a gold item."""
    from labelloop.errors import InvalidInputError
    from labelloop.labeling.gold import add_gold

    try:
        known = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"--value is not JSON: {exc}") from None
    result = add_gold(open_dir(project_dir), record_id, known, actor=actor())
    emit(result, as_json, lambda d: out.print(f"record {d['record_id']} is gold item (task {d['task_id']})"))


@gold_app.command("report")
@user_errors
def gold_report_cmd(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Gold accuracy per annotator, with its 95% interval, and who is paused."""
    from labelloop.labeling.gold import gold_report

    rows = gold_report(open_dir(project_dir))

    def human(d: dict[str, Any]) -> None:
        table = Table("annotator", "gold answers", "correct", "accuracy", "95% interval", "paused")
        for r in d["annotators"]:
            accuracy = "" if r["accuracy"] is None else f"{r['accuracy']:.0%}"
            low, high = r["interval"]
            table.add_row(
                r["user"], str(r["answers"]), str(r["correct"]), accuracy, f"{low:.2f}-{high:.2f}",
                r["paused_reason"] or "",
            )  # fmt: skip
        out.print(table)

    emit({"annotators": rows}, as_json, human)


@user_app.command("resume")
@user_errors
def user_resume(
    name: Annotated[str, typer.Argument(help="The paused annotator.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Lift a gold pause: the annotator gets leases again."""
    from labelloop.labeling.gold import resume_annotator

    result = resume_annotator(open_dir(project_dir), name, actor=actor())
    emit(result, as_json, lambda d: out.print(f"user {d['user']} resumed"))


@user_app.command("add")
@user_errors
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, steward, annotator, reviewer, adjudicator or viewer.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read a password from stdin.")] = False,
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the API token lives.")] = 90,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Create a user and print a new API token (shown only once)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    result = add_user(open_dir(project_dir), name, role, password, actor=actor(), token_days=token_days)
    emit(
        result,
        as_json,
        lambda d: out.print(f"user [bold]{d['user']}[/] ({d['role']}) created.\nAPI token (shown once): {d['token']}"),
    )


@user_app.command("token")
@user_errors
def user_token(
    name: Annotated[str, typer.Argument(help="The user.")],
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the API token lives.")] = 90,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Issue another API token for a user (shown only once)."""
    from labelloop.governance.service import new_token

    result = new_token(open_dir(project_dir), name, actor=actor(), token_days=token_days)
    emit(result, as_json, lambda d: out.print(f"API token for {d['user']} (shown once): {d['token']}"))


@user_app.command("revoke")
@user_errors
def user_revoke(
    name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.")],
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Revoke every API token of a user."""
    from labelloop.governance.service import revoke_tokens

    result = revoke_tokens(open_dir(project_dir), name, actor=actor())
    emit(result, as_json, lambda d: out.print(f"{d['revoked']} token(s) of {d['user']} revoked"))


@app.command()
@user_errors
def status(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Data-health and labeling figures of the project (the dashboard's headline)."""
    from labelloop.metrics.dashboard import kpis

    data = kpis(open_dir(project_dir))

    def human(d: dict[str, Any]) -> None:
        table = Table(title=f"project {d['project']}", show_header=False)
        table.add_row("records", f"{d['records']:,}")
        for key, value in d["by_status"].items():
            table.add_row(f"  {key}", f"{value:,}")
        table.add_row("labeled", f"{d['labeled']:,}")
        table.add_row("coverage", f"{d['coverage']:.1%}")
        if d["completeness"] is not None:
            table.add_row("tasks at their overlap", f"{d['completeness']:.1%}")
        if d["label_latency_p50_s"] is not None:
            p50, p95 = d["label_latency_p50_s"] / 3600, d["label_latency_p95_s"] / 3600
            table.add_row("ingest to label", f"p50 {p50:.1f} h, p95 {p95:.1f} h")
        if d["freshness_s"] is not None:
            table.add_row("newest label's record", f"{d['freshness_s'] / 3600:.1f} h old")
        for key, value in d["health"].items():
            table.add_row(key.replace("_", " "), f"{value:,}")
        if d["last_run"]:
            run = d["last_run"]
            table.add_row("last ingest", f"run {run['run_id']} {run['status']}, {run['age_s']:.0f} s ago")
        out.print(table)
        for item in d["anomalies"]:
            state = " (held)" if item["held"] and not item["decision"] else ""
            checks = "; ".join(a["message"] for a in item["anomalies"])
            out.print(f"[yellow]anomalous run {item['run_id']} of {item['source']}{state}:[/] {checks}")
        for person in d["paused_annotators"]:
            out.print(f"[yellow]annotator {person['user']} paused:[/] {person['reason']} ('labelloop user resume')")

    emit(data, as_json, human)


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes (the store is shared).")] = 1,
    project_dir: ProjectDir = Path(),
) -> None:
    """Serve the web app and the HTTP API."""
    import uvicorn

    from labelloop.api.app import SERVE_DIR_ENV
    from labelloop.ui.app import create_web_app

    project = open_dir(project_dir)
    err.print(
        f"serving project {project.name} on http://{host}:{port} (web app at /login, API under /api/v1, docs at /docs)"
    )
    if workers == 1:
        uvicorn.run(create_web_app(project), host=host, port=port, log_level="warning")
        return
    os.environ[SERVE_DIR_ENV] = str(project.dir)
    project.store.dispose()
    uvicorn.run(
        "labelloop.ui.app:create_app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
    )


STRATEGY_HELP = "random, least_confidence, margin, entropy, diversity or hybrid"


@app.command()
@user_errors
def demo(
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", "-C", file_okay=False, help="Keep the demo project here (for serve)."),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=0, max=100, help="labeling rounds (0: ingest only)")] = 10,
    strategy: Annotated[str, typer.Option("--strategy", help=STRATEGY_HELP)] = "hybrid",
    budget: Annotated[int, typer.Option("--budget", min=1, max=2_000, help="items labeled per round")] = 60,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOut = False,
) -> None:
    """The whole loop on BBC News with simulated annotators: ingest, select, label, aggregate, train, evaluate.

    Each round prints the labels spent, the model's accuracy and macro-F1 on a held-out test split, the
    accuracy of the final labels (majority vote and Dawid-Skene) against the true topics, agreement, and
    random sampling at the same budget; an HTML report with the curves is written next to the project.
    """
    import tempfile

    from labelloop.demo.loop import run_loop
    from labelloop.demo.report import write_report
    from labelloop.demo.run import bbc_news_folder, run_demo

    folder = project_dir if project_dir is not None else Path(tempfile.mkdtemp(prefix="labelloop-demo-"))
    with _Bars() as bars:
        result = run_demo(folder, progress=bars)
    if rounds:
        table = Table("round", "labels", f"{strategy} acc", "macro-F1", "random acc", "labels MV", "labels DS", "α")
        pending: dict[int, dict[str, Any]] = {}

        def show(kind: str, r: Any) -> None:
            pending.setdefault(r.round, {})[kind] = r
            both = pending[r.round]
            if len(both) == 2:
                main, base = both["rounds"], both["baseline"]
                alpha = "—" if main.alpha is None else f"{main.alpha:.3f}"
                table.add_row(
                    str(r.round), str(main.labels), f"{main.accuracy:.3f}", f"{main.macro_f1:.3f}",
                    f"{base.accuracy:.3f}", f"{main.label_accuracy_mv:.3f}", f"{main.label_accuracy_ds:.3f}", alpha,
                )  # fmt: skip
                err.print(
                    f"round {r.round}: {main.labels} labels, accuracy {main.accuracy:.3f} (random {base.accuracy:.3f})"
                )

        loop = run_loop(
            folder, folder / ".labelloop" / "random-baseline", bbc_news_folder(), rounds=rounds, strategy=strategy,
            budget=budget, seed=seed, progress=show,
        )  # fmt: skip
        loop["report"] = str(write_report(loop, folder / "demo-report.html"))
        result.update(loop)

    def human(d: dict[str, Any]) -> None:
        _print_ingest(d["ingest"])
        out.print(
            f"project [bold]{d['project']}[/] in {d['project_dir']}: {d['records']:,} records, "
            f"store {d['store_bytes'] / 1e6:.1f} MB"
        )
        for example in d["duplicate_examples"]:
            out.print(f"  duplicate: {example['source_key']} = {example['duplicate_of_key']}")
        for example in d["near_duplicate_examples"]:
            out.print(
                f"  near-duplicate: {example['source_key']} ~ {example['duplicate_of_key']} "
                f"(similarity {example['similarity']:.2f})"
            )
        for example in d["quarantine_examples"]:
            out.print(f"  quarantined: {example['source_key']}: {example['reason']}")
        if "rounds" in d:
            out.print(table)
            saving = d["saving"]
            if saving["share_of_random_labels"] is not None:
                out.print(
                    f"{d['strategy']} reached random sampling's final accuracy ({saving['random_final_accuracy']:.3f}, "
                    f"{saving['random_labels']} labels) with {saving['strategy_labels_to_reach_it']} labels "
                    f"({saving['share_of_random_labels']:.0%})"
                )
            else:
                out.print(
                    f"{d['strategy']} did not reach random sampling's final accuracy in {len(d['rounds'])} rounds"
                )
            out.print(f"report: {d['report']}")
        out.print(
            "browse it: echo 'a-long-password' | labelloop user add me --role admin --password-stdin "
            f"--project-dir {d['project_dir']}; labelloop serve --project-dir {d['project_dir']}; "
            "then open http://127.0.0.1:8000/login"
        )

    emit(result, as_json, human)


def main() -> None:
    """Entry point of the ``labelloop`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
