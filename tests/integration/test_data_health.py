"""Data health at ingest, end to end on SQLite and PostgreSQL: near-duplicates, rules,
PII redaction failing closed, consent (drop, hold, withdrawal), anomalies, quarantine."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import inspect, text

from labelloop.config import Settings
from labelloop.errors import ConflictError
from labelloop.governance.consent import withdraw_consent
from labelloop.ingest.quarantine import decide_held_run, drop_quarantined, list_records, release_quarantined
from labelloop.ingest.service import push_records, run_ingest
from labelloop.ingest.status import project_status
from labelloop.project import Project, open_project
from labelloop.store import repo
from tests.conftest import ProjectFactory

BASE: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "subject_field": "user",
        "consent_field": "consent",
        "fields": {
            "id": {"type": "string", "required": True},
            "text": {"type": "string", "required": True},
            "user": {"type": "string"},
            "consent": {"type": "list"},
            "topic": {"type": "string"},
        },
    },
    "sources": [
        {"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl"},
        {"name": "api", "kind": "push"},
    ],
}

_VOCABULARY = (
    "market shares rose after the bank said profits would beat forecasts while the minister promised new rules "
    "for energy prices as the team won the final match and the film opened to strong reviews in london theatres "
    "players coach season goal league election vote party government court judge police report company sales "
    "growth stock investors technology phone software users online music album band concert award actor"
)
WORDS = tuple(_VOCABULARY.split())


def config(**stages: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    out["stages"] = stages
    return out


def article(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def near_copy(rng: random.Random, text_: str, edits: int = 2) -> str:
    words = text_.split()
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def all_records(project: Project, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = list_records(project, cursor=cursor, limit=500, **kwargs)
        out.extend(page)
    return out


def by_key(project: Project, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return {r["source_key"]: r for r in all_records(project, **kwargs)}


# -- near-duplicates -------------------------------------------------------------------------------


def test_near_duplicates_are_kept_marked_and_matched_across_runs(make_project: ProjectFactory, tmp_path: Path) -> None:
    rng = random.Random(7)
    originals = [article(rng) for _ in range(30)]
    rows = [{"id": f"o{i}", "text": t} for i, t in enumerate(originals)]
    rows += [{"id": f"n{i}", "text": near_copy(rng, originals[i])} for i in range(10)]
    project = make_project(config(near_duplicates={"threshold": 0.8}), {"data/a.jsonl": jsonl(rows)})

    first = run_ingest(project)
    assert first["near_duplicates"] == 10
    assert first["new"] == 30
    records = by_key(project)
    for i in range(10):
        near = records[f"n{i}"]
        assert near["status"] == "near_duplicate"
        assert near["duplicate_of"] == records[f"o{i}"]["id"]
        assert 0.8 <= near["similarity"] < 1.0
    listed = all_records(project, status="near_duplicate")
    assert sorted(r["source_key"] for r in listed) == sorted(f"n{i}" for i in range(10))

    # Next week, another file: matched against everything stored before, via the persisted index.
    later = [{"id": f"late{i}", "text": near_copy(rng, originals[20 + i], 1)} for i in range(5)]
    later.append({"id": "fresh", "text": article(rng)})
    (project.dir / "data" / "b.jsonl").write_bytes(jsonl(later))  # type: ignore[operator]
    project.store.dispose()
    reopened = open_project(project.dir, Settings(database_url=project.store.url))  # type: ignore[arg-type]
    second = run_ingest(reopened)
    assert (second["near_duplicates"], second["new"]) == (5, 1)
    records = by_key(reopened)
    for i in range(5):
        assert records[f"late{i}"]["duplicate_of"] == records[f"o{20 + i}"]["id"]

    # A re-run stores nothing twice, and the lineage tells why a record was marked.
    again = run_ingest(reopened)
    assert again["read"] == 0
    assert project_status(reopened)["by_status"]["near_duplicate"] == 15
    with reopened.store.read() as conn:
        events = repo.record_lineage(conn, records["late0"]["id"])
        stages = [s["name"] for s in events[0]["stages"]]
    assert stages == ["normalize", "exact_dedup", "near_dup"]
    near_event = next(e for e in events if e["kind"] == "near_duplicate_of")
    assert near_event["details"]["of"] == records["o20"]["id"]
    reopened.store.dispose()


def test_near_duplicates_of_pushed_rows_and_within_one_batch(make_project: ProjectFactory) -> None:
    rng = random.Random(3)
    base = article(rng, 80)
    project = make_project(config(near_duplicates={}))
    body = orjson.dumps([{"id": "a", "text": base}, {"id": "b", "text": near_copy(rng, base, 1)}])
    out = push_records(project, body)
    assert (out["new"], out["near_duplicates"]) == (1, 1)
    # Re-sending is idempotent: nothing new, nothing doubled.
    again = push_records(project, body)
    assert (again["new"], again["near_duplicates"], again["unchanged"]) == (0, 0, 2)


# -- rules -----------------------------------------------------------------------------------------


def test_rules_quarantine_or_flag_and_release_revalidates(make_project: ProjectFactory) -> None:
    rules = [
        {"field": "text", "min_length": 20, "severity": "quarantine"},
        {"field": "text", "language": ["en"], "severity": "flag"},
        {"field": "topic", "allowed": ["sport", "tech"], "severity": "quarantine"},
    ]
    rows = [
        {"id": "ok", "text": "The team won the final match of the season in London.", "topic": "sport"},
        {"id": "short", "text": "too short"},
        {"id": "german", "text": "Die Mannschaft hat das Spiel in der letzten Minute gewonnen und ist sehr froh."},
        {"id": "topic", "text": "The film opened to strong reviews in the theatres of London.", "topic": "cooking"},
    ]
    project = make_project(config(rules=rules), {"data/a.jsonl": jsonl(rows)})
    summary = run_ingest(project)
    assert (summary["new"], summary["quarantined"], summary["flagged"]) == (2, 2, 1)
    assert summary["quarantine_reasons"] == {"too_short": 1, "not_allowed": 1}
    assert summary["stages"]["rules"]["quarantined"] == 2
    records = by_key(project)
    assert records["short"]["status"] == "quarantined"
    assert records["short"]["reasons"][0]["code"] == "too_short"
    assert "too short" not in records["short"]["reasons"][0]["message"]  # never the value
    assert records["german"]["status"] == "accepted"
    assert [f["code"] for f in records["german"]["flags"]] == ["wrong_language"]
    flagged = all_records(project, flag="wrong_language")
    assert [r["source_key"] for r in flagged] == ["german"]

    # Release re-validates: still too short -> stays held; with force a person overrides the rule.
    with pytest.raises(ConflictError):
        release_quarantined(project, records["short"]["id"])
    released = release_quarantined(project, records["short"]["id"], force=True)
    assert released["status"] == "accepted"
    assert [f["code"] for f in by_key(project)["short"]["flags"]] == ["released_over_rule"]
    dropped = drop_quarantined(project, records["topic"]["id"])
    assert dropped["status"] == "deleted"
    with project.store.read() as conn:
        actions = [r.action for r in conn.execute(text("SELECT action FROM audit_log ORDER BY id"))]
    assert actions[-2:] == ["quarantine.release", "quarantine.drop"]


# -- PII, failing closed ---------------------------------------------------------------------------

CANARIES = {
    "email": "canary.person@example.org",
    "phone": "+1 415-555-0132",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "536-22-1234",
    "ip": "203.0.113.77",
    "secret": "AKIAZ7CANARY4EXAMPLE",
}
ALL_MASK = dict.fromkeys(["email", "phone", "card", "iban", "ip", "ssn", "url_credentials", "secret"], "mask")


def _canary_strings() -> list[bytes]:
    out: list[bytes] = []
    for value in CANARIES.values():
        out.append(value.encode())
        out.append(value.replace(" ", "").encode())
    return out


def _store_text(project: Project) -> bytes:
    """Every value of every table of the project's store, as bytes (both backends)."""
    chunks: list[bytes] = []
    with project.store.read() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def test_pii_never_reaches_the_store_blobs_or_messages(make_project: ProjectFactory, tmp_path: Path) -> None:
    c = CANARIES
    rows: list[Any] = [
        {"id": "r1", "text": f"Mail me at {c['email']} or call {c['phone']} tonight.", "user": "u1"},
        {"id": "r2", "text": f"Card {c['card']}, IBAN {c['iban']}, SSN {c['ssn']}.", "user": c["email"]},
        {"id": "r3", "text": f"Server {c['ip']} uses key {c['secret']} in prod.", "user": "u3"},
        {"id": c["email"], "text": "an id that is an email address", "user": "u4"},
        # Quarantined by the schema (wrong type) and by a rule: still never raw.
        {"id": "bad1", "text": 12345, "user": c["phone"], "note": c["card"]},
        {"id": "bad2", "text": f"x {c['email']}"},
    ]
    lines = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    lines += f'{{"id": "broken", "text": "unclosed {c["iban"]} {c["email"]}\n'.encode()  # invalid JSON
    big = {"id": "big", "text": ("padding words " * 6000) + c["email"]}  # payload above the blob threshold
    lines += orjson.dumps(big) + b"\n"
    project = make_project(config(pii=ALL_MASK, rules=[{"field": "text", "min_length": 12}]), {"data/a.jsonl": lines})
    summary = run_ingest(project)
    assert summary["read"] == 8
    assert summary["redacted"] >= 5
    assert summary["quarantined"] == 3  # wrong type, too short, invalid JSON

    haystack = _store_text(project)
    blob_dir = project.dir / ".labelloop" / "blobs"  # type: ignore[operator]
    for path in blob_dir.rglob("*"):
        if path.is_file():
            haystack += path.read_bytes()
    if project.store.url.startswith("sqlite"):
        db_file = Path(project.store.url.removeprefix("sqlite:///"))
        for path in db_file.parent.glob(db_file.name + "*"):  # the file, its WAL and SHM
            haystack += path.read_bytes()
    for canary in _canary_strings():
        assert canary not in haystack, canary

    records = by_key(project, with_payload=True)
    assert "[EMAIL]" in records["r1"]["payload"]["text"] and "[PHONE]" in records["r1"]["payload"]["text"]
    assert "[CARD]" in records["r2"]["payload"]["text"] and "[IBAN]" in records["r2"]["payload"]["text"]
    assert "[SECRET]" in records["r3"]["payload"]["text"]
    assert any(k.startswith("[EMAIL") for k in records)  # the id holding an email, masked (no key set)
    with project.store.read() as conn:
        events = repo.record_lineage(conn, records["r1"]["id"])
    redacted = next(e for e in events if e["kind"] == "redacted")
    assert redacted["details"]["entities"] == {"email": 1, "phone": 1}


