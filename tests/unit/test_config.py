"""Unit tests for labelloop.yaml parsing and settings (labelloop.config)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from labelloop.config import ProjectConfig, Settings, load_project, parse_project, render_template
from labelloop.errors import ConfigError

FILE = Path("labelloop.yaml")

MINIMAL = """\
name: tickets
record:
  id_field: id
  text_field: text
  subject_field: user
  consent_field: consent
  fields:
    id: {type: string, required: true}
    text: {type: string, required: true}
    user: {type: string}
    consent: {type: list}
sources:
  - name: inbox
    kind: jsonl            # also: csv, parquet, directory, push
    path: data/*.jsonl
stages:
  near_duplicates: {threshold: 0.8}
  pii: {email: mask, phone: mask, card: mask, iban: mask, ip: mask, ssn: mask, secret: mask}
  rules:
    - {field: text, min_length: 1, severity: quarantine}
label_schema:
  guidelines: "Pick the main topic."
  questions:
    - {name: topic, type: single, labels: [business, entertainment, politics, sport, tech]}
"""


def minimal_data() -> dict[str, Any]:
    return yaml.safe_load(MINIMAL)


def parse_data(data: object) -> ProjectConfig:
    return parse_project(yaml.safe_dump(data, sort_keys=False), FILE)


def config_error(data: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_data(data)
    return info.value


def test_minimal_file_parses() -> None:
    config = parse_project(MINIMAL, FILE)
    assert config.name == "tickets"
    assert config.record.id_field == "id"
    assert config.record.text_field == "text"
    assert config.record.subject_field == "user"
    assert config.record.consent_field == "consent"
    assert config.record.fields["id"].required is True
    assert config.record.fields["consent"].type == "list"
    assert config.record.fields["user"].required is False
    assert config.record.extra_fields == "keep"
    [source] = config.sources
    assert (source.name, source.kind, source.path) == ("inbox", "jsonl", "data/*.jsonl")
    assert source.encoding == "auto"
    assert config.source("inbox") is source
    assert config.stages.near_duplicates is not None
    assert config.stages.near_duplicates.threshold == 0.8
    assert config.stages.pii is not None
    assert config.stages.pii.email == "mask"
    assert config.stages.rules is not None
    assert config.stages.rules[0].field == "text"
    assert config.label_schema is not None
    assert config.label_schema.questions[0].labels == ["business", "entertainment", "politics", "sport", "tech"]


def test_minimal_file_stages_parse_into_their_settings() -> None:
    config = parse_project(MINIMAL, FILE)
    stages = config.stages_for("inbox")
    assert stages.near_duplicates is not None and stages.near_duplicates.threshold == 0.8
    assert stages.pii is not None
    assert stages.pii.actions() == dict.fromkeys(["email", "phone", "card", "iban", "ip", "ssn", "secret"], "mask")
    assert stages.rules is not None and stages.rules[0].min_length == 1


def test_a_source_overrides_stages_key_by_key() -> None:
    data = minimal_data()
    data["sources"][0]["stages"] = {"rules": [{"field": "text", "max_length": 10, "severity": "flag"}]}
    config = parse_data(data)
    stages = config.stages_for("inbox")
    assert stages.rules is not None and stages.rules[0].max_length == 10
    assert stages.pii is not None  # not overridden: the project's
    assert config.stages_for("nope") == config.stages


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ({"rules": [{"field": "text"}]}, "has no check"),
        ({"rules": [{"field": "text", "regex": "("}]}, "does not compile"),
        ({"rules": [{"field": "text", "language": ["xx"]}]}, "unsupported language"),
        ({"rules": [{"field": "nope", "min_length": 1}]}, "not one of the declared fields"),
        ({"rules": [{"field": "user", "min_length": 1}]}, "id/subject/consent field"),
        ({"pii": {"emial": "mask"}}, "unknown key"),
        ({"pii": {"email": "erase"}}, "stages.pii.email"),
        ({"consent": {"required": []}}, "stages.consent.required"),
        ({"anomalies": {"categorical": ["nope"]}}, "not declared fields"),
    ],
)
def test_bad_stage_settings_are_config_errors(stages: dict[str, Any], message: str) -> None:
    data = minimal_data()
    data["stages"] = stages
    with pytest.raises(ConfigError) as info:
        parse_data(data)
    assert message in str(info.value)


def test_pii_drop_is_an_alias_of_drop_record() -> None:
    data = minimal_data()
    data["stages"] = {"pii": {"email": "drop", "phone": "keep"}}
    stages = parse_data(data).stages
    assert stages.pii is not None and stages.pii.actions() == {"email": "drop_record"}


def test_unknown_source_name_is_config_error() -> None:
    config = parse_project(MINIMAL, FILE)
    with pytest.raises(ConfigError, match="inbox"):
        config.source("nope")


def test_unknown_top_level_key() -> None:
    data = minimal_data()
    data["sorces"] = []
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "sorces" in str(err)
    assert "unknown key" in str(err)


def test_unknown_nested_key_names_path() -> None:
    data = minimal_data()
    data["record"]["fields"]["id"]["requird"] = True
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "record.fields.id.requird" in str(err)
    assert "unknown key" in str(err)


def test_bad_source_kind() -> None:
    data = minimal_data()
    data["sources"][0]["kind"] = "xml"
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "sources.0.kind" in str(err)


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet", "directory"])
def test_source_without_path(kind: str) -> None:
    data = minimal_data()
    data["sources"][0] = {"name": "inbox", "kind": kind}
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "sources.0" in str(err)
    assert "path" in str(err)


def test_push_source_needs_no_path() -> None:
    data = minimal_data()
    data["sources"].append({"name": "api", "kind": "push"})
    config = parse_data(data)
    assert [s.kind for s in config.sources] == ["jsonl", "push"]


def test_duplicate_source_names() -> None:
    data = minimal_data()
    data["sources"].append({"name": "inbox", "kind": "push"})
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "sources" in str(err)
    assert "inbox" in str(err)
    assert "unique" in str(err)


@pytest.mark.parametrize("role", ["id_field", "text_field", "subject_field", "consent_field", "event_time_field"])
def test_role_field_not_declared(role: str) -> None:
    data = minimal_data()
    data["record"][role] = "body"
    err = config_error(data)
    assert "labelloop.yaml" in str(err)
    assert "record" in str(err)
    assert role in str(err)
    assert "body" in str(err)


def test_role_fields_free_when_no_fields_declared() -> None:
    config = parse_data({"name": "loose", "record": {"text_field": "body"}})
    assert config.record.text_field == "body"


@pytest.mark.parametrize(
    "text",
    [
        "name: tickets\nrecord: [unclosed\n",
        "name: tickets\n  bad: indent\n",
        "name: [a, b\nsources: x\n",
    ],
)
def test_invalid_yaml(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_project(text, FILE)
    message = str(info.value)
    assert "labelloop.yaml" in message
    assert "line" in message
    assert "YAML" in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_not_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError, match=r"labelloop\.yaml") as info:
        parse_project(text, FILE)
    assert "mapping" in str(info.value)


def test_missing_name() -> None:
    data = minimal_data()
    del data["name"]
    err = config_error(data)
    assert "name" in str(err)
    assert "required key is missing" in str(err)


@pytest.mark.parametrize("name", ["has space", "-leading", "x" * 65, ""])
def test_bad_project_name(name: str) -> None:
    data = minimal_data()
    data["name"] = name
    err = config_error(data)
    assert "name" in str(err)


def test_unknown_encoding() -> None:
    data = minimal_data()
    data["sources"][0]["encoding"] = "no-such-codec"
    err = config_error(data)
    assert "sources.0" in str(err)
    assert "no-such-codec" in str(err)


def test_error_message_uses_given_path() -> None:
    other = Path("/somewhere/else/labelloop.yaml")
    with pytest.raises(ConfigError, match=re.escape(str(other))):
        parse_project("name: tickets\nbogus: 1\n", other)


def test_load_project_reads_file(tmp_path: Path) -> None:
    (tmp_path / "labelloop.yaml").write_text(MINIMAL, encoding="utf-8")
    config = load_project(tmp_path)
    assert config.name == "tickets"
    assert config.sources[0].name == "inbox"


def test_load_project_without_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "labelloop.yaml") in message
    assert "not found" in message


def test_load_project_error_names_real_file(tmp_path: Path) -> None:
    (tmp_path / "labelloop.yaml").write_text("name: tickets\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(tmp_path / "labelloop.yaml") in str(info.value)
    assert "bogus" in str(info.value)


@pytest.mark.parametrize("template", ["default", "news"])
def test_templates_parse(template: str) -> None:
    text = render_template(template, "my-project", data_path="corpus/bbc")
    config = parse_project(text, FILE)
    assert config.name == "my-project"
    assert config.sources
    assert config.unsupported_policies() == []
    assert config.label_schema is not None
    assert config.label_schema.questions[0].name == "topic"


def test_default_template_content() -> None:
    config = parse_project(render_template("default", "tickets"), FILE)
    assert [(s.name, s.kind) for s in config.sources] == [("inbox", "jsonl"), ("api", "push")]
    assert config.record.id_field == "id"


def test_news_template_uses_data_path() -> None:
    config = parse_project(render_template("news", "bbc", data_path="corpus/bbc"), FILE)
    [source] = config.sources
    assert (source.kind, source.path, source.label_field) == ("directory", "corpus/bbc", "topic")


def test_render_template_rejects_unknown_template_and_bad_name() -> None:
    with pytest.raises(ConfigError, match="unknown template"):
        render_template("nope", "tickets")
    with pytest.raises(ConfigError, match="project name"):
        render_template("default", "bad name")


def test_settings_reads_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELLOOP_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("LABELLOOP_SQLITE_BUSY_TIMEOUT_MS", "1234")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.sqlite_busy_timeout_ms == 1234


def test_settings_default_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("LABELLOOP_BLOB_URL", raising=False)
    settings = Settings()
    assert settings.database_url is None
    assert settings.blob_url is None
