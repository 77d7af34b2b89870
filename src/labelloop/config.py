"""The project file (``labelloop.yaml``) and the process settings, validated and typed.

``load_project(dir)`` reads and validates ``labelloop.yaml``; every mistake is a
:class:`~labelloop.errors.ConfigError` whose message names the file, the key
path and what is wrong. :class:`Settings` reads ``LABELLOOP_*`` environment
variables; the database URL of a project is the settings' one when set, else
the file's, else a SQLite file inside the project folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from labelloop.domain.rules import rule_from_mapping
from labelloop.errors import ConfigError

__all__ = [
    "PROJECT_FILE",
    "FieldSpec",
    "ProjectConfig",
    "RecordSpec",
    "Settings",
    "SourceSpec",
    "load_project",
    "project_database_url",
    "render_template",
]

PROJECT_FILE = "labelloop.yaml"
DEFAULT_SQLITE_NAME = ".labelloop/labelloop.db"
DEFAULT_BLOB_DIR = ".labelloop/blobs"

FieldType = Literal["string", "integer", "number", "boolean", "list", "object", "datetime", "any"]
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field of the record schema."""

    type: FieldType = "string"
    required: bool = False
    max_length: int | None = Field(default=None, gt=0, description="characters (string) or items (list)")


class RecordSpec(_Strict):
    """What a record looks like and which fields play which role."""

    id_field: str | None = None
    text_field: str | None = None
    subject_field: str | None = None
    consent_field: str | None = None
    event_time_field: str | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    extra_fields: Literal["keep", "drop", "quarantine"] = "keep"
    hash_exclude: list[str] = Field(
        default_factory=list,
        description="payload fields left out of the content hash (id, subject and consent always are)",
    )
    max_field_chars: int = Field(default=1_000_000, gt=0, description="a longer field quarantines the row")
    blob_threshold_bytes: int = Field(default=64 * 1024, gt=0, description="larger payloads go to the blob store")

    @model_validator(mode="after")
    def _roles_are_fields(self) -> RecordSpec:
        if self.fields:
            for role in ("id_field", "text_field", "subject_field", "consent_field", "event_time_field"):
                name = getattr(self, role)
                if name is not None and name not in self.fields:
                    raise ValueError(f"{role} '{name}' is not one of the declared fields {sorted(self.fields)}")
        return self


class SourceSpec(_Strict):
    """A place records come from."""

    name: Annotated[str, Field(pattern=NAME_RE)]
    kind: Literal["jsonl", "csv", "parquet", "directory", "push"]
    path: str | None = Field(default=None, description="file, glob or folder, relative to the project folder")
    encoding: str = Field(default="auto", description="'auto' reads BOMs (UTF-8/16/32) else strict UTF-8")
    batch_size: int = Field(default=20_000, gt=0, le=1_000_000)
    # csv
    delimiter: str = ","
    quotechar: str = '"'
    # directory
    pattern: str = "**/*.txt"
    label_field: str | None = Field(default=None, description="directory: keep the sub-folder name in this field")
    stages: StagesSpec | None = Field(default=None, description="overrides the project's stages, key by key")

    @model_validator(mode="after")
    def _path_when_needed(self) -> SourceSpec:
        if self.kind != "push" and not self.path:
            raise ValueError(f"source '{self.name}' of kind {self.kind} needs a 'path'")
        if len(self.delimiter) != 1 or len(self.quotechar) != 1:
            raise ValueError("delimiter and quotechar must be one character each")
        if self.encoding != "auto":
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"unknown encoding '{self.encoding}'") from None
        return self


PiiAction = Literal["mask", "hash", "flag", "drop_record", "quarantine", "keep"]


class NearDuplicatesSpec(_Strict):
    """MinHash + LSH near-duplicate detection over the text field."""

    threshold: float = Field(default=0.8, gt=0, le=1, description="Jaccard similarity of shingle sets")
    field: str | None = Field(default=None, description="the text to compare (default: record.text_field)")
    shingle: Literal["word", "char"] = "word"
    ngram: int | None = Field(default=None, gt=0, le=32, description="shingle size (default 3 words / 5 chars)")
    num_perm: int = Field(default=64, ge=8, le=512)
    bands: int | None = Field(default=None, gt=0, description="LSH bands (default: chosen from the threshold)")


