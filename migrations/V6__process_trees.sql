-- plugin-metastore schema, version 6: process trees, and a finer identity.
--
-- A plugin's process is often a tree (a server that forks workers). A PID
-- the store started itself (`spawn`) leads a process group of its own and
-- carries a random token in its environment, which every descendant that
-- keeps its environment inherits; both are kept beside the PID, so a check
-- can find the tree's members, and prove they are ours, after the leader
-- has died. Every other way of recording a PID (add_pid, save, import)
-- leaves both NULL: a single-process claim.

-- The process group the spawned process leads (= its PID). NULL: no tree.
ALTER TABLE plugin_pids ADD COLUMN pgid INTEGER
    CHECK (pgid IS NULL OR (typeof(pgid) = 'integer' AND pgid = pid));
-- The token in the spawned tree's environment
-- (PLUGIN_METASTORE_SPAWN=<32 hex digits>); set exactly when pgid is.
ALTER TABLE plugin_pids ADD COLUMN spawn_token TEXT
    CHECK ((spawn_token IS NULL) = (pgid IS NULL) AND (spawn_token IS NULL OR (
        typeof(spawn_token) = 'text' AND length(spawn_token) = 32
        AND NOT spawn_token GLOB '*[^0-9a-f]*')));
-- The PID namespace the PID was recorded in (the inode of the recorder's
-- /proc/self/ns/pid): a number means a process only in its namespace.
-- NULL when it could not be read (or on rows older than this migration).
ALTER TABLE plugin_pids ADD COLUMN pid_ns INTEGER
    CHECK (pid_ns IS NULL OR (typeof(pid_ns) = 'integer' AND pid_ns > 0));
-- The process's pidfd inode where the kernel keeps pidfds on pidfs
-- (Linux 6.9 and later): unique for the boot, so it tells apart two
-- processes that got the same PID within one clock tick of start time.
-- NULL elsewhere.
ALTER TABLE plugin_pids ADD COLUMN pidfd_inode INTEGER
    CHECK (pidfd_inode IS NULL OR (typeof(pidfd_inode) = 'integer' AND pidfd_inode > 0));

-- The view for people checking by hand gains the new columns.
DROP VIEW pid_identity;
CREATE VIEW pid_identity AS
SELECT
    p.category || '_' || p.name AS unique_id,
    pp.pid,
    pp.start_time,
    pp.boot_id,
    pp.recorded_at,
    pp.pgid,
    pp.pid_ns,
    pp.pidfd_inode
FROM plugin_pids pp
JOIN plugins p ON p.id = pp.plugin_id
ORDER BY p.category, p.name, pp.position;
