"""Learning commands: ``predictions import`` and ``train``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from labelloop.cli.common import JsonOut, ProjectDir, emit, open_dir, out, user_errors
from labelloop.errors import InvalidInputError

__all__ = ["register"]

predictions_app = typer.Typer(help="A model's predictions per record (for active learning).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the learning commands to the ``labelloop`` app."""
    app.add_typer(predictions_app, name="predictions")
    app.command("train")(train_cmd)


def _rows(path: Path, model: str | None, version: str | None) -> list[Any]:
    """Rows of a JSONL or Parquet file; a line that is not JSON stays as a row the service rejects with its number."""
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows: list[Any] = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InvalidInputError(f"cannot read {path} as Parquet: {exc}") from None
    else:
        rows = []
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                rows.append(None)
    for row in rows:
        if isinstance(row, dict):
            if model and not row.get("model"):
                row["model"] = model
            if version and not row.get("model_version"):
                row["model_version"] = version
    return rows


@predictions_app.command("import")
@user_errors
def predictions_import(
    path: Annotated[Path, typer.Argument(help="JSONL or Parquet: record_id, model, model_version, probs, embedding?")],
    model: Annotated[str | None, typer.Option(help="Model name for rows that have none.")] = None,
    model_version: Annotated[str | None, typer.Option(help="Version for rows that have none.")] = None,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Store a model's class probabilities (and optional embeddings) per record; bad rows are listed and skipped."""
    from labelloop.learning.service import import_predictions

    result = import_predictions(open_dir(project_dir), _rows(path, model, model_version))

    def human(d: dict[str, Any]) -> None:
        out.print(f"{d['imported']:,} predictions imported, {d['rejected_count']:,} rejected")
        for r in d["rejected"][:10]:
            out.print(f"  row {r['row']}: {r['reason']}")

    emit(result, as_json, human)


@user_errors
def train_cmd(
    seed: Annotated[int, typer.Option("--seed")] = 0,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Train the baseline model on the final labels and score the records that have no task yet."""
    from labelloop.learning.service import train_baseline

    result = train_baseline(open_dir(project_dir), seed=seed)
    emit(
        result,
        as_json,
        lambda d: out.print(
            f"{d['model']} {d['model_version']}: trained on {d['trained_on']:,} labels, scored {d['scored']:,} records"
        ),
    )
