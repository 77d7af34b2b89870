"""The loop the product exists for, on BBC News with simulated annotators.

Each round runs the real code paths: tasks are created from a selection strategy
(`create_tasks` with the selection recorded), simulated annotators lease and
answer them through the queue (`next_task` / `submit_annotation`), the answers
are aggregated into final labels (majority vote and Dawid-Skene, both measured
against the true topics), agreement is computed, the final labels are cut as a
release, and the baseline model is trained on them and evaluated on a held-out
test split, then scores the unlabeled pool for the next round. A second project runs random sampling at
the same budget, so every round has its baseline.

The simulated annotators have a confusion matrix each: three careful people
whose accuracy differs per class, one careless (about half right), and one
adversarial (mostly answers the next topic over). Dawid-Skene learns those
matrices; majority vote cannot.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, f1_score

from labelloop.errors import ConfigError
from labelloop.governance.service import Principal, add_user, authenticate_token, new_token
from labelloop.ingest.service import run_ingest
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.schemas import configured_schema
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.baseline import MODEL_NAME, text_classifier
from labelloop.learning.service import record_training
from labelloop.learning.strategies import select
from labelloop.project import Project, init_project, open_project
from labelloop.quality import service as quality
from labelloop.releases.service import create_release
from labelloop.store import repo

__all__ = ["DEMO_STRATEGIES", "Annotator", "RoundResult", "demo_project", "run_loop", "simulated_annotators"]

DEMO_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "diversity", "hybrid")
#: Share of the records held out as the test split (by a hash of the record id: stable).
TEST_SHARE = 0.2


@dataclass(frozen=True)
class Annotator:
    """A simulated person: row ``i`` of ``confusion`` is how they answer an item whose true class is ``i``."""

    name: str
    kind: str
    confusion: np.ndarray[Any, np.dtype[np.float64]]

    def answer(self, truth: int, rng: np.random.Generator) -> int:
        """A label index drawn from this person's confusion row for ``truth``."""
        return int(rng.choice(len(self.confusion), p=self.confusion[truth]))


def simulated_annotators(k: int, seed: int) -> list[Annotator]:
    """Three careful annotators (per-class accuracy .70-.97), one careless (.45), one adversarial."""
    rng = np.random.default_rng(seed)
    people: list[Annotator] = []
    for i in range(3):
        accuracy = rng.uniform(0.70, 0.97, size=k)
        matrix = np.empty((k, k))
        for t in range(k):
            wrong = rng.dirichlet(np.ones(k - 1)) * (1 - accuracy[t])
            matrix[t] = np.insert(wrong, t, accuracy[t])
        people.append(Annotator(f"careful{i + 1}", "careful", matrix))
    careless = np.full((k, k), 0.55 / (k - 1))
    np.fill_diagonal(careless, 0.45)
    people.append(Annotator("careless", "careless", careless))
    adversarial = np.full((k, k), 0.05 / (k - 2)) if k > 2 else np.zeros((k, k))
    for t in range(k):
        adversarial[t, t] = 0.20
        adversarial[t, (t + 1) % k] = 0.75
    people.append(Annotator("adversarial", "adversarial", adversarial / adversarial.sum(axis=1, keepdims=True)))
    return people


