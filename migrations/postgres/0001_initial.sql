-- The relay's durable state: rooms, their documents, and each document's append-only
-- operation log. The SQLite schema in ../sqlite is the same model; keep them in step.

CREATE TABLE rooms (
    id             TEXT   PRIMARY KEY,
    created_at_ms  BIGINT NOT NULL,
    -- Updated while the room is in use, so a retention job can find abandoned rooms.
    last_active_ms BIGINT NOT NULL
);

CREATE INDEX rooms_last_active_ms ON rooms (last_active_ms);

CREATE TABLE documents (
    -- A surrogate key keeps the operation log narrow and is never reused after a delete.
    id                BIGSERIAL PRIMARY KEY,
    room_id           TEXT   NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    path              TEXT   NOT NULL,
    language          TEXT   NOT NULL,
    -- The text at snapshot_revision; the log rows after it rebuild the current text.
    snapshot          TEXT   NOT NULL,
    snapshot_revision BIGINT NOT NULL CHECK (snapshot_revision >= 0),
    created_at_ms     BIGINT NOT NULL,
    -- This constraint's index also serves every "documents of a room" lookup.
    CONSTRAINT documents_room_path UNIQUE (room_id, path)
);

CREATE TABLE operations (
    document_id     BIGINT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    -- The document revision this operation produced: the first edit of a new document is 1.
    revision        BIGINT NOT NULL CHECK (revision > 0),
    author          TEXT   NOT NULL,
    client_id       TEXT   NOT NULL,
    client_seq      BIGINT NOT NULL CHECK (client_seq >= 0),
    -- The operation as compact JSON, exactly as pairprog-protocol serialises it.
    operation       TEXT   NOT NULL,
    committed_at_ms BIGINT NOT NULL,
    -- One operation per revision: a second writer for the same revision must fail.
    CONSTRAINT operations_pkey PRIMARY KEY (document_id, revision),
    -- Lets the relay recognise a resent operation even after it restarted.
    CONSTRAINT operations_client_seq UNIQUE (document_id, client_id, client_seq)
);
