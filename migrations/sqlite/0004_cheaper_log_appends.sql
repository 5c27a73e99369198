-- Kept in step with ../postgres/0004_cheaper_log_appends.sql: the retention job finds old
-- operations through each document's first log row (the primary key), so no index on
-- committed_at_ms is written with every operation.
DROP INDEX IF EXISTS operations_committed_at_ms;
