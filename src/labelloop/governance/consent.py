"""Consent withdrawal: a data subject takes back a purpose, and their records follow at once.

Withdrawing a purpose removes it from the consent of every record of the
subject (the records' stored consent is what selection and releases check).
A record whose source requires that purpose (its consent stage), or any
record when the purpose is ``labeling``, leaves every queue at once: its
status becomes ``withdrawn``, so no task is created from it and no new
release contains it. Each withdrawal is kept (subject, purpose, when, by whom,
how many records), audited, and recorded in every affected record's lineage.

Subjects are looked up as given and, where the PII stage hashes ids holding
personal data, in their hashed form too. Without ``LABELLOOP_PII_HMAC_KEY`` such
a subject was stored as a typed mask, which cannot tell subjects apart: it is
never used for a lookup.
"""

from __future__ import annotations

from typing import Any

import orjson

from labelloop.domain.audit import digest_of
from labelloop.domain.reasons import RecordStatus
from labelloop.errors import InvalidInputError
from labelloop.project import Project
from labelloop.stages.pii import PiiStage
from labelloop.store import repo

__all__ = ["QUEUE_PURPOSE", "subject_keys", "withdraw_consent"]

#: The purpose without which a record is never put in front of a person.
QUEUE_PURPOSE = "labeling"
_LIVE = {RecordStatus.ACCEPTED, RecordStatus.DUPLICATE, RecordStatus.NEAR_DUPLICATE, RecordStatus.HELD}


def subject_keys(project: Project, subject: str) -> list[str]:
    """Every form under which ``subject`` may be stored (as given; hashed by a PII stage)."""
    keys = [subject]
    key = project.settings.pii_hmac_key
    for source in project.config.sources:
        pii = project.config.stages_for(source.name).pii
        if pii is None:
            continue
        stage = PiiStage.from_spec(pii, key.get_secret_value().encode() if key is not None else None)
        stored = stage.subject_key(subject)
        # Only a keyed hash identifies one subject; a typed mask ("[EMAIL]", no key set) is shared by all.
        if stored.startswith("pii:") and stored not in keys:
            keys.append(stored)
    return keys


def withdraw_consent(project: Project, subject: str, purposes: list[str], actor: str) -> dict[str, Any]:
    """Withdraw ``purposes`` for ``subject``; returns how many records changed and left the queues."""
    subject = subject.strip()
    wanted = sorted({p.strip() for p in purposes if p and p.strip()})
    if not subject:
        raise InvalidInputError("a subject id is required")
    if not wanted:
        raise InvalidInputError("name at least one purpose to withdraw (e.g. labeling, training)")
    required_by_source = {
        s.name: set(stages.consent.required)
        for s in project.config.sources
        if (stages := project.config.stages_for(s.name)).consent is not None
    }
    keys = subject_keys(project, subject)
    changed = left = 0
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        names = repo.source_names(conn, project.id)
        rows = repo.subject_records(conn, project.id, keys)
        events: list[dict[str, Any]] = []
        deltas: dict[str, int] = {}
        before_states: list[Any] = []
        after_states: list[Any] = []
        for row in rows:
            before = set(orjson.loads(row["consent"])) if row["consent"] else set()
            removed = before.intersection(wanted)
            after = sorted(before - set(wanted))
            required = required_by_source.get(names.get(int(row["source_id"]), ""), set())
            leaves = row["status"] in _LIVE and (QUEUE_PURPOSE in wanted or bool(required.intersection(wanted)))
            if not removed and not leaves:
                continue
            values: dict[str, Any] = {"consent": orjson.dumps(after).decode()}
            if leaves:
                values["status"] = RecordStatus.WITHDRAWN
                deltas[str(row["status"])] = deltas.get(str(row["status"]), 0) - 1
                deltas[RecordStatus.WITHDRAWN] = deltas.get(RecordStatus.WITHDRAWN, 0) + 1
                left += 1
            repo.set_record(conn, int(row["id"]), **values)
            before_states.append([int(row["id"]), str(row["status"]), row["consent"]])
            after_states.append([int(row["id"]), str(values.get("status", row["status"])), values["consent"]])
            changed += 1
            events.append(
                {
                    "record_id": int(row["id"]),
                    "kind": "consent_withdrawn",
                    "actor": actor,
                    "details": {"purposes": wanted, "left_queues": leaves},
                }
            )
        repo.add_events(conn, project.id, events)
        repo.add_counters(conn, project.id, deltas)
        for purpose in wanted:
            repo.add_consent_withdrawal(conn, project.id, keys[-1], purpose, actor, changed)
        repo.audit(
            conn,
            project.id,
            actor,
            "consent.withdraw",
            keys[-1],
            purposes=wanted,
            records=changed,
            left_queues=left,
            before=digest_of(before_states),
            after=digest_of(after_states),
        )
    return {"subject": subject, "purposes": wanted, "records": changed, "left_queues": left}