class RuleSpec(_Strict):
    """One declarative row rule; several checks may share a rule and its severity."""

    field: str
    severity: Literal["quarantine", "flag"] = "quarantine"
    name: str | None = None
    required: bool = False
    type: Literal["string", "integer", "number", "boolean", "list", "object"] | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    regex: str | None = None
    language: list[str] | str | None = None
    not_empty: bool = False
    max_markup_ratio: float | None = Field(default=None, ge=0, le=1)
    max_binary_ratio: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _has_a_check(self) -> RuleSpec:
        checks = self.model_dump(exclude={"field", "severity", "name"}, exclude_defaults=True)
        if not checks:
            raise ValueError(f"rule on '{self.field}' has no check (e.g. min_length, regex, language, not_empty)")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"rule on '{self.field}': regex {self.regex!r} does not compile: {exc}") from None
        # Everything else the domain checks (language codes, checks that fit no one type...) is an
        # error when the file is read, not at the first ingest.
        rule_from_mapping(self.model_dump(exclude_defaults=True))
        return self


class PresidioSpec(_Strict):
    """Optional Presidio recognizers (extra ``presidio``), run offline, with an action per entity."""

    entities: dict[str, PiiAction] = Field(min_length=1, description="Presidio entity -> action, e.g. US_PASSPORT")
    spacy_model: str | None = Field(default=None, description="an installed spaCy model (PERSON, LOCATION)")
    min_score: float = Field(default=0.5, ge=0, le=1)
    language: str = "en"

    @field_validator("entities", mode="before")
    @classmethod
    def _drop_alias(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "drop_record" if v == "drop" else v for k, v in value.items()}
        return value


class PiiSpec(_Strict):
    """What to do with each kind of personal data found in string fields.

    Actions: ``mask`` (typed placeholder such as ``[EMAIL]``), ``hash`` (keyed HMAC:
    equal values stay joinable, unreadable), ``flag`` (kept, record flagged),
    ``drop_record`` (not stored, counted), ``quarantine`` (held, redacted), ``keep``.
    """

    email: PiiAction | None = None
    phone: PiiAction | None = None
    card: PiiAction | None = None
    iban: PiiAction | None = None
    ip: PiiAction | None = None
    ssn: PiiAction | None = None
    url_credentials: PiiAction | None = None
    secret: PiiAction | None = None
    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB", "DE", "FR", "IN"])
    ids: Literal["hash", "keep"] = Field(
        default="hash", description="an id or subject holding personal data is replaced by its keyed hash"
    )
    presidio: PresidioSpec | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _drop_alias(cls, value: Any) -> Any:
        return "drop_record" if value == "drop" else value

    def uses_hash(self) -> bool:
        """Whether any entity (built-in or Presidio) is to be hashed, which needs a key."""
        extra = self.presidio.entities.values() if self.presidio is not None else ()
        return "hash" in self.actions().values() or "hash" in extra

    def actions(self) -> dict[str, str]:
        """Entity -> action, for the entities that are detected (``keep`` and unset are not)."""
        out: dict[str, str] = {}
        for name in ("email", "phone", "card", "iban", "ip", "ssn", "url_credentials", "secret"):
            action = getattr(self, name)
            if action is not None and action != "keep":
                out[name] = action
        return out


class ConsentSpec(_Strict):
    """Purposes a record's data subject must have agreed to, and what happens without them."""

    required: list[str] = Field(min_length=1)
    action: Literal["drop", "quarantine"] = "drop"


class AnomalySpec(_Strict):
    """Run-level checks of a source against its own recent runs."""

    history: int = Field(default=10, ge=1, le=100, description="how many earlier runs form the norm")
    min_history: int = Field(default=3, ge=1, description="no verdict before this many earlier runs")
    volume_factor: float = Field(default=3.0, gt=1, description="rows per run this many times off the median")
    null_rate_jump: float = Field(default=0.2, gt=0, le=1, description="absolute rise of a field's null share")
    length_psi: float = Field(default=0.25, gt=0, description="population stability index of text lengths")
    duplicate_share_jump: float = Field(default=0.2, gt=0, le=1)
    categorical: list[str] = Field(default_factory=list, description="fields whose new values are reported")
    min_rows: int = Field(default=20, ge=1, description="rate checks need at least this many rows in the run")
    action: Literal["mark", "hold"] = "mark"


class StagesSpec(_Strict):
    """Data-health stages, for the whole project or (under a source) for one source."""

    near_duplicates: NearDuplicatesSpec | None = None
    pii: PiiSpec | None = None
    rules: list[RuleSpec] | None = None
    consent: ConsentSpec | None = None
    anomalies: AnomalySpec | None = None


SourceSpec.model_rebuild()


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    type: Literal["single", "multi", "spans", "rating", "pairwise", "text"]
    labels: list[str] | None = None


class LabelSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    guidelines: str = ""
    questions: list[QuestionSpec] = Field(default_factory=list)


class LabelingSpec(_Strict):
    """How the queue hands out tasks and when a task is done."""

    overlap: int = Field(default=1, ge=1, le=50, description="annotators per item")
    k_max: int | None = Field(default=None, ge=1, le=50, description="up to this many when they disagree")
    agreement: Literal["majority", "unanimous", "threshold"] = Field(
        default="majority", description="when the first answers count as agreeing"
    )
    agreement_threshold: float = Field(default=0.67, gt=0, le=1, description="share agreeing, for 'threshold'")
    lease_seconds: int = Field(default=600, ge=5, le=86_400)
    max_leases_per_user: int = Field(default=3, ge=1, le=100, description="tasks one person may hold at once")
    daily_cap: int | None = Field(default=None, ge=1, description="annotations per person per day (UTC)")
    gold_rate: float = Field(default=0.0, ge=0, le=0.5, description="share of leases that are gold items")
    gold_min_answers: int = Field(default=5, ge=1, description="gold answers before anyone is paused")
    gold_min_accuracy: float = Field(
        default=0.7, gt=0, le=1, description="pause when the 95% interval's upper end falls below this"
    )
    gold_feedback: bool = Field(default=False, description="tell the annotator right after a gold item")
    rejected_to: Literal["others", "author"] = Field(
        default="others", description="who answers again after a reviewer rejects an annotation"
    )
    blind_review: bool = Field(
        default=False,
        description="hide who wrote each answer from reviewers and adjudicators (stewards and admins still see it)",
    )
    reason_codes: list[str] = Field(
        default_factory=lambda: ["wrong_label", "missed_span", "boundary_error", "guideline_unclear", "other"],
        min_length=1,
        description="the project's taxonomy of error types, for reviews",
    )

    @model_validator(mode="after")
    def _k_max_covers_overlap(self) -> LabelingSpec:
        if self.k_max is not None and self.k_max < self.overlap:
            raise ValueError(f"k_max ({self.k_max}) must be at least overlap ({self.overlap})")
        return self


class DriftSpec(_Strict):
    """What drift reports compare, and when a feature alerts."""

    numeric: list[str] = Field(default_factory=list, description="numeric payload fields")
    categorical: list[str] = Field(default_factory=list, description="categorical payload fields")
    text: bool = Field(default=True, description="compare the record's text field (length, vocabulary)")
    labels: bool = Field(default=True, description="compare the final-label distribution")
    slice_by: str | None = Field(default="source", description="'source', a payload field, or null")
    psi_alert: float = Field(default=0.2, gt=0, description="PSI at or above this alerts")
    ks_alert: float = Field(default=0.1, gt=0, le=1, description="KS statistic at or above this alerts")
    js_alert: float = Field(default=0.1, gt=0, le=1, description="Jensen-Shannon distance at or above this alerts")
    prediction_js_alert: float | None = Field(
        default=None, gt=0, le=1, description="predicted-class JS distance that alerts (default js_alert)"
    )
    prediction_psi_alert: float | None = Field(
        default=None, gt=0, description="prediction-confidence PSI that alerts (default psi_alert)"
    )
    prediction_ks_alert: float | None = Field(
        default=None, gt=0, le=1, description="prediction-confidence KS that alerts (default ks_alert)"
    )
    embedding_mmd2_alert: float | None = Field(
        default=None, gt=0, description="embedding MMD² that alerts (default 0.01)"
    )
    embedding_cosine_alert: float | None = Field(
        default=None, gt=0, le=2, description="mean-embedding cosine distance that alerts (off by default)"
    )
    min_rows: int = Field(default=50, ge=1, description="windows with fewer rows are not compared")
    min_slice_rows: int = Field(
        default=500, ge=1, description="slices with fewer rows in either window are skipped (noise below this)"
    )

    @model_validator(mode="after")
    def _fields_distinct(self) -> DriftSpec:
        named = [*self.numeric, *self.categorical]
        reserved = sorted({"label", "slice"} & set(named))
        if reserved:
            raise ValueError(f"'label' and 'slice' are the report's own columns; rename the field(s) {reserved}")
        twice = sorted({n for n in named if named.count(n) > 1})
        if twice:
            raise ValueError(f"a field is either numeric or categorical, not both: {twice}")
        return self


