-- plugin-metastore schema, version 3: which process a stored PID was.
--
-- A PID is only a number: after a crash or a reboot the OS may have given
-- it to another process. The store keeps, beside each PID it records, the
-- process's start time and the boot it ran in, so a check can tell the
-- recorded process from a stranger holding the same number. Rows older
-- than this migration keep NULLs (their identity was never read).

-- The OS's own start-time value: on Linux field 22 of /proc/<pid>/stat,
-- clock ticks since boot. NULL when the process was not alive (or was a
-- zombie) when recorded, or its start time could not be read.
ALTER TABLE plugin_pids ADD COLUMN start_time INTEGER
    CHECK (start_time IS NULL OR (typeof(start_time) = 'integer' AND start_time >= 0));
-- The boot the process ran in (on Linux /proc/sys/kernel/random/boot_id).
ALTER TABLE plugin_pids ADD COLUMN boot_id TEXT
    CHECK (boot_id IS NULL OR (typeof(boot_id) = 'text' AND boot_id <> ''));
-- When the store recorded the PID (RFC 3339 UTC, microseconds); always set
-- by the store, NULL only on rows older than this migration.
ALTER TABLE plugin_pids ADD COLUMN recorded_at TEXT
    CHECK (recorded_at IS NULL OR (typeof(recorded_at) = 'text' AND recorded_at LIKE '____-__-__T__:__:__%Z'));

-- Every stored PID with what the store knows of its process, for people
-- checking by hand (`plugin-metastore check` says what each one is now).
CREATE VIEW pid_identity AS
SELECT
    p.category || '_' || p.name AS unique_id,
    pp.pid,
    pp.start_time,
    pp.boot_id,
    pp.recorded_at
FROM plugin_pids pp
JOIN plugins p ON p.id = pp.plugin_id
ORDER BY p.category, p.name, pp.position;
