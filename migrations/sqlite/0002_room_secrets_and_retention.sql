-- Room secrets: the SHA-256 of the join secret and of the read-only secret, never the
-- secrets themselves (they are 256-bit random values, so a plain hash cannot be brute
-- forced). NULL for rooms created without secrets, which anyone who knows the room id
-- may join unless the relay runs with --require-room-secret. Keep in step with
-- ../postgres.
ALTER TABLE rooms ADD COLUMN join_secret_hash BLOB;
ALTER TABLE rooms ADD COLUMN read_only_secret_hash BLOB;

-- The retention job finds operations older than --history-ttl by their commit time.
CREATE INDEX operations_committed_at_ms ON operations (committed_at_ms);