class QualitySpec(_Strict):
    """How final labels are decided and what the quality checks act on."""

    aggregation: Literal["majority", "dawid_skene", "adjudicated"] = Field(
        default="majority", description="how a task's final label is computed from its answers"
    )
    min_confidence: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="a final label below this confidence asks one more annotator (up to k_max), then adjudication",
    )
    label_errors_filter: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = Field(default="prune_by_noise_rate", description="confident-learning filter for suspected label errors")
    drift: DriftSpec = Field(default_factory=DriftSpec)


JOBS = ("ingest", "aggregate", "agreement", "train", "top_up", "release")


class ScheduleSpec(_Strict):
    """One job of ``labelloop worker``: what it does and when (cron syntax, UTC)."""

    job: Literal["ingest", "aggregate", "agreement", "train", "top_up", "release"]
    cron: str = Field(description="five fields: minute hour day month weekday, e.g. '*/10 * * * *'")
    source: str | None = Field(default=None, description="ingest: only this source")
    min_new_labels: int = Field(default=50, ge=1, description="train: only when this many labels are new")
    target_backlog: int = Field(default=200, ge=1, description="top_up: keep this many tasks open")
    strategy: str = Field(default="hybrid", description="top_up: how to choose (random when no predictions)")
    name: str = Field(default="release-{date}", description="release: name; {date} is the fire time's UTC date")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a cron expression '{value}': {exc}") from None
        return value

    @property
    def key(self) -> str:
        """The job's name in the run log (``ingest:inbox`` for one source)."""
        return f"{self.job}:{self.source}" if self.source else self.job


class DashboardSpec(_Strict):
    """Targets the dashboard measures coverage against."""

    class_targets: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="final labels wanted per class of the main question"
    )
    source_targets: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=dict, description="share of each source's accepted records that should be labeled"
    )


class ProjectConfig(_Strict):
    """The validated content of ``labelloop.yaml``."""

    name: Annotated[str, Field(pattern=NAME_RE)]
    database_url: str | None = None
    blob_url: str | None = None
    record: RecordSpec = Field(default_factory=RecordSpec)
    sources: list[SourceSpec] = Field(default_factory=list)
    stages: StagesSpec = Field(default_factory=StagesSpec)
    policies: dict[str, Any] = Field(default_factory=dict)
    label_schema: LabelSchemaSpec | None = None
    labeling: LabelingSpec = Field(default_factory=LabelingSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    dashboard: DashboardSpec = Field(default_factory=DashboardSpec)

    @field_validator("schedules")
    @classmethod
    def _unique_schedules(cls, value: list[ScheduleSpec]) -> list[ScheduleSpec]:
        keys = [s.key for s in value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"each job is scheduled once (one per source for ingest); repeated: {dupes}")
        return value

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, value: list[SourceSpec]) -> list[SourceSpec]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return value

    @model_validator(mode="after")
    def _stages_fit_the_record(self) -> ProjectConfig:
        record = self.record
        declared = set(record.fields)
        scopes = [("stages", self.stages)] + [(f"sources.{s.name}.stages", s.stages) for s in self.sources if s.stages]
        for where, stages in scopes:
            if stages is None:
                continue
            if stages.near_duplicates is not None and not (stages.near_duplicates.field or record.text_field):
                raise ValueError(f"{where}.near_duplicates needs record.text_field or its own 'field'")
            if stages.consent is not None and not record.consent_field:
                raise ValueError(f"{where}.consent needs record.consent_field (where a record's purposes are)")
            roles = {record.id_field, record.subject_field, record.consent_field} - {None}
            for rule in stages.rules or []:
                if declared and rule.field not in declared:
                    raise ValueError(f"{where}.rules: field '{rule.field}' is not one of the declared fields")
                if rule.field in roles:
                    raise ValueError(
                        f"{where}.rules: '{rule.field}' is an id/subject/consent field; rules check content"
                    )
            if stages.anomalies is not None and declared:
                unknown = sorted(set(stages.anomalies.categorical) - declared)
                if unknown:
                    raise ValueError(f"{where}.anomalies.categorical: {unknown} are not declared fields")
        return self

    def source(self, name: str) -> SourceSpec:
        """The source called ``name``; :class:`ConfigError` if there is none."""
        for spec in self.sources:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named '{name}' in {PROJECT_FILE} (sources: {known})", key="sources")

    def stages_for(self, source: str) -> StagesSpec:
        """The stages that apply to ``source``: the project's, with the source's own keys replacing them."""
        spec = next((s for s in self.sources if s.name == source), None)
        if spec is None or spec.stages is None:
            return self.stages
        override = {k: getattr(spec.stages, k) for k in spec.stages.model_fields_set}
        return self.stages.model_copy(update=override)

    def unsupported_policies(self) -> list[str]:
        """Policies configured here that this version cannot honour: ingestion refuses to run with them."""
        return sorted(self.policies)


