"""Users, roles and API tokens.

Passwords are hashed with argon2id (``argon2-cffi``; parameters in the stored
string, so they can be raised later; scrypt hashes of earlier versions still
verify). API tokens are random 32-byte strings shown once; only their SHA-256
is stored; they expire (90 days by default) and can be revoked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labelloop.domain.audit import digest_of
from labelloop.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from labelloop.project import Project
from labelloop.store import repo
from labelloop.store.engine import Store

__all__ = [
    "Principal",
    "Role",
    "add_user",
    "allowed",
    "authenticate_token",
    "cached_principal",
    "hash_password",
    "list_members",
    "new_token",
    "require",
    "revoke_tokens",
    "set_password",
    "set_role",
    "verify_password",
]

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "ll_"
#: The longest password accepted (the login form refuses longer ones unchecked).
MAX_PASSWORD = 1024


class Role(StrEnum):
    """What a member of a project may do."""

    ADMIN = "admin"
    STEWARD = "steward"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    ADJUDICATOR = "adjudicator"
    VIEWER = "viewer"


#: Who may do what. The API and the web app check the same table.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "records.push": frozenset({Role.ADMIN, Role.STEWARD}),
    "records.read": frozenset(Role),
    "quarantine.decide": frozenset({Role.ADMIN, Role.STEWARD}),
    "consent.manage": frozenset({Role.ADMIN, Role.STEWARD}),
    # erasing a data subject's records (DELETE .../subjects/{subject_id})
    "subjects.erase": frozenset({Role.ADMIN, Role.STEWARD}),
    "schema.publish": frozenset({Role.ADMIN, Role.STEWARD}),
    "tasks.create": frozenset({Role.ADMIN, Role.STEWARD}),
    "tasks.read": frozenset(Role),
    "queue.work": frozenset({Role.ADMIN, Role.STEWARD, Role.ANNOTATOR}),
    "review.decide": frozenset({Role.ADMIN, Role.STEWARD, Role.REVIEWER, Role.ADJUDICATOR}),
    "adjudicate": frozenset({Role.ADMIN, Role.STEWARD, Role.ADJUDICATOR}),
    "users.manage": frozenset({Role.ADMIN}),
    # the web app's settings page: schema versions, sources, releases (members need users.manage)
    "settings.manage": frozenset({Role.ADMIN, Role.STEWARD}),
    "metrics.read": frozenset(Role),
    "quality.read": frozenset(Role),
    # a model's predictions in, the baseline trained
    "models.manage": frozenset({Role.ADMIN, Role.STEWARD}),
    # running aggregation, label-error scans and drift reports, and annotators' confusion matrices
    "quality.manage": frozenset({Role.ADMIN, Role.STEWARD}),
    # dataset releases: cutting one (stewards), reading them, downloading their files
    "releases.create": frozenset({Role.ADMIN, Role.STEWARD}),
    "releases.read": frozenset(Role),
    "releases.export": frozenset({Role.ADMIN, Role.STEWARD, Role.VIEWER}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: int
    name: str
    role: Role
    project_id: int
    project: str


_HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    """An argon2id hash string (``$argon2id$v=19$m=...``) for ``password``."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a stored hash (argon2id; scrypt hashes of earlier versions too)."""
    if not stored:
        return False
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Hashes written before argon2 (``scrypt$n$r$p$salt$hash``); a corrupt one matches nothing."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        computed = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected) or 32)
    except (ValueError, binascii.Error, MemoryError):
        return False
    return hmac.compare_digest(computed, expected)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: Days an API token lives unless told otherwise.
TOKEN_DAYS = 90