def test_pii_actions_hash_flag_drop_and_quarantine(make_project: ProjectFactory, db_url: str, tmp_path: Path) -> None:
    rows = [
        {"id": "h1", "text": "write to Ann.Lee@Example.org now", "user": "ann.lee@example.org"},
        {"id": "h2", "text": "or ann.lee@example.org later", "user": "ann.lee@example.org"},
        {"id": "f1", "text": "server 198.51.100.23 is down"},
        {"id": "d1", "text": "my ssn is 536-22-1234"},
        {"id": "q1", "text": "card 4111-1111-1111-1111 please"},
    ]
    cfg = config(pii={"email": "hash", "ip": "flag", "ssn": "drop_record", "card": "quarantine"})
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data").mkdir()
    (folder / "data" / "a.jsonl").write_bytes(jsonl(rows))
    import yaml

    (folder / "labelloop.yaml").write_text(yaml.safe_dump(cfg))
    project = open_project(folder, Settings(database_url=db_url, pii_hmac_key="k" * 32))  # type: ignore[arg-type]
    try:
        summary = run_ingest(project)
        assert (summary["new"], summary["pii_dropped"], summary["quarantined"], summary["flagged"]) == (3, 1, 1, 1)
        records = by_key(project, with_payload=True)
        t1, t2 = records["h1"]["payload"]["text"], records["h2"]["payload"]["text"]
        token1, token2 = t1.split()[2], t2.split()[1]
        assert token1.startswith("[EMAIL:") and token1 == token2  # joinable, case-insensitive
        assert "d1" not in records  # dropped: not stored at all
        assert records["q1"]["status"] == "quarantined"
        assert "4111" not in orjson.dumps(records["q1"]).decode()
        assert [f["code"] for f in records["f1"]["flags"]] == ["pii:ip"]
        assert "198.51.100.23" in records["f1"]["payload"]["text"]  # flag keeps the text
        with project.store.read() as conn:
            dropped = conn.execute(text("SELECT details FROM lineage_events WHERE kind = 'pii_dropped'")).scalars()
            details = [orjson.loads(d) for d in dropped]
        assert details and "536" not in orjson.dumps(details).decode()
        # The subject (an email) is stored as its keyed hash; withdrawal finds it by the plain value.
        assert records["h1"]["payload"].get("user") is None
        out = withdraw_consent(project, "ann.lee@example.org", ["labeling"], actor="test")
        assert out["records"] == 2 and out["left_queues"] == 2
    finally:
        project.store.dispose()