class Settings(BaseSettings):
    """Process settings from ``LABELLOOP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", extra="ignore")

    database_url: str | None = None
    blob_url: str | None = None
    sqlite_busy_timeout_ms: int = 30_000
    max_push_bytes: int = 256 * 1024 * 1024
    pii_hmac_key: SecretStr | None = Field(
        default=None, description="key of the PII 'hash' action; never stored with the data"
    )


def project_database_url(project_dir: Path, config: ProjectConfig, settings: Settings) -> str:
    """The database URL for a project: env, then file, then ``.labelloop/labelloop.db``."""
    url = settings.database_url or config.database_url
    if url:
        return url
    return f"sqlite:///{(project_dir / DEFAULT_SQLITE_NAME).resolve()}"


def project_blob_url(project_dir: Path, config: ProjectConfig, settings: Settings) -> str:
    """The blob store URL: env, then file, then ``.labelloop/blobs`` in the project folder."""
    url = settings.blob_url or config.blob_url
    if url:
        if "://" not in url and not Path(url).is_absolute():
            return str((project_dir / url).resolve())
        return url
    return str((project_dir / DEFAULT_BLOB_DIR).resolve())


def _format_validation_error(path: Path, error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = ".".join(str(x) for x in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            msg = "required key is missing"
        msg = re.sub(r"^Value error, ", "", msg)
        parts.append(f"{loc}: {msg}")
    more = f" (and {len(error.errors()) - 5} more)" if len(error.errors()) > 5 else ""
    return f"{path}: " + "; ".join(parts) + more


def parse_project(text: str, path: Path) -> ProjectConfig:
    """Validate the YAML ``text`` of a project file; ``path`` is used in messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with at least 'name', got {type(data).__name__}")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc), errors=exc.errors(include_url=False)) from None


def load_project(project_dir: Path) -> ProjectConfig:
    """Read and validate ``labelloop.yaml`` in ``project_dir``."""
    path = project_dir / PROJECT_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: run 'labelloop init {project_dir}' or pass --project-dir", key="project_dir"
        )
    return parse_project(path.read_text(encoding="utf-8"), path)


TEMPLATES: dict[str, str] = {
    "default": """\
name: {name}
record:
  id_field: id
  text_field: text
  subject_field: user
  consent_field: consent
  fields:
    id: {{type: string, required: true}}
    text: {{type: string, required: true}}
    user: {{type: string}}
    consent: {{type: list}}
sources:
  - name: inbox
    kind: jsonl            # also: csv, parquet, directory, push
    path: data/*.jsonl
  - name: api
    kind: push             # POST /api/v1/projects/{name}/records
label_schema:
  guidelines: "Pick the main topic."
  questions:
    - {{name: topic, type: single, labels: [business, entertainment, politics, sport, tech]}}
""",
    "news": """\
name: {name}
record:
  text_field: text
  fields:
    text: {{type: string, required: true}}
    topic: {{type: string}}
sources:
  - name: bbc
    kind: directory        # one folder per topic; the folder name goes to 'topic'
    path: {data_path}
    pattern: "*/*.txt"
    label_field: topic
    encoding: utf-8
stages:
  near_duplicates: {{threshold: 0.8}}
  pii: {{email: mask, phone: mask, card: mask, iban: mask, ip: mask, ssn: mask, url_credentials: mask, secret: mask}}
  rules:
    - {{field: text, not_empty: true, max_markup_ratio: 0.3, max_binary_ratio: 0.05}}
    - {{field: text, language: [en], severity: flag}}
  anomalies: {{categorical: [topic]}}
label_schema:
  guidelines: "Pick the main topic of the article."
  questions:
    - {{name: topic, type: single, labels: [business, entertainment, politics, sport, tech]}}
""",
}


def render_template(template: str, name: str, **values: str) -> str:
    """The text of a new ``labelloop.yaml`` from one of :data:`TEMPLATES`."""
    if template not in TEMPLATES:
        raise ConfigError(f"unknown template '{template}' (templates: {', '.join(sorted(TEMPLATES))})")
    if not re.match(NAME_RE, name):
        raise ConfigError(f"project name '{name}' must match {NAME_RE}")
    return TEMPLATES[template].format(name=name, data_path=values.get("data_path", "data"))