def add_user(
    project: Project,
    name: str,
    role: str,
    password: str | None = None,
    actor: str = "cli",
    token_days: int | None = TOKEN_DAYS,
) -> dict[str, Any]:
    """Create a user with ``role`` and return it with a new API token (shown only now).

    The token expires after ``token_days`` (never with None).
    """
    if not USER_NAME.match(name):
        raise InvalidInputError(f"user name '{name}' must be 1-64 letters, digits or _.@- characters")
    try:
        role_value = Role(role)
    except ValueError:
        raise InvalidInputError(f"unknown role '{role}' (one of: {', '.join(r.value for r in Role)})") from None
    if password is not None and not 8 <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(f"the password must have 8 to {MAX_PASSWORD} characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    password_hash = hash_password(password) if password is not None else None
    with project.store.write() as conn:
        if repo.find_user(conn, project.id, name) is not None:
            raise ConflictError(f"user '{name}' already exists in project '{project.name}'")
        user_id = repo.add_user(conn, project.id, name, role_value.value, password_hash)
        expires = _expiry(token_days)
        repo.add_token(conn, user_id, _token_hash(token), expires)
        repo.audit(
            conn, project.id, actor, "user.add", name, role=role_value.value, after=digest_of([name, role_value.value])
        )
    return {"user": name, "role": role_value.value, "token": token, "token_expires_at": expires}


def _expiry(days: int | None) -> float | None:
    if days is None:
        return None
    if not 1 <= days <= 3650:
        raise InvalidInputError("a token lives 1 to 3650 days")
    return time.time() + days * 86_400


def new_token(project: Project, name: str, actor: str = "cli", token_days: int | None = TOKEN_DAYS) -> dict[str, Any]:
    """Issue another API token for an existing user (shown only now)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with project.store.write() as conn:
        user = repo.find_user(conn, project.id, name)
        if user is None:
            raise NotFoundError(f"no user '{name}' in project {project.name}")
        expires = _expiry(token_days)
        repo.add_token(conn, int(user["id"]), _token_hash(token), expires)
        repo.audit(conn, project.id, actor, "token.issue", name)
    return {"user": name, "token": token, "token_expires_at": expires}


def revoke_tokens(project: Project, name: str, actor: str = "cli") -> dict[str, Any]:
    """Revoke every token of a user (effective at once in this process, within TOKEN_TTL_S elsewhere)."""
    with project.store.write() as conn:
        user = repo.find_user(conn, project.id, name)
        if user is None:
            raise NotFoundError(f"no user '{name}' in project {project.name}")
        revoked = repo.revoke_tokens(conn, int(user["id"]))
        repo.audit(conn, project.id, actor, "token.revoke", name, tokens=revoked)
    with _tokens_lock:
        for key in [k for k, (_t, p) in _tokens.items() if p.user_id == int(user["id"])]:
            _tokens.pop(key, None)
    return {"user": name, "revoked": revoked}


#: Seconds a verified token is trusted without asking the store again. Every queue call is
#: authenticated; the lookup was a transaction of its own (~0.5 ms). A revoked token or a
#: changed role takes effect within this time in every server process.
TOKEN_TTL_S = 10.0
_tokens: dict[tuple[int, str], tuple[float, Principal]] = {}
_tokens_lock = threading.Lock()


def cached_principal(store: Store, token: str | None) -> Principal | None:
    """The principal of a token verified within ``TOKEN_TTL_S``, without touching the store (else None)."""
    if not token:
        return None
    key = (id(store), _token_hash(token))
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached is not None and time.monotonic() - cached[0] < TOKEN_TTL_S:
        return cached[1]
    return None


def authenticate_token(store: Store, token: str | None) -> Principal:
    """The principal owning a bearer ``token``; :class:`AuthenticationError` otherwise."""
    if not token:
        raise AuthenticationError("missing bearer token: send 'Authorization: Bearer <token>'")
    digest = _token_hash(token)
    key = (id(store), digest)
    now = time.monotonic()
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached is not None and now - cached[0] < TOKEN_TTL_S:
        return cached[1]
    with store.read() as conn:
        row = repo.user_by_token(conn, digest)
    if row is None:
        with _tokens_lock:
            _tokens.pop(key, None)
        raise AuthenticationError("unknown or revoked token")
    found = Principal(int(row["id"]), str(row["name"]), Role(row["role"]), int(row["project_id"]), str(row["project"]))
    with _tokens_lock:
        if len(_tokens) > 100_000:
            _tokens.clear()
        _tokens[key] = (now, found)
    return found


def allowed(principal: Principal, permission: str) -> bool:
    """Whether ``principal``'s role grants ``permission`` (in their own project)."""
    return principal.role in PERMISSIONS[permission]


def require(principal: Principal, permission: str, project: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``principal`` may do ``permission`` in ``project``."""
    if principal.project != project:
        raise PermissionDeniedError(f"user '{principal.name}' is not a member of project '{project}'")
    if principal.role not in PERMISSIONS[permission]:
        raise PermissionDeniedError(f"role '{principal.role.value}' may not {permission.replace('.', ' ')}")


# -- members (the web app's settings page) ------------------------------------------------------------


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInputError(f"unknown role '{role}' (one of: {', '.join(r.value for r in Role)})") from None


def _forget_cached(user_id: int) -> None:
    """Drop the user's verified tokens from this process's cache (a changed role or password counts at once)."""
    with _tokens_lock:
        for key in [k for k, (_t, p) in _tokens.items() if p.user_id == user_id]:
            _tokens.pop(key, None)


def _end_cached_sessions(store: Store, user_id: int) -> None:
    """Forget the user's verified web sessions in this process (a revoked one or a new role counts at once)."""
    from labelloop.governance.sessions import forget_user  # sessions imports this module

    forget_user(store, user_id)


def list_members(project: Project) -> list[dict[str, Any]]:
    """The project's members, by name: ``name``, ``role``, ``created_at``, ``has_password`` (may log in to
    the web app), ``live_tokens`` (API tokens neither revoked nor expired), ``paused`` (by gold checks)."""
    with project.store.read() as conn:
        rows = repo.members(conn, project.id)
    return [
        {
            "name": str(name),
            "role": str(role),
            "created_at": float(created),
            "has_password": bool(password_hash),
            "live_tokens": int(tokens or 0),
            "paused": paused is not None,
        }
        for name, role, created, password_hash, paused, tokens in rows
    ]


def set_role(project: Project, name: str, role: str, actor: str = "cli") -> dict[str, Any]:
    """Give member ``name`` another role (audited with the old and new role).

    :class:`ConflictError` when it would leave the project without an admin; the change applies to the
    member's tokens at once in this process and within ``TOKEN_TTL_S`` elsewhere, and to their web
    sessions within the sessions' cache time.
    """
    new = _role(role)
    with project.store.write() as conn:
        user = repo.find_user(conn, project.id, name)
        if user is None:
            raise NotFoundError(f"no user '{name}' in project {project.name}")
        old = str(user["role"])
        if old == new.value:
            return {"user": name, "role": new.value, "changed": False}
        if old == Role.ADMIN.value and repo.count_role(conn, project.id, Role.ADMIN.value) <= 1:
            raise ConflictError(f"'{name}' is the project's last admin: make someone else admin first")
        repo.set_user_role(conn, int(user["id"]), new.value)
        repo.audit(
            conn, project.id, actor, "user.role", name, role=new.value, previous=old,
            before=digest_of([name, old]), after=digest_of([name, new.value]),
        )  # fmt: skip
    _forget_cached(int(user["id"]))
    _end_cached_sessions(project.store, int(user["id"]))
    return {"user": name, "role": new.value, "previous": old, "changed": True}


def set_password(project: Project, name: str, password: str, actor: str = "cli") -> dict[str, Any]:
    """Set member ``name``'s web app password (8 to ``MAX_PASSWORD`` characters) and end their web sessions
    (audited; the password itself is never logged)."""
    if not 8 <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(f"the password must have 8 to {MAX_PASSWORD} characters")
    password_hash = hash_password(password)
    with project.store.write() as conn:
        user = repo.find_user(conn, project.id, name)
        if user is None:
            raise NotFoundError(f"no user '{name}' in project {project.name}")
        repo.set_user_password(conn, int(user["id"]), password_hash)
        ended = repo.revoke_user_sessions(conn, int(user["id"]))
        repo.audit(conn, project.id, actor, "user.password", name, sessions_ended=int(ended or 0))
    _end_cached_sessions(project.store, int(user["id"]))
    return {"user": name, "sessions_ended": int(ended or 0)}
