-- Every logged operation paid for a B-tree entry on committed_at_ms (a WAL record and a
-- page write per keystroke), only so the retention job could find documents with old
-- operations. Compaction folds a prefix of a document's log into its snapshot and stops
-- at the first operation too young to fold, so whether a document has work is decided by
-- its first log row alone, which the primary key (document_id, revision) reaches
-- directly: the retention job now asks that of each document instead (see
-- relay/src/store/sql.rs, DOCUMENTS_WITH_OLD_OPERATIONS). Keep in step with ../sqlite.
DROP INDEX IF EXISTS operations_committed_at_ms;
