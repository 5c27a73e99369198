-- Kept in step with ../postgres/0003_scale_out.sql. Only Postgres can be shared by
-- several relays (an SQLite file belongs to one process), so the relays and presence
-- tables exist only there; the log's participant column is common to both.
ALTER TABLE operations ADD COLUMN participant_id TEXT NOT NULL DEFAULT '';
