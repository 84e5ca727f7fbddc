-- plugin-metastore schema: the change feed.
--
-- A reader (a desktop app's window, `plugin-metastore watch`) asks "which
-- plugins were inserted, updated or deleted since my cursor?" and gets them
-- in the order their transactions committed, whoever made them: the
-- library in any process, or a person in sqlite3.
--
-- Commit order, not clock order: `change_log.seq` is the row id SQLite
-- assigns when the row is written, and rows are only written by a
-- transaction that holds the database's one write lock. A transaction that
-- commits after another therefore wrote all its rows after the other's, so
-- every one of its seqs is larger. (A timestamp taken when a long
-- transaction starts can be older than one taken by a short transaction
-- that commits first.) Seqs only grow: the newest row is never deleted.
--
-- Who writes the log:
-- - The library, itself: a write transaction puts its number into
--   `change_feed.writing_txn` first, and just before it commits writes one
--   row per plugin it changed (tagged with that number) and clears the
--   number again, so no other connection ever sees it set.
-- - Triggers, for everything else (sqlite3, other tools): one row per
--   changed table row, `txn` NULL. They do nothing while `writing_txn` is
--   set, i.e. inside a library transaction. (Rows written by triggers for
--   the library's saves too, one trigger program per table row, cost a
--   large save about a third more than rows the library writes.)
--
-- The log is bounded: when the library starts a write transaction and finds
-- the log more than a quarter over `capacity` rows, it deletes the oldest
-- rows down to `capacity` in one range delete and records the newest seq it
-- deleted in `pruned_through`; a reader whose cursor is older than that is
-- told to re-read everything. (Pruning is never done per row in a trigger:
-- a trial doing that doubled the time of a large save.) A transaction that
-- changes more plugins than `capacity` writes only the newest `capacity`
-- rows, with the seqs they would have had, and marks the rest pruned.
--
-- Do not edit these two tables by hand: deleting log rows makes readers
-- miss changes. To keep a longer log: UPDATE change_feed SET capacity = 100000;

CREATE TABLE change_feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    -- The number of the library write transaction in progress on this
    -- connection; NULL whenever anyone else can look.
    writing_txn    INTEGER CHECK (writing_txn IS NULL OR typeof(writing_txn) = 'integer'),
    -- The newest seq deleted from the log (0: nothing deleted yet).
    pruned_through INTEGER NOT NULL DEFAULT 0
                   CHECK (typeof(pruned_through) = 'integer' AND pruned_through >= 0),
    -- How many rows the log keeps at least.
    capacity       INTEGER NOT NULL DEFAULT 10000
                   CHECK (typeof(capacity) = 'integer' AND capacity >= 1)
);
INSERT INTO change_feed (id) VALUES (1);

-- One row per changed plugin per library transaction (per row for hand
-- edits). `plugin_id` is not a foreign key: a deleted plugin's rows stay.
-- `txn` is the library transaction's number, NULL for a hand edit.
CREATE TABLE change_log (
    seq       INTEGER PRIMARY KEY,
    txn       INTEGER CHECK (txn IS NULL OR typeof(txn) = 'integer'),
    plugin_id INTEGER NOT NULL,
    category  TEXT    NOT NULL CHECK (typeof(category) = 'text'),
    name      TEXT    NOT NULL CHECK (typeof(name) = 'text'),
    op        TEXT    NOT NULL CHECK (op IN ('insert', 'update', 'delete'))
);

-- Hand edits. Every trigger is off inside a library transaction
-- (`writing_txn` set). plugins: insert, update (a changed key is the old
-- key deleted and the new one inserted), delete.
CREATE TRIGGER change_log_plugin_inserted AFTER INSERT ON plugins
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    VALUES (NEW.id, NEW.category, NEW.name, 'insert');
END;

CREATE TRIGGER change_log_plugin_updated AFTER UPDATE ON plugins
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT OLD.id, OLD.category, OLD.name, 'delete'
    WHERE OLD.category IS NOT NEW.category OR OLD.name IS NOT NEW.name;
    INSERT INTO change_log (plugin_id, category, name, op)
    VALUES (NEW.id, NEW.category, NEW.name,
            CASE WHEN OLD.category IS NOT NEW.category OR OLD.name IS NOT NEW.name
                 THEN 'insert' ELSE 'update' END);
END;

CREATE TRIGGER change_log_plugin_deleted AFTER DELETE ON plugins
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    VALUES (OLD.id, OLD.category, OLD.name, 'delete');
END;

-- plugin_pids and remote_resources: a change is an update of the plugin
-- that owns the row (both plugins if a row moved). When a plugin delete
-- cascades, the plugin row is already gone: the delete above logs it.
CREATE TRIGGER change_log_pid_inserted AFTER INSERT ON plugin_pids
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id = NEW.plugin_id;
END;

CREATE TRIGGER change_log_pid_updated AFTER UPDATE ON plugin_pids
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id IN (OLD.plugin_id, NEW.plugin_id);
END;

CREATE TRIGGER change_log_pid_deleted AFTER DELETE ON plugin_pids
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id = OLD.plugin_id;
END;

CREATE TRIGGER change_log_remote_inserted AFTER INSERT ON remote_resources
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id = NEW.plugin_id;
END;

CREATE TRIGGER change_log_remote_updated AFTER UPDATE ON remote_resources
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id IN (OLD.plugin_id, NEW.plugin_id);
END;

CREATE TRIGGER change_log_remote_deleted AFTER DELETE ON remote_resources
    WHEN (SELECT writing_txn FROM change_feed) IS NULL BEGIN
    INSERT INTO change_log (plugin_id, category, name, op)
    SELECT id, category, name, 'update' FROM plugins WHERE id = OLD.plugin_id;
END;

-- The log as people read it: newest first.
CREATE VIEW recent_changes AS
SELECT seq, category || '_' || name AS unique_id, op,
       CASE WHEN txn IS NULL THEN 'by hand' ELSE 'library' END AS made
FROM change_log
ORDER BY seq DESC;
