"""The sandbox's state in SQLite: clients, users, browser sessions, codes, tokens, messages.

One connection shared by the server's threads behind a lock; WAL mode and a commit per write,
so a restart (or a ``kill -9``) loses nothing that was answered. Codes, tokens and session ids
are stored as SHA-256 hashes: the database never holds a usable credential, except the demo
client's secret, which the sandbox must be able to show to its own learner.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .defaults import private_dir, private_file

DB_NAME = "sandbox.sqlite3"
#: Bytes the write-ahead log is cut back to after a checkpoint.
WAL_LIMIT = 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id     TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL,
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,   -- JSON list
    scopes        TEXT NOT NULL,   -- space-separated: the scopes set on this client
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    email         TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    user_id       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,
    csrf_token   TEXT NOT NULL,
    email        TEXT,
    expires_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    txn_hash     TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    uri          TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state        TEXT,
    expires_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    code_hash          TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    email              TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given INTEGER NOT NULL,
    scopes             TEXT NOT NULL,
    challenge          TEXT,
    challenge_method   TEXT,
    expires_at         REAL NOT NULL,
    used               INTEGER NOT NULL DEFAULT 0,
    reused             INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,      -- 'access' or 'refresh'
    client_id  TEXT NOT NULL,
    email      TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    family     TEXT NOT NULL,      -- every token descending from one authorization code
    code_hash  TEXT,
    expires_at REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    rotated    INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_family ON tokens(family);
CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions(email, expires_at);
CREATE INDEX IF NOT EXISTS pending_by_session ON pending(session_hash, expires_at);
CREATE INDEX IF NOT EXISTS pending_by_age ON pending(expires_at);
CREATE INDEX IF NOT EXISTS tokens_code ON tokens(code_hash);
CREATE TABLE IF NOT EXISTS messages (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    contacts   TEXT NOT NULL,      -- JSON list
    body       TEXT NOT NULL,
    email      TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

#: What one browser, or everyone who never signed in, can leave behind: a session keeps its
#: newest pending authorization requests, the newest sessions nobody signed in to stay, and
#: the newest pending requests overall (each at most ~2.7 KB: see server.MAX_AUTHORIZE_CHARS).
PENDING_PER_SESSION = 10
ANONYMOUS_SESSIONS = 1000
PENDING_ALL = 1000
# Pruning deletes what is older than the N-th newest row (the subquery is NULL while there are
# fewer): an index walk to it, then only the rows that go.
_PRUNE_ANONYMOUS_PENDING = (
    "DELETE FROM pending WHERE session_hash IN (SELECT session_hash FROM sessions WHERE email "
    "IS NULL AND expires_at < (SELECT expires_at FROM sessions WHERE email IS NULL "
    "ORDER BY expires_at DESC LIMIT 1 OFFSET ?))"
)
_PRUNE_ANONYMOUS = (
    "DELETE FROM sessions WHERE email IS NULL AND expires_at < (SELECT expires_at FROM sessions "
    "WHERE email IS NULL ORDER BY expires_at DESC LIMIT 1 OFFSET ?)"
)

#: Salted PBKDF2-SHA256, as a real server stores passwords, but with a teaching sandbox's
#: iteration count: its passwords are a demo one printed on the login page and learners' test
#: accounts, in a database on their own machine. 1,000 rounds cost ~0.2 ms a login, so a class
#: signing in at once is not spent hashing (20,000 cost ~5 ms: a third of a whole sign-in). A
#: real server uses far more (OWASP: 600,000 for PBKDF2-SHA256) or scrypt/Argon2.
PBKDF2_ITERATIONS = 1_000


def digest(value: str) -> str:
    """The stored form of a code, token or session id."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2${PBKDF2_ITERATIONS}${salt.hex()}${dk.hex()}"


#: Checked against when an email is unknown, so that a wrong email costs the same hashing as a
#: wrong password and the time taken does not tell which emails have accounts.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``pbkdf2$<iterations>$<salt>$<key>`` hash."""
    try:
        scheme, count, salt_hex, dk_hex = stored.split("$")
        iterations = int(count)
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "pbkdf2" or iterations < 1:
        return False
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(dk.hex(), dk_hex)


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class User:
    email: str
    display_name: str
    user_id: str


@dataclass(frozen=True)
class Code:
    client_id: str
    email: str
    redirect_uri: str
    redirect_uri_given: bool
    scopes: tuple[str, ...]
    challenge: str | None
    challenge_method: str | None
    expires_at: float
    used: bool