# -- consent ---------------------------------------------------------------------------------------


def test_consent_drop_hold_and_withdrawal(make_project: ProjectFactory) -> None:
    rows = [
        {"id": "c1", "text": "first message", "user": "s1", "consent": ["labeling", "training"]},
        {"id": "c2", "text": "second message", "user": "s1", "consent": ["labeling"]},
        {"id": "c3", "text": "third message", "user": "s2", "consent": ["training"]},
        {"id": "c4", "text": "fourth message", "user": "s3"},
    ]
    cfg = config(consent={"required": ["labeling"]})
    cfg["sources"].append(
        {
            "name": "held",
            "kind": "jsonl",
            "path": "held/*.jsonl",
            "stages": {"consent": {"required": ["labeling"], "action": "quarantine"}},
        }
    )
    project = make_project(cfg, {"data/a.jsonl": jsonl(rows), "held/a.jsonl": jsonl(rows[2:])})
    summary = run_ingest(project)
    assert summary["consent_dropped"] == 2  # c3, c4 of inbox: not stored
    assert summary["quarantined"] == 2  # c3, c4 of 'held': held for a person
    assert summary["quarantine_reasons"] == {"consent_missing": 2}
    keys = by_key(project)
    assert {"c1", "c2"} <= set(keys) and keys["c1"]["status"] == "accepted"
    with project.store.read() as conn:
        kinds = conn.execute(text("SELECT kind, record_id, details FROM lineage_events")).all()
    dropped = [k for k in kinds if k.kind == "consent_missing"]
    assert len(dropped) == 2 and all(k.record_id is None for k in dropped)
    assert all("message" not in k.details for k in dropped)  # no payload kept

    # Withdrawal: the subject's records leave the queues at once, audited.
    out = withdraw_consent(project, "s1", ["labeling"], actor="cli:test")
    assert (out["records"], out["left_queues"]) == (2, 2)
    keys = by_key(project)
    assert keys["c1"]["status"] == keys["c2"]["status"] == "withdrawn"
    assert project_status(project)["by_status"]["withdrawn"] == 2
    with project.store.read() as conn:
        consent = conn.execute(text("SELECT consent FROM records WHERE source_key = 'c1'")).scalar_one()
        audit = conn.execute(text("SELECT action FROM audit_log")).scalars().all()
    assert orjson.loads(consent) == ["training"]
    assert "consent.withdraw" in audit


