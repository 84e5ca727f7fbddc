-- plugin-metastore schema, version 7: what a person sees. The billing rule
-- of the `cost` command as a view (`billed_intervals`), and the views
-- people open in a stable order. All SQL here runs in the sqlite3 CLI of
-- Debian 12 (3.40: window functions, no unixepoch('subsec')).

-- One row per interval of the remote status history: from a row to the
-- next row of the same plugin (ordered by (at, seq), as `cost` reads it),
-- the newest row to now (read once per query); rows in the history's key
-- order (category, name, at, seq), read along the primary key with no
-- sort. `hours` is exact to the microsecond (the stored timestamps'
-- precision; julianday() would round to milliseconds).
-- `cost_usd` is hours × the rate of the row that starts the interval, for
-- status exactly 'running' (the only billed status, 'Running' is not);
-- other statuses cost 0, an interval of 0 hours costs 0, and a running
-- interval without a known rate has cost_usd NULL (unknown, never $0).
--
-- Summing it over status = 'running' gives what `plugin-metastore cost`
-- gives. For a window [since, until), cut each interval to
-- [max(started_at, since), min(ended_at, until, now)) (the timestamps are
-- text in one fixed format, so text order is time order); to group by day,
-- split intervals at UTC midnight. The README and the Datasette canned
-- queries (`plugin-metastore datasette-metadata`) show both.
--
-- A row dated in the future (a transition told ahead of time) starts an
-- interval that ends at the next row, or at its own start if it is the
-- newest (0 hours); reports never count time after now.
CREATE VIEW billed_intervals AS
WITH
-- Now, read once for the whole query, as text and in microseconds.
clock(at) AS (SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
now(at, us) AS (
    SELECT at, CAST(round((julianday(substr(at, 1, 19)) - 2440587.5) * 86400) AS INTEGER) * 1000000
               + CAST(substr(at, 21, 6) AS INTEGER)
    FROM clock),
-- Each row's time in microseconds since the Unix epoch, exactly: whole
-- seconds from julianday() (exact for whole seconds once rounded, and
-- twice as fast as strftime('%s')), then the stored microseconds.
timed AS (
    SELECT h.*, CAST(round((julianday(substr(h.at, 1, 19)) - 2440587.5) * 86400) AS INTEGER) * 1000000
                + CAST(substr(h.at, 21, 6) AS INTEGER) AS us
    FROM remote_status_history h),
intervals AS (
    SELECT t.category, t.name, t.category || '_' || t.name AS unique_id,
           t.provider, t.instance_id, t.status, t.cost_per_hour,
           t.at AS started_at,
           coalesce(lead(t.at) OVER timeline, max(t.at, now.at)) AS ended_at,
           max(0, coalesce(lead(t.us) OVER timeline, now.us) - t.us) AS us
    FROM timed t, now
    WINDOW timeline AS (PARTITION BY t.category, t.name ORDER BY t.at, t.seq)
    ORDER BY t.category, t.name, t.at, t.seq)
SELECT category, name, unique_id, provider, instance_id, status,
       started_at, ended_at,
       us / 3600000000.0 AS hours,
       cost_per_hour,
       CASE WHEN status <> 'running' OR us = 0 THEN 0.0
            ELSE cost_per_hour * us / 3600000000.0 END AS cost_usd
FROM intervals;

-- The views people open, again, now in the order `list` uses:
-- (category, name). Names, columns and values are those of version 2.
-- (pid_identity is already ordered by (category, name, position),
-- remote_burn_rate by provider and recent_changes newest first.)
DROP VIEW plugin_overview;
CREATE VIEW plugin_overview AS
SELECT
    p.category || '_' || p.name AS unique_id,
    p.category,
    p.name,
    p.title,
    p.execution_mode,
    CASE WHEN p.execution_mode IN ('in_process', 'subprocess', 'docker', 'conda_env', 'external_service')
         THEN 'local' ELSE 'cloud' END AS runs,
    r.provider,
    r.status AS remote_status,
    (SELECT count(*) FROM plugin_pids pp WHERE pp.plugin_id = p.id) AS pid_count,
    p.container_id,
    r.estimated_cost_per_hour AS cost_per_hour,
    CASE WHEN EXISTS (SELECT 1 FROM plugin_pids pp WHERE pp.plugin_id = p.id)
           OR p.container_id <> ''
           OR r.status = 'running'
         THEN 1 ELSE 0 END AS has_active_resources,
    p.is_configured,
    p.updated_at
FROM plugins p
LEFT JOIN remote_resources r ON r.plugin_id = p.id
ORDER BY p.category, p.name;

DROP VIEW active_resources;
CREATE VIEW active_resources AS
SELECT
    p.category || '_' || p.name AS unique_id,
    p.execution_mode,
    (SELECT group_concat(o.pid, ',') FROM (
        SELECT pp.pid FROM plugin_pids pp WHERE pp.plugin_id = p.id ORDER BY pp.position) o) AS pids,
    nullif(p.container_id, '') AS container_id,
    CASE WHEN r.status = 'running' THEN r.provider END AS running_on,
    CASE WHEN r.status = 'running' THEN r.instance_id END AS instance_id,
    CASE WHEN r.status = 'running' THEN r.estimated_cost_per_hour END AS cost_per_hour
FROM plugins p
LEFT JOIN remote_resources r ON r.plugin_id = p.id
WHERE EXISTS (SELECT 1 FROM plugin_pids pp WHERE pp.plugin_id = p.id)
   OR p.container_id <> ''
   OR r.status = 'running'
ORDER BY p.category, p.name;

DROP VIEW remote_overview;
CREATE VIEW remote_overview AS
SELECT
    p.category || '_' || p.name AS unique_id,
    r.provider,
    r.region,
    r.status,
    r.instance_id,
    r.job_id,
    r.resource_type,
    r.gpu_count,
    r.gpu_type,
    r.estimated_cost_per_hour AS cost_per_hour,
    r.endpoint_url,
    r.ssh_host,
    r.ssh_port
FROM remote_resources r
JOIN plugins p ON p.id = r.plugin_id
ORDER BY p.category, p.name;
