"""Web app sessions: log in with a name and password, a cookie token, a CSRF token.

The cookie carries a random 32-byte token; the store keeps only its SHA-256, the user it
belongs to and the session's CSRF token, which every state-changing request of the web app
must echo (a form field or the ``X-CSRF-Token`` header). A session lasts ``SESSION_HOURS``
and logout revokes it at once. A user is a member of one project; when the same name
exists in several projects the login form's optional project picks one, else the oldest
membership whose password matches wins.

Failed logins are throttled per name in this process (``MAX_FAILURES`` within
``FAILURE_WINDOW_S``), and an unknown name costs the same password check as a known one,
so neither timing nor the answer tells which names exist.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from labelloop.errors import AuthenticationError, InvalidInputError, PermissionDeniedError
from labelloop.governance.service import MAX_PASSWORD, Principal, Role, hash_password, verify_password
from labelloop.store import repo
from labelloop.store.engine import Store

__all__ = [
    "COOKIE",
    "SESSION_HOURS",
    "WebSession",
    "authenticate_session",
    "cached_session",
    "check_csrf",
    "forget_user",
    "log_in",
    "log_out",
]

#: The session cookie's name.
COOKIE = "labelloop_session"
#: Hours a web session lives.
SESSION_HOURS = 12
#: Failed logins of one name allowed within ``FAILURE_WINDOW_S`` before further tries are refused.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0
#: Seconds a verified session is trusted without asking the store again (logout here is immediate).
SESSION_TTL_S = 5.0


@dataclass(frozen=True)
class WebSession:
    """A logged-in user: the cookie token (only now in clear), the CSRF token and who it is."""

    token: str
    csrf_token: str
    principal: Principal


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, made on the first failed lookup (argon2 costs ~50 ms: not at import)."""
    return hash_password(secrets.token_urlsafe(16))


_failures: dict[str, deque[float]] = {}
_failures_lock = threading.Lock()
_cache: WeakKeyDictionary[Store, dict[str, tuple[float, WebSession]]] = WeakKeyDictionary()
_cache_lock = threading.Lock()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttled(name: str, now: float) -> bool:
    with _failures_lock:
        recent = _failures.get(name)
        if recent is None:
            return False
        while recent and now - recent[0] > FAILURE_WINDOW_S:
            recent.popleft()
        return len(recent) >= MAX_FAILURES


def _failed(name: str, now: float) -> None:
    with _failures_lock:
        if len(_failures) > 10_000:
            # bounded memory, but never by forgetting a name that is throttled now: spraying other names
            # must not lift a throttle (only expired and below-limit entries go)
            for key in list(_failures):
                recent = _failures[key]
                while recent and now - recent[0] > FAILURE_WINDOW_S:
                    recent.popleft()
                if len(recent) < MAX_FAILURES:
                    del _failures[key]
        _failures.setdefault(name, deque()).append(now)


def log_in(store: Store, username: str, password: str, project: str | None = None) -> WebSession:
    """Check a name and password and open a session; :class:`AuthenticationError` on a mismatch."""
    username = username.strip()
    if not username or not password:
        raise InvalidInputError("enter your user name and password")
    if len(username) > 64 or len(password) > MAX_PASSWORD:
        raise AuthenticationError("wrong user name or password")
    now = time.time()
    if _throttled(username, now):
        raise AuthenticationError(f"too many failed logins for '{username}': wait a few minutes and try again")
    with store.read() as conn:
        candidates = repo.users_named(conn, username)
    if project:
        candidates = [c for c in candidates if c["project"] == project]
    match = None
    for candidate in candidates:
        if verify_password(password, candidate["password_hash"]):
            match = candidate
            break
    if not any(c["password_hash"] for c in candidates):
        # an unknown name, or members without a password (API-only): the same cost as a real check
        verify_password(password, _dummy_hash())
    if match is None:
        _failed(username, now)
        raise AuthenticationError("wrong user name or password")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    principal = Principal(
        int(match["id"]), str(match["name"]), Role(match["role"]), int(match["project_id"]), str(match["project"])
    )
    with store.write() as conn:
        repo.add_web_session(conn, principal.user_id, _digest(token), csrf, now + SESSION_HOURS * 3600)
        repo.audit(conn, principal.project_id, principal.name, "session.login", principal.name)
    with _failures_lock:
        _failures.pop(username, None)
    return WebSession(token, csrf, principal)


def cached_session(store: Store, token: str | None) -> WebSession | None:
    """The session of ``token`` if verified within ``SESSION_TTL_S``, without touching the store."""
    if not token:
        return None
    with _cache_lock:
        known = _cache.get(store, {}).get(_digest(token))
    if known is not None and time.monotonic() - known[0] < SESSION_TTL_S:
        return known[1]
    return None


def authenticate_session(store: Store, token: str | None) -> WebSession:
    """The live session of a cookie ``token``; :class:`AuthenticationError` otherwise."""
    if not token:
        raise AuthenticationError("not logged in")
    digest = _digest(token)
    now = time.monotonic()
    with _cache_lock:
        known = _cache.get(store, {}).get(digest)
    if known is not None and now - known[0] < SESSION_TTL_S:
        return known[1]
    with store.read() as conn:
        row = repo.web_session(conn, digest)
    if row is None:
        with _cache_lock:
            _cache.get(store, {}).pop(digest, None)
        raise AuthenticationError("your session has ended: log in again")
    session = WebSession(
        token,
        str(row["csrf_token"]),
        Principal(int(row["id"]), str(row["name"]), Role(row["role"]), int(row["project_id"]), str(row["project"])),
    )
    with _cache_lock:
        entries = _cache.setdefault(store, {})
        if len(entries) > 10_000:
            entries.clear()
        entries[digest] = (now, session)
    return session


def log_out(store: Store, token: str | None) -> None:
    """Revoke the session of ``token`` (nothing happens for an unknown one)."""
    if not token:
        return
    digest = _digest(token)
    with _cache_lock:
        _cache.get(store, {}).pop(digest, None)
    with store.write() as conn:
        row = repo.web_session(conn, digest)
        if repo.revoke_web_session(conn, digest) and row is not None:
            repo.audit(conn, int(row["project_id"]), str(row["name"]), "session.logout", str(row["name"]))


def forget_user(store: Store, user_id: int) -> None:
    """Drop a user's verified sessions from this process's cache (after their role or password changed)."""
    with _cache_lock:
        entries = _cache.get(store, {})
        for digest in [d for d, (_at, s) in entries.items() if s.principal.user_id == user_id]:
            entries.pop(digest, None)


def check_csrf(session: WebSession, sent: str | None) -> None:
    """Refuse a state-changing request whose CSRF token is not the session's."""
    if not sent or not secrets.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise PermissionDeniedError("missing or wrong CSRF token: reload the page and try again")