# -- anomalies -------------------------------------------------------------------------------------


def test_anomalous_volume_collapse_is_marked_and_held(make_project: ProjectFactory) -> None:
    rng = random.Random(11)
    cfg = config(anomalies={"min_history": 3, "action": "hold", "categorical": ["topic"]})
    project = make_project(cfg)
    run_ids = []
    for week in range(4):
        rows = [{"id": f"w{week}-{i}", "text": article(rng, 30), "topic": "sport"} for i in range(200)]
        run_ids.append(push_records(project, jsonl(rows), "application/x-ndjson")["run_id"])
    small = [{"id": f"w9-{i}", "text": article(rng, 30), "topic": "cooking"} for i in range(5)]
    summary = push_records(project, jsonl(small), "application/x-ndjson")
    verdict = summary["anomalies"]["api"]
    checks = {a["check"] for a in verdict["anomalies"]}
    assert {"volume", "new_values"} <= checks
    assert verdict["held"] == 5
    assert all(r["status"] == "held" for r in by_key(project).values() if r["source_key"].startswith("w9-"))
    status = project_status(project)
    assert status["by_status"]["held"] == 5
    assert status["anomalies"][0]["run_id"] == summary["run_id"]
    # Earlier, normal runs were not anomalous.
    with project.store.read() as conn:
        flagged_runs = conn.execute(text("SELECT run_id FROM run_stats WHERE anomalies IS NOT NULL")).scalars().all()
    assert flagged_runs == [summary["run_id"]]

    released = decide_held_run(project, summary["run_id"], "release")
    assert released["records"] == 5
    assert project_status(project)["by_status"]["held"] == 0
    with pytest.raises(ConflictError):
        decide_held_run(project, summary["run_id"], "drop")


def test_withdrawal_never_matches_subjects_masked_without_a_key(make_project: ProjectFactory) -> None:
    project = make_project(config(pii={"email": "mask"}))
    rows = [
        {"id": "m1", "text": "first", "user": "ann@example.org", "consent": ["labeling"]},
        {"id": "m2", "text": "second", "user": "bob@example.org", "consent": ["labeling"]},
    ]
    push_records(project, orjson.dumps(rows))
    # no key: both subjects were stored as the same mask, so neither can be singled out
    out = withdraw_consent(project, "ann@example.org", ["labeling"], actor="test")
    assert out["records"] == 0
    assert all(r["status"] == "accepted" for r in all_records(project))


def test_pushed_rows_keyed_by_content_are_keyed_by_the_redacted_content(make_project: ProjectFactory) -> None:
    cfg = config(pii={"email": "mask"})
    cfg["record"]["fields"]["id"]["required"] = False
    project = make_project(cfg)
    body = orjson.dumps([{"text": "reach me at zed@example.org"}])
    first = push_records(project, body)
    again = push_records(project, body)
    assert (first["new"], again["new"], again["unchanged"]) == (1, 0, 1)
    [record] = all_records(project)
    assert record["source_key"] == record["content_hash"]
