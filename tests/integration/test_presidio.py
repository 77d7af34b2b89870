"""The optional Presidio extra, offline: pattern recognizers plus a spaCy pipeline saved on disk
(a real ``spacy.load``-able folder built here with an entity ruler; nothing is downloaded)."""

from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
import spacy
import yaml

from labelloop.config import Settings
from labelloop.errors import ConfigError
from labelloop.ingest.quarantine import list_records
from labelloop.ingest.service import push_records
from labelloop.project import Project, open_project
from tests.conftest import DEFAULT_CONFIG

BITCOIN = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
NHS = "943 476 5919"


@pytest.fixture
def ner_model(tmp_path: Path) -> Path:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": [{"LOWER": "ada"}, {"LOWER": "lovelace"}]},
            {"label": "GPE", "pattern": "London"},
        ]
    )
    folder = tmp_path / "ner-model"
    nlp.to_disk(folder)
    return folder


def open_with(tmp_path: Path, db_url: str, presidio: dict[str, Any]) -> Project:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["stages"] = {"pii": {"email": "mask", "presidio": presidio}}
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config))
    return open_project(folder, Settings(database_url=db_url, pii_hmac_key="x" * 32))  # type: ignore[arg-type]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test (Presidio must stay offline)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_presidio_patterns_and_spacy_entities_offline(
    tmp_path: Path, db_url: str, ner_model: Path, no_network: None
) -> None:
    presidio = {
        "entities": {"CRYPTO": "mask", "UK_NHS": "quarantine", "PERSON": "hash", "LOCATION": "flag"},
        "spacy_model": str(ner_model),
    }
    project = open_with(tmp_path, db_url, presidio)
    try:
        rows = [
            {"id": "p1", "text": f"Ada Lovelace paid to {BITCOIN} from London, mail ada@example.org"},
            {"id": "p2", "text": f"NHS number {NHS} on file"},
            {"id": "p3", "text": "ada lovelace again"},
        ]
        summary = push_records(project, orjson.dumps(rows))
        assert (summary["new"], summary["quarantined"], summary["flagged"]) == (2, 1, 1)
        page, _ = list_records(project, with_payload=True)
        by_key = {r["source_key"]: r for r in page}
        text = by_key["p1"]["payload"]["text"]
        assert BITCOIN not in text and "[CRYPTO]" in text
        assert "Lovelace" not in text and "[PERSON:" in text
        assert "[EMAIL]" in text and "London" in text  # LOCATION is only flagged
        assert [f["code"] for f in by_key["p1"]["flags"]] == ["pii:LOCATION"]
        # the same person, written differently, hashes the same (joinable)
        token = text.split()[0]
        assert token == by_key["p3"]["payload"]["text"].split()[0]
        assert by_key["p2"]["status"] == "quarantined"
        assert NHS not in orjson.dumps(by_key["p2"]).decode()
    finally:
        project.store.dispose()


def test_presidio_refuses_unknown_entities_and_missing_models(tmp_path: Path, db_url: str) -> None:
    project = open_with(tmp_path, db_url, {"entities": {"NOT_AN_ENTITY": "mask"}})
    try:
        with pytest.raises(ConfigError, match="unknown entities"):
            push_records(project, orjson.dumps([{"id": "a", "text": "x"}]))
    finally:
        project.store.dispose()
    project = open_with(tmp_path, db_url, {"entities": {"PERSON": "mask"}, "spacy_model": "xx_not_installed_sm"})
    try:
        with pytest.raises(ConfigError, match="never downloads"):
            push_records(project, orjson.dumps([{"id": "a", "text": "x"}]))
    finally:
        project.store.dispose()
