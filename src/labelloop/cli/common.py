"""What every ``labelloop`` command shares: the consoles, the common options, JSON output and
the user-error boundary (one line on stderr, exit 1, never a traceback)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from labelloop.errors import LabelloopError
from labelloop.project import Project, open_project

__all__ = ["F", "JsonOut", "ProjectDir", "actor", "emit", "err", "open_dir", "out", "user_errors"]

err = Console(stderr=True)
out = Console()

ProjectDir = Annotated[
    Path, typer.Option("--project-dir", "-C", help="The project folder (holds labelloop.yaml).", file_okay=False)
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")]

F = TypeVar("F", bound=Callable[..., Any])


def emit(data: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    """Print ``data`` as one JSON object, or in human form."""
    if as_json:
        sys.stdout.write(orjson.dumps(data, default=str).decode() + "\n")
        sys.stdout.flush()
    else:
        human(data)


def user_errors(func: F) -> F:
    """Turn labelloop errors into one line on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabelloopError as exc:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted; run the command again to resume where it stopped")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("LABELLOOP_DEBUG"):
                raise
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (set LABELLOOP_DEBUG=1 for the traceback)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def open_dir(project_dir: Path) -> Project:
    """Open the project in ``project_dir`` (migrating its store)."""
    return open_project(project_dir)


def actor() -> str:
    """Who runs the command, as the audit log names them."""
    return "cli:" + (os.environ.get("USER") or os.environ.get("USERNAME") or "unknown")