@dataclass(frozen=True)
class RoundResult:
    """One round's figures (the keys of the ``labelloop demo --json`` contract, and a few more)."""

    round: int
    labels: int
    annotations: int
    accuracy: float
    macro_f1: float
    label_accuracy_mv: float
    label_accuracy_ds: float
    alpha: float | None
    release: str
    manifest_sha256: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _in_test(record_id: int, seed: int) -> bool:
    digest = hashlib.blake2b(f"split:{seed}:{record_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < TEST_SHARE


@dataclass
class _Corpus:
    ids: list[int]
    texts: list[str]
    truth: list[int]
    test: list[int]  # positions
    pool: list[int]  # positions


def _corpus(project: Project, labels: Sequence[str], seed: int) -> _Corpus:
    """The accepted records with their text and true topic (the folder they came from)."""
    from labelloop.store import quality as qrepo

    with project.store.read() as conn:
        rows = qrepo.window_records(conn, project.id, 0.0, float("inf"))
    ids: list[int] = []
    texts: list[str] = []
    truth: list[int] = []
    field = project.config.record.text_field or "text"
    for row in rows:
        payload = project.payload(row["payload"], row["blob_ref"])
        topic = str(payload.get("topic", ""))
        # the corpus names a folder "sports" where the schema says "sport"
        index = next((i for i, label in enumerate(labels) if topic == label or topic.startswith(label)), None)
        if index is None:
            continue
        ids.append(int(row["id"]))
        texts.append(str(payload.get(field, "")))
        truth.append(index)
    test = [i for i, rid in enumerate(ids) if _in_test(rid, seed)]
    held = set(test)
    return _Corpus(ids, texts, truth, test, [i for i in range(len(ids)) if i not in held])


def demo_project(folder: Path, data: Path, name: str) -> Project:
    """A demo project in ``folder`` (reused when it exists) set up for the simulated crowd."""
    if (folder / "labelloop.yaml").exists():
        project = open_project(folder)
        if project.config.name != name:
            raise ConfigError(f"{folder} holds project '{project.config.name}', not the demo; choose another folder")
        return project
    init_project(folder, name, template="news", data_path=str(data))
    config = yaml.safe_load((folder / "labelloop.yaml").read_text())
    # three answers an item; any answers complete it (aggregation decides, not the queue's rule)
    config["labeling"] = {
        "overlap": 3,
        "k_max": 3,
        "agreement": "threshold",
        "agreement_threshold": 0.01,
        "max_leases_per_user": 1,
    }
    config["quality"] = {"aggregation": "dawid_skene"}
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return open_project(folder)


def _people(project: Project, annotators: Sequence[Annotator]) -> list[tuple[Principal, Annotator]]:
    """The simulated annotators as project members (a resumed project gets a fresh token for each)."""
    with project.store.read() as conn:
        existing = set(repo.user_names(conn, project.id).values())
    out = []
    for person in annotators:
        if person.name in existing:
            token = new_token(project, person.name, actor="demo", token_days=1)["token"]
        else:
            token = add_user(project, person.name, "annotator", token_days=1)["token"]
        out.append((authenticate_token(project.store, token), person))
    return out


def _annotate(
    project: Project,
    people: Sequence[tuple[Principal, Annotator]],
    truth_of: Mapping[int, int],
    labels: Sequence[str],
    rng: np.random.Generator,
) -> int:
    """Everyone works the queue until nothing is due; returns how many answers were submitted."""
    submitted = 0
    while True:
        progressed = False
        for position in rng.permutation(len(people)):
            principal, person = people[int(position)]
            lease = next_task(project, principal)
            if lease is None:
                continue
            record_id = int(lease["record"]["id"])
            label = labels[person.answer(truth_of[record_id], rng)]
            submit_annotation(
                project, principal, lease["task_id"], lease["lease_id"], {"topic": {"label": label}},
                duration_ms=int(rng.integers(2_000, 30_000)),
            )  # fmt: skip
            submitted += 1
            progressed = True
        if not progressed:
            return submitted


def _label_accuracy(
    project: Project, truth_of: Mapping[int, int], labels: Sequence[str]
) -> tuple[float, dict[int, int]]:
    rows, _ = quality.final_labels(project, limit=10_000_000)
    final = {int(r["record_id"]): labels.index(r["value"]["label"]) for r in rows if r["question"] == "topic"}
    right = sum(final[rid] == truth_of[rid] for rid in final)
    return (right / len(final) if final else 0.0), final


class _Run:
    """One project's rounds: the chosen strategy, or the random baseline."""

    def __init__(self, project: Project, corpus: _Corpus, labels: Sequence[str], strategy: str, seed: int) -> None:
        self.project = project
        self.corpus = corpus
        self.labels = list(labels)
        self.strategy = strategy
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.people = _people(project, simulated_annotators(len(labels), seed))
        self.truth_of = {corpus.ids[i]: corpus.truth[i] for i in range(len(corpus.ids))}
        self.labeled: set[int] = set()  # positions in the corpus
        self.annotations = 0
        self.model: Any = None
        self._resume()

    def _resume(self) -> None:
        """A project that ran rounds before continues from there: its tasked records count as labeled,
        and the model is trained on its final labels before the next round chooses."""
        from sqlalchemy import text

        with self.project.store.read() as conn:
            tasked = {int(r[0]) for r in conn.execute(text("SELECT record_id FROM tasks"))}
            self.annotations = int(conn.execute(text("SELECT COUNT(*) FROM annotations")).scalar_one())
        position = {rid: i for i, rid in enumerate(self.corpus.ids)}
        self.labeled = {position[rid] for rid in tasked if rid in position}
        if self.labeled:
            _, final = _label_accuracy(self.project, self.truth_of, self.labels)
            self._train(final)

    def _train(self, final: Mapping[int, int]) -> None:
        corpus = self.corpus
        trained = [i for i in sorted(self.labeled) if corpus.ids[i] in final]
        if len({final[corpus.ids[i]] for i in trained}) < 2:
            self.model = None  # nothing to learn yet: the next round samples at random
            return
        self.model = text_classifier(self.seed)
        self.model.fit([corpus.texts[i] for i in trained], [final[corpus.ids[i]] for i in trained])

    def round(self, number: int, budget: int) -> RoundResult:
        started = time.perf_counter()
        corpus = self.corpus
        unlabeled = [i for i in corpus.pool if i not in self.labeled]
        chosen, reason = self._choose(unlabeled, budget, number)
        if chosen:
            create_tasks(self.project, ids=[corpus.ids[i] for i in chosen], reason=reason, actor="demo")
        self.labeled.update(chosen)
        self.annotations += _annotate(self.project, self.people, self.truth_of, self.labels, self.rng)
        quality.aggregate(self.project, method="majority", actor="demo")
        accuracy_mv, _ = _label_accuracy(self.project, self.truth_of, self.labels)
        quality.aggregate(self.project, method="dawid_skene", actor="demo")
        accuracy_ds, final = _label_accuracy(self.project, self.truth_of, self.labels)
        # each round's labels become an immutable release (what the model of this round trains on)
        release = create_release(self.project, f"labels-{len(self.labeled):05d}", actor="demo")
        alpha = quality.agreement(self.project, bootstrap=0, window=None, actor="demo")["krippendorff_alpha"]
        self._train(final)
        if self.model is None:
            predicted = np.zeros(len(corpus.test), dtype=np.int64)
        else:
            predicted = self.model.predict([corpus.texts[i] for i in corpus.test])
        expected = [corpus.truth[i] for i in corpus.test]
        accuracy = round(float(accuracy_score(expected, predicted)), 4)
        macro_f1 = round(float(f1_score(expected, predicted, average="macro")), 4)
        if self.model is not None:  # the dashboard's learning curve across releases
            record_training(
                self.project,
                {"model": "demo-baseline", "model_version": f"{release['name']}-s{self.seed}",
                 "trained_from": str(release["name"]), "trained_on": len(self.labeled), "test_accuracy": accuracy,
                 "test_macro_f1": macro_f1, "tested_on": len(corpus.test)},
                started=time.time(), actor="demo",
            )  # fmt: skip
        return RoundResult(
            round=number,
            labels=len(self.labeled),
            annotations=self.annotations,
            accuracy=accuracy,
            macro_f1=macro_f1,
            label_accuracy_mv=round(accuracy_mv, 4),
            label_accuracy_ds=round(accuracy_ds, 4),
            alpha=alpha,
            release=str(release["name"]),
            manifest_sha256=str(release["manifest_sha256"]),
            seconds=round(time.perf_counter() - started, 2),
        )

    def _choose(self, unlabeled: list[int], budget: int, number: int) -> tuple[list[int], dict[str, Any]]:
        """The positions to label next, and why (kept with each task's selection record)."""
        budget = min(budget, len(unlabeled))
        if self.model is None or self.strategy == "random":
            picked = self.rng.choice(len(unlabeled), size=budget, replace=False)
            return [unlabeled[int(j)] for j in picked], {"strategy": "random", "round": number}
        texts = [self.corpus.texts[i] for i in unlabeled]
        probs = self.model.predict_proba(texts)
        full = np.zeros((len(unlabeled), len(self.labels)))
        full[:, self.model.classes_] = probs
        features = self.model[0].transform(texts)
        picked_sel = select(
            self.strategy,  # type: ignore[arg-type]
            budget=budget,
            probs=full,
            features=features,
            slices=np.argmax(full, axis=1),
            slice_quota="proportional" if self.strategy == "hybrid" else None,
            model_version=f"{MODEL_NAME}@round{number - 1}",
            seed=self.seed + number,
        )
        chosen = [unlabeled[int(j)] for j in picked_sel.indices]
        scores = {str(self.corpus.ids[unlabeled[int(j)]]): round(float(s), 6)
                  for j, s in zip(picked_sel.indices, picked_sel.scores, strict=True)}  # fmt: skip
        return chosen, {
            "strategy": self.strategy,
            "round": number,
            "model": f"{MODEL_NAME}@round{number - 1}",
            "params": picked_sel.params,
            "scores": scores,
        }


def run_loop(
    folder: Path,
    baseline_folder: Path,
    data: Path,
    *,
    rounds: int = 10,
    strategy: str = "hybrid",
    budget: int = 60,
    seed: int = 0,
    progress: Callable[[str, RoundResult], None] | None = None,
) -> dict[str, Any]:
    """Run ``rounds`` rounds of ``strategy`` in the project at ``folder`` and of random sampling in the
    project at ``baseline_folder`` (both on the BBC articles in ``data``), ``budget`` items a round.

    Returns ``{"strategy", "rounds", "baseline", "saving", ...}``: each round as in :class:`RoundResult`,
    and the saving: the labels the strategy needed to reach random sampling's final accuracy.
    """
    if strategy not in DEMO_STRATEGIES:
        raise ConfigError(f"unknown strategy '{strategy}' (one of: {', '.join(DEMO_STRATEGIES)})")
    if not 1 <= rounds <= 100 or not 1 <= budget <= 2_000:
        raise ConfigError("rounds must be 1-100 and the budget per round 1-2000")
    started = time.perf_counter()
    runs: dict[str, _Run] = {}
    ingested: dict[str, Any] = {}
    for key, where, name, chosen in (
        ("rounds", folder, "bbc-news", strategy),
        ("baseline", baseline_folder, "bbc-news-random", "random"),
    ):
        project = demo_project(where, data, name)
        ingested[key] = run_ingest(project)
        labels = list(configured_schema(project).question("topic").labels)
        runs[key] = _Run(project, _corpus(project, labels, seed), labels, chosen, seed)
    results: dict[str, list[RoundResult]] = {"rounds": [], "baseline": []}
    for number in range(1, rounds + 1):
        for key, run in runs.items():
            result = run.round(number, budget)
            results[key].append(result)
            if progress is not None:
                progress(key, result)
    final = results["baseline"][-1]
    reached = next((r for r in results["rounds"] if r.accuracy >= final.accuracy), None)
    corpus = runs["rounds"].corpus
    return {
        "strategy": strategy,
        "rounds": [r.as_dict() for r in results["rounds"]],
        "baseline": [r.as_dict() for r in results["baseline"]],
        "saving": {
            "random_final_accuracy": final.accuracy,
            "random_labels": final.labels,
            "strategy_labels_to_reach_it": None if reached is None else reached.labels,
            "share_of_random_labels": None if reached is None else round(reached.labels / final.labels, 4),
        },
        "data": {"records": len(corpus.ids), "test": len(corpus.test), "pool": len(corpus.pool)},
        "annotators": [{"name": a.name, "kind": a.kind} for _, a in runs["rounds"].people],
        "project_dir": str(folder),
        "seconds": round(time.perf_counter() - started, 1),
    }
