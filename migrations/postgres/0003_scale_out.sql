-- Several relays may share this database (ARCHITECTURE.md, "Scale-out").

-- The participant who sent each operation, so a relay that reads operations from the log
-- (instead of from another relay's notification) can still name their author. Rows
-- written before this migration name nobody.
ALTER TABLE operations ADD COLUMN participant_id TEXT NOT NULL DEFAULT '';

-- Every relay process alive, by the random id it picked at start, with the last time it
-- said so. A relay silent for longer than its peers' timeout is taken for dead.
CREATE TABLE relays (
    id           TEXT   PRIMARY KEY,
    last_seen_ms BIGINT NOT NULL
);

-- Who is connected to which room, through which relay: a relay that starts serving a
-- room reads the participants connected elsewhere from here, then follows the joins
-- and leaves announced on the notification channel.
CREATE TABLE presence (
    room_id        TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    participant_id TEXT    NOT NULL,
    relay_id       TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    color          TEXT    NOT NULL,
    read_only      BOOLEAN NOT NULL,
    joined_at_ms   BIGINT  NOT NULL,
    CONSTRAINT presence_pkey PRIMARY KEY (room_id, participant_id)
);

CREATE INDEX presence_relay_id ON presence (relay_id);
