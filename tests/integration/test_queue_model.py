"""A Hypothesis stateful test of the queue against a simple model of what it must do.

The model keeps, per task, who holds a live lease, who answered and who skipped,
and its overlap. Every ``next`` the real queue answers is checked against the
model: the task must be the first (priority, then age) that the person has not
held, answered or skipped and that still needs more people than it has leases
out; ``None`` only when no such task exists; a refusal only at the lease cap.
Submits under one's own live lease succeed, under anyone else's fail with 409
and change nothing. After every step the store's counts equal the model's.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import orjson
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import text

from labelloop.config import Settings
from labelloop.errors import ConflictError
from labelloop.governance.service import Principal, Role, add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, skip_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.project import open_project
from tests.conftest import DEFAULT_CONFIG

PEOPLE = 3
TASKS = 5
OVERLAP = 2
CAP = 2


class QueueModel(RuleBasedStateMachine):
    """The real queue, driven step by step beside its model."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="labelloop-model-"))
        config = copy.deepcopy(DEFAULT_CONFIG)
        config["label_schema"] = {"questions": [{"name": "topic", "type": "single", "labels": ["a", "b"]}]}
        config["labeling"] = {"overlap": OVERLAP, "max_leases_per_user": CAP, "agreement": "unanimous"}
        (self.folder / "labelloop.yaml").write_text(yaml.safe_dump(config))
        self.project = open_project(self.folder, Settings(database_url=None))
        rows = [{"id": f"r{i}", "text": f"record {i}"} for i in range(TASKS)]
        push_records(self.project, orjson.dumps(rows))
        create_tasks(self.project, overlap=OVERLAP)
        self.people: list[Principal] = []
        for i in range(PEOPLE):
            add_user(self.project, f"p{i}", "annotator")
        with self.project.store.read() as conn:
            users = conn.execute(text("SELECT id, name FROM users ORDER BY id")).all()
            self.order = [int(r[0]) for r in conn.execute(text("SELECT id FROM tasks ORDER BY rank, id"))]
        self.people = [
            Principal(int(uid), name, Role.ANNOTATOR, self.project.id, self.project.name) for uid, name in users
        ]
        self.held: dict[int, set[int]] = {t: set() for t in self.order}  # task -> people holding a live lease
        self.answered: dict[int, set[int]] = {t: set() for t in self.order}
        self.skipped: dict[int, set[int]] = {t: set() for t in self.order}
        self.leases: dict[int, tuple[int, int]] = {}  # lease -> (task, person index)

    def teardown(self) -> None:
        self.project.store.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model ---------------------------------------------------------------------------------

    def _due(self, person: int) -> int | None:
        uid = self.people[person].user_id
        for task in self.order:
            if uid in self.held[task] or uid in self.answered[task] or uid in self.skipped[task]:
                continue
            if len(self.held[task]) < OVERLAP - len(self.answered[task]) and len(self.answered[task]) < OVERLAP:
                return task
        return None

    def _holding(self, person: int) -> int:
        return sum(1 for _task, p in self.leases.values() if p == person)

    # -- rules -------------------------------------------------------------------------------------

    @rule(person=st.integers(0, PEOPLE - 1))
    def ask(self, person: int) -> None:
        expected = self._due(person)
        try:
            got = next_task(self.project, self.people[person])
        except ConflictError:
            assert self._holding(person) >= CAP
            return
        assert self._holding(person) < CAP
        if expected is None:
            assert got is None
            return
        assert got is not None and got["task_id"] == expected
        self.held[expected].add(self.people[person].user_id)
        self.leases[got["lease_id"]] = (expected, person)

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data(), label=st.sampled_from(["a", "b"]))
    def answer(self, data: st.DataObject, label: str) -> None:
        lease = data.draw(st.sampled_from(sorted(self.leases)))
        task, person = self.leases.pop(lease)
        submit_annotation(self.project, self.people[person], task, lease, {"topic": {"label": label}})
        uid = self.people[person].user_id
        self.held[task].discard(uid)
        self.answered[task].add(uid)

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data())
    def answer_with_someone_elses_lease(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(sorted(self.leases)))
        task, person = self.leases[lease]
        intruder = (person + 1) % PEOPLE
        try:
            submit_annotation(self.project, self.people[intruder], task, lease, {"topic": {"label": "a"}})
        except ConflictError:
            return
        raise AssertionError("a submit under someone else's lease was accepted")

    @precondition(lambda self: bool(self.leases))
    @rule(data=st.data())
    def skip(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(sorted(self.leases)))
        task, person = self.leases.pop(lease)
        skip_task(self.project, self.people[person], task, lease, "not sure")
        uid = self.people[person].user_id
        self.held[task].discard(uid)
        self.skipped[task].add(uid)

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        with self.project.store.read() as conn:
            rows = {int(r[0]): (int(r[1]), int(r[2])) for r in conn.execute(text("SELECT id, leased, done FROM tasks"))}
            answers = conn.execute(text("SELECT COUNT(*) FROM annotations")).scalar_one()
        for task in self.order:
            assert rows[task] == (len(self.held[task]), len(self.answered[task])), task
        assert answers == sum(len(v) for v in self.answered.values())


QueueModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestQueueAgainstModel = QueueModel.TestCase
