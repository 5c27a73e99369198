-- The relay's durable state: rooms, their documents, and each document's append-only
-- operation log. The Postgres schema in ../postgres is the same model; keep them in step.
-- STRICT tables make SQLite reject values of the wrong type instead of storing them.

CREATE TABLE rooms (
    id             TEXT    NOT NULL PRIMARY KEY,
    created_at_ms  INTEGER NOT NULL,
    -- Updated while the room is in use, so a retention job can find abandoned rooms.
    last_active_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX rooms_last_active_ms ON rooms (last_active_ms);

CREATE TABLE documents (
    -- AUTOINCREMENT guarantees an id is never reused after a delete, like a Postgres
    -- sequence, so a stale in-memory reference can never address another document.
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id           TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    path              TEXT    NOT NULL,
    language          TEXT    NOT NULL,
    -- The text at snapshot_revision; the log rows after it rebuild the current text.
    snapshot          TEXT    NOT NULL,
    snapshot_revision INTEGER NOT NULL CHECK (snapshot_revision >= 0),
    created_at_ms     INTEGER NOT NULL,
    -- This constraint's index also serves every "documents of a room" lookup.
    UNIQUE (room_id, path)
) STRICT;

CREATE TABLE operations (
    document_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    -- The document revision this operation produced: the first edit of a new document is 1.
    revision        INTEGER NOT NULL CHECK (revision > 0),
    author          TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    client_seq      INTEGER NOT NULL CHECK (client_seq >= 0),
    -- The operation as compact JSON, exactly as pairprog-protocol serialises it.
    operation       TEXT    NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    -- One operation per revision: a second writer for the same revision must fail.
    PRIMARY KEY (document_id, revision),
    -- Lets the relay recognise a resent operation even after it restarted.
    UNIQUE (document_id, client_id, client_seq)
) STRICT, WITHOUT ROWID;
