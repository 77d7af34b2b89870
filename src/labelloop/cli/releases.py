"""Release commands: ``release create|list|show|diff`` and ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from labelloop.cli.common import JsonOut, ProjectDir, actor, emit, err, open_dir, out, user_errors

__all__ = ["register"]

release_app = typer.Typer(help="Immutable, content-addressed dataset releases.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``release`` and ``export`` to the ``labelloop`` app."""
    app.add_typer(release_app, name="release")
    app.command("export")(export_cmd)


def _splits(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.get("splits", {}).items())


@release_app.command("create")
@user_errors
def create_cmd(
    name: Annotated[str, typer.Argument(help="The release's name (letters, digits, '.', '_', '-').")],
    train: Annotated[
        float | None, typer.Option("--train", min=0, max=1, help="default 0.8 (or the last release's)")
    ] = None,
    validation: Annotated[float | None, typer.Option("--validation", min=0, max=1, help="default 0.1")] = None,
    test: Annotated[float | None, typer.Option("--test", min=0, max=1, help="default 0.1")] = None,
    salt: Annotated[
        str | None, typer.Option("--salt", help="keys the split hash (default: the last release's)")
    ] = None,
    stratify: Annotated[
        bool | None,
        typer.Option(
            "--stratify/--no-stratify",
            help="keep each class of the main question in the split ratios (new items only; released ones keep "
            "their split); default: the last release's choice",
        ),
    ] = None,
    allow_resplit: Annotated[
        bool,
        typer.Option(
            "--allow-resplit",
            help="allow moving earlier validation/test records into train (with --stratify: assign every item afresh)",
        ),
    ] = False,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Snapshot the final labels and their records as an immutable release with deterministic splits."""
    from labelloop.releases.service import create_release

    result = create_release(
        open_dir(project_dir), name, train=train, validation=validation, test=test, salt=salt, stratify=stratify,
        allow_resplit=allow_resplit, actor=actor(),
    )  # fmt: skip
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"release {d['name']}: {d['records']:,} records ({_splits(d)}); manifest {d['manifest_sha256']}"
        ),
    )


@release_app.command("list")
@user_errors
def list_cmd(project_dir: ProjectDir = Path(), as_json: JsonOut = False) -> None:
    """Every release of the project, oldest first."""
    from labelloop.releases.service import list_releases

    def human(d: dict[str, Any]) -> None:
        table = Table("name", "records", "splits", "manifest sha256", "by")
        for r in d["releases"]:
            table.add_row(r["name"], f"{r['records']:,}", _splits(r), r["manifest_sha256"][:16], r["created_by"])
        out.print(table)

    emit({"releases": list_releases(open_dir(project_dir))}, as_json, human)


@release_app.command("show")
@user_errors
def show_cmd(
    name: str,
    record: Annotated[int | None, typer.Option("--record", help="one row and its lineage back to the source")] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """A release's parameters, splits and classes (or one of its rows with its lineage)."""
    from labelloop.releases.service import get_release, release_row

    project = open_dir(project_dir)
    if record is not None:
        row = release_row(project, name, record)
        emit(row, as_json, lambda d: out.print_json(data=d, default=str))
        return

    def human(d: dict[str, Any]) -> None:
        out.print(f"release {d['name']}: {d['records']:,} records ({_splits(d)}); manifest {d['manifest_sha256']}")
        table = Table("class", "train", "validation", "test")
        for label, counts in d["classes"].items():
            table.add_row(label, *(f"{counts[s]:,}" for s in ("train", "validation", "test")))
        out.print(table)

    emit(get_release(project, name), as_json, human)


@release_app.command("diff")
@user_errors
def diff_cmd(
    old: Annotated[str, typer.Argument(help="the earlier release")],
    new: Annotated[str, typer.Argument(help="the later release")],
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="at most N items per list (counts stay whole)")
    ] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Records added, removed and relabeled from release OLD to NEW, per class."""
    from labelloop.releases.service import diff_releases

    def human(d: dict[str, Any]) -> None:
        c = d["counts"]
        out.print(
            f"{d['from']} -> {d['to']}: {c['added']:,} added, {c['removed']:,} removed, "
            f"{c['relabeled']:,} relabeled, {c['unchanged']:,} unchanged"
        )
        table = Table("change", "class", "records")
        for kind, per in d["by_class"].items():
            for label, n in per.items():
                table.add_row(kind, label, f"{n:,}")
        out.print(table)

    emit(diff_releases(open_dir(project_dir), old, new, limit=limit), as_json, human)


@user_errors
def export_cmd(
    release: Annotated[str, typer.Argument(help="the release's name")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or parquet")] = "parquet",
    out_path: Annotated[
        Path, typer.Option("--out", help="the file to write (replaced atomically when complete)")
    ] = Path("release.parquet"),
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Write a release with its lineage columns, streaming, verified row by row against its manifest.

    Rows whose record was erased since the release are left out (and counted as ``erased_rows``).
    """
    from labelloop.releases.service import export_release

    project = open_dir(project_dir)
    with Progress(
        TextColumn("exporting {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task(release, total=None)
        result = export_release(
            project, release, fmt=fmt, out=out_path,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip

    def human(d: dict[str, Any]) -> None:
        out.print(f"{d['records']:,} records of {d['release']} written to {d['path']} (sha256 {d['sha256']})")
        if d["erased_rows"]:
            out.print(f"{d['erased_rows']:,} rows left out: their records were erased since the release")

    emit(result, as_json, human)