@dataclass(frozen=True)
class TokenRow:
    kind: str
    client_id: str
    email: str
    scopes: tuple[str, ...]
    family: str
    code_hash: str | None
    expires_at: float
    revoked: bool
    rotated: bool


@dataclass(frozen=True)
class Session:
    """A browser's session: the hash of its cookie's id, its CSRF token, who signed in."""

    hash: str
    csrf: str
    email: str | None = None


@dataclass(frozen=True)
class Pending:
    session_hash: str
    uri: str
    scopes: tuple[str, ...]
    client_id: str
    redirect_uri: str
    state: str | None
    expires_at: float


class Store:
    """Every read and write the sandbox makes, one small method each."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = private_dir(data_dir)
        # 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's mode.
        self.path = private_file(self.data_dir / DB_NAME)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=10, check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._db.executescript(SCHEMA)
        for suffix in ("-wal", "-shm"):  # left by an older sandbox with a looser mode
            extra = self.path.with_name(DB_NAME + suffix)
            if extra.exists():
                private_file(extra)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- plumbing ---------------------------------------------------------------------------

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _write(self, sql: str, args: tuple = ()) -> int:
        """Run one write in its own transaction; return the number of rows changed."""
        return self._write_all([(sql, args)])[0]

    def _write_all(self, statements: list[tuple[str, tuple]]) -> list[int]:
        """Run several writes in one transaction; return the rows each changed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = [self._db.execute(sql, args).rowcount for sql, args in statements]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return counts

    # --- clients and users ------------------------------------------------------------------

    def put_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        name: str,
        redirect_uris: tuple[str, ...] | list[str],
        scopes: tuple[str, ...] | list[str],
    ) -> Client:
        self._write(
            "INSERT INTO clients VALUES (?,?,?,?,?,?) ON CONFLICT(client_id) DO UPDATE SET "
            "client_secret=excluded.client_secret, name=excluded.name, "
            "redirect_uris=excluded.redirect_uris, scopes=excluded.scopes",
            (
                client_id,
                client_secret,
                name,
                json.dumps(list(redirect_uris)),
                " ".join(scopes),
                time.time(),
            ),
        )
        return Client(client_id, client_secret, name, tuple(redirect_uris), tuple(scopes))

    def get_client(self, client_id: str | None) -> Client | None:
        if not client_id:
            return None
        row = self._one("SELECT * FROM clients WHERE client_id=?", (client_id,))
        if row is None:
            return None
        return Client(
            row["client_id"],
            row["client_secret"],
            row["name"],
            tuple(json.loads(row["redirect_uris"])),
            tuple(row["scopes"].split()),
        )

    def put_user(self, email: str, password: str, display_name: str | None = None) -> User:
        existing = self._one("SELECT * FROM users WHERE email=?", (email,))
        user_id = existing["user_id"] if existing else str(_uuid())
        name = display_name or (existing["display_name"] if existing else _name_from(email))
        if existing and check_password(password, existing["password_hash"]):
            stored = existing["password_hash"]  # unchanged: skip rehashing
        else:
            stored = hash_password(password)
        self._write(
            "INSERT INTO users VALUES (?,?,?,?) ON CONFLICT(email) DO UPDATE SET "
            "password_hash=excluded.password_hash, display_name=excluded.display_name",
            (email, stored, name, user_id),
        )
        return User(email, name, user_id)

    def get_user(self, email: str | None) -> User | None:
        if not email:
            return None
        row = self._one("SELECT * FROM users WHERE email=?", (email,))
        return User(row["email"], row["display_name"], row["user_id"]) if row else None

    def check_login(self, email: str, password: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE lower(email)=lower(?)", (email.strip(),))
        matches = check_password(password, row["password_hash"] if row else _DUMMY_HASH)
        if row is None or not matches:
            return None
        return User(row["email"], row["display_name"], row["user_id"])

    # --- browser sessions and pending authorization requests --------------------------------

    def new_session(self, lifetime: float) -> tuple[str, str]:
        """A new session nobody signed in to: (session id for the cookie, CSRF token).

        Such sessions are capped (``ANONYMOUS_SESSIONS``, the oldest go first, with their
        pending requests), so requests without a cookie cannot fill the database.
        """
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self._write_all(
            [
                (
                    "INSERT INTO sessions VALUES (?,?,?,?)",
                    (digest(session_id), csrf, None, time.time() + lifetime),
                ),
                (_PRUNE_ANONYMOUS_PENDING, (ANONYMOUS_SESSIONS - 1,)),
                (_PRUNE_ANONYMOUS, (ANONYMOUS_SESSIONS - 1,)),
            ]
        )
        return session_id, csrf

    def sign_in(self, old_hash: str, email: str, lifetime: float) -> tuple[str, str]:
        """Replace a session with a new one signed in as ``email``, its pending requests moved
        over: (new session id, new CSRF token). The old id stops working."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        new_hash = digest(session_id)
        self._write_all(
            [
                (
                    "INSERT INTO sessions VALUES (?,?,?,?)",
                    (new_hash, csrf, email, time.time() + lifetime),
                ),
                ("UPDATE pending SET session_hash=? WHERE session_hash=?", (new_hash, old_hash)),
                ("DELETE FROM sessions WHERE session_hash=?", (old_hash,)),
            ]
        )
        return session_id, csrf

    def end_session(self, session_hash: str) -> None:
        """Forget a session and its pending requests (sign-out)."""
        self._write_all(
            [
                ("DELETE FROM sessions WHERE session_hash=?", (session_hash,)),
                ("DELETE FROM pending WHERE session_hash=?", (session_hash,)),
            ]
        )

    def get_session(self, session_id: str | None) -> Session | None:
        """The live session of a cookie's session id, else None."""
        if not session_id:
            return None
        row = self._one(
            "SELECT * FROM sessions WHERE session_hash=? AND expires_at>?",
            (digest(session_id), time.time()),
        )
        return Session(row["session_hash"], row["csrf_token"], row["email"]) if row else None

    def put_pending(
        self,
        session_hash: str,
        *,
        uri: str,
        scopes: list[str],
        client_id: str,
        redirect_uri: str,
        state: str | None,
        lifetime: float,
    ) -> str:
        """Keep an authorization request for the login and consent pages; a session keeps its
        ``PENDING_PER_SESSION`` newest (a learner clicking sign-in again and again)."""
        txn = secrets.token_urlsafe(16)
        self._write_all(
            [
                (
                    "INSERT INTO pending VALUES (?,?,?,?,?,?,?,?)",
                    (
                        digest(txn),
                        session_hash,
                        uri,
                        " ".join(scopes),
                        client_id,
                        redirect_uri,
                        state,
                        time.time() + lifetime,
                    ),
                ),
                (
                    "DELETE FROM pending WHERE session_hash=? AND expires_at < (SELECT "
                    "expires_at FROM pending WHERE session_hash=? ORDER BY expires_at DESC "
                    "LIMIT 1 OFFSET ?)",
                    (session_hash, session_hash, PENDING_PER_SESSION - 1),
                ),
                (
                    "DELETE FROM pending WHERE expires_at < (SELECT expires_at FROM pending "
                    "ORDER BY expires_at DESC LIMIT 1 OFFSET ?)",
                    (PENDING_ALL - 1,),
                ),
            ]
        )
        return txn

    def get_pending(self, txn: str | None, session_hash: str) -> Pending | None:
        if not txn:
            return None
        row = self._one(
            "SELECT * FROM pending WHERE txn_hash=? AND session_hash=? AND expires_at>?",
            (digest(txn), session_hash, time.time()),
        )
        if row is None:
            return None
        return Pending(
            row["session_hash"],
            row["uri"],
            tuple(row["scopes"].split()),
            row["client_id"],
            row["redirect_uri"],
            row["state"],
            row["expires_at"],
        )

    def purge_expired(self) -> None:
        """Forget expired sessions and pending requests (codes and tokens stay, for replays)."""
        now = time.time()
        self._write_all(
            [
                ("DELETE FROM pending WHERE expires_at<?", (now,)),
                ("DELETE FROM sessions WHERE expires_at<?", (now,)),
            ]
        )

    def take_pending(self, txn: str, session_hash: str) -> bool:
        """Consume a pending request (once): True for the one caller that got it."""
        return (
            self._write(
                "DELETE FROM pending WHERE txn_hash=? AND session_hash=?",
                (digest(txn), session_hash),
            )
            == 1
        )

    # --- authorization codes ----------------------------------------------------------------

    def put_code(
        self,
        code: str,
        *,
        client_id: str,
        email: str,
        redirect_uri: str,
        redirect_uri_given: bool,
        scopes: list[str],
        challenge: str | None,
        challenge_method: str | None,
        lifetime: float,
    ) -> None:
        self._write(
            "INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?,0,0)",
            (
                digest(code),
                client_id,
                email,
                redirect_uri,
                int(redirect_uri_given),
                " ".join(scopes),
                challenge,
                challenge_method,
                time.time() + lifetime,
            ),
        )

    def get_code(self, code: str | None) -> Code | None:
        if not code:
            return None
        row = self._one("SELECT * FROM codes WHERE code_hash=?", (digest(code),))
        if row is None:
            return None
        return Code(
            row["client_id"],
            row["email"],
            row["redirect_uri"],
            bool(row["redirect_uri_given"]),
            tuple(row["scopes"].split()),
            row["challenge"],
            row["challenge_method"],
            row["expires_at"],
            bool(row["used"]),
        )

    def claim_code(self, code: str) -> bool:
        """Mark a code used, atomically: True for exactly one caller (RFC 6749 §4.1.2)."""
        return (
            self._write("UPDATE codes SET used=1 WHERE code_hash=? AND used=0", (digest(code),))
            == 1
        )

    def mark_code_reused(self, code: str) -> int:
        """Flag a replayed code and revoke every token issued from it; return how many."""
        code_hash = digest(code)
        with self._lock:
            self._write("UPDATE codes SET reused=1 WHERE code_hash=?", (code_hash,))
            return self._revoke_families_of_code(code_hash)

    def _revoke_families_of_code(self, code_hash: str) -> int:
        return self._write(
            "UPDATE tokens SET revoked=1 WHERE revoked=0 AND family IN "
            "(SELECT family FROM tokens WHERE code_hash=?)",
            (code_hash,),
        )

    # --- tokens -----------------------------------------------------------------------------

    def put_token(
        self,
        token: str,
        *,
        kind: str,
        client_id: str,
        email: str,
        scopes: list[str] | tuple[str, ...],
        family: str,
        code: str | None,
        lifetime: float,
    ) -> None:
        code_hash = digest(code) if code else None
        with self._lock:
            self._write(
                "INSERT INTO tokens VALUES (?,?,?,?,?,?,?,?,0,0,?)",
                (
                    digest(token),
                    kind,
                    client_id,
                    email,
                    " ".join(scopes),
                    family,
                    code_hash,
                    time.time() + lifetime,
                    time.time(),
                ),
            )
            # A replay of the code may have raced this exchange: its tokens die at birth.
            if code_hash and self._one(
                "SELECT 1 FROM codes WHERE code_hash=? AND reused=1", (code_hash,)
            ):
                self._revoke_families_of_code(code_hash)

    def get_token(self, token: str | None, kind: str | None = None) -> TokenRow | None:
        if not token:
            return None
        row = self._one("SELECT * FROM tokens WHERE token_hash=?", (digest(token),))
        if row is None or (kind and row["kind"] != kind):
            return None
        return TokenRow(
            row["kind"],
            row["client_id"],
            row["email"],
            tuple(row["scopes"].split()),
            row["family"],
            row["code_hash"],
            row["expires_at"],
            bool(row["revoked"]),
            bool(row["rotated"]),
        )

    def claim_refresh_token(self, token: str) -> bool:
        """Retire a refresh token being rotated, atomically: True for exactly one caller."""
        return (
            self._write(
                "UPDATE tokens SET rotated=1 WHERE token_hash=? AND kind='refresh' "
                "AND rotated=0 AND revoked=0",
                (digest(token),),
            )
            == 1
        )

    def revoke_token(self, token: str) -> int:
        return self._write("UPDATE tokens SET revoked=1 WHERE token_hash=?", (digest(token),))

    def revoke_family(self, family: str) -> int:
        return self._write("UPDATE tokens SET revoked=1 WHERE family=? AND revoked=0", (family,))

    def expire_access_tokens(self) -> int:
        """Make every live access token expire now (a fault switch)."""
        now = time.time()
        return self._write(
            "UPDATE tokens SET expires_at=? WHERE kind='access' AND expires_at>?", (now, now)
        )

    # --- messages ---------------------------------------------------------------------------

    def put_message(
        self, *, owner: str, contacts: list[str], body: str, email: str, client_id: str
    ) -> dict:
        message_id = str(_uuid())
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._write(
            "INSERT INTO messages VALUES (?,?,?,?,?,?,?)",
            (message_id, owner, json.dumps(contacts), body, email, client_id, created),
        )
        return {
            "id": message_id,
            "ownerPhoneNumber": owner,
            "contactPhoneNumbers": contacts,
            "body": body,
            "direction": "OUT",
            "authorEmail": email,
            "timestamp": created,
        }

    def count_messages(self) -> int:
        row = self._one("SELECT count(*) AS n FROM messages")
        return int(row["n"]) if row else 0


def _uuid():
    import uuid

    return uuid.uuid4()


def _name_from(email: str) -> str:
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)
