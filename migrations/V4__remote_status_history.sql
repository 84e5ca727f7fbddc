-- plugin-metastore schema, version 4: what each remote resource has been
-- doing, and so what it has cost.
--
-- `remote_status_history` is append-only: a row says "from `at` on, this
-- plugin's remote resource is in `status` at `cost_per_hour`". The rows of
-- one plugin, ordered by (at, seq), are its timeline; the newest row is the
-- resource's current state. Billed time is time in status exactly
-- 'running'; an interval runs from one row to the next row of the same
-- plugin. The plugin is named by text (category, name), not by its id, so
-- the history outlives the plugin and deleted plugins stay in cost reports.
--
-- Every change of a remote resource — created, status, provider, instance
-- id or hourly rate changed, removed, plugin deleted or renamed — is
-- recorded by the triggers below, in the transaction that made it, whether
-- the library, the CLI, an import or a person in sqlite3 made it. The
-- library writes rows itself only for a transition dated by its caller
-- (`set_remote_status_at`): the update trigger then finds the change
-- already recorded and adds nothing.
--
-- Timestamps are RFC 3339 UTC with exactly six fraction digits and 'Z'
-- (2026-11-01T08:00:00.000000Z), here as in the library, so text order is
-- time order. SQLite 3.40's strftime('%f') gives milliseconds, padded here
-- with '000'. All SQL here runs in the sqlite3 CLI of Debian 12 (3.40).

CREATE TABLE remote_status_history (
    category      TEXT    NOT NULL CHECK (typeof(category) = 'text' AND length(category) > 0),
    name          TEXT    NOT NULL CHECK (typeof(name) = 'text' AND length(name) > 0),
    -- From when the row holds; a real UTC instant in the one fixed format.
    at            TEXT    NOT NULL CHECK (typeof(at) = 'text'
                      AND at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
                      AND date(substr(at, 1, 10), '+0 days') = substr(at, 1, 10)
                      AND substr(at, 12, 2) < '24'),
    -- Orders rows of one plugin with the same `at`: 0, then 1, 2, ...
    seq           INTEGER NOT NULL CHECK (typeof(seq) = 'integer' AND seq >= 0),
    -- The provider values as ORs, not `IN (...)`: SQLite builds a temporary
    -- index of an IN list each time such a CHECK runs (2 µs per row).
    provider      TEXT    NOT NULL CHECK (provider = 'aws' OR provider = 'gcp'
                      OR provider = 'azure' OR provider = 'lambda_labs' OR provider = 'runpod'
                      OR provider = 'vast_ai' OR provider = 'paperspace'
                      OR provider = 'coreweave' OR provider = 'custom'),
    instance_id   TEXT             CHECK (instance_id IS NULL OR typeof(instance_id) = 'text'),
    -- The resource's status, or 'removed' once the resource or its plugin
    -- went away.
    status        TEXT    NOT NULL CHECK (typeof(status) = 'text'),
    -- Dollars per hour from `at` on; NULL = unknown (never counted as $0).
    cost_per_hour REAL             CHECK (cost_per_hour IS NULL OR (
                      typeof(cost_per_hour) = 'real'
                      AND cost_per_hour >= 0
                      AND cost_per_hour <= 1.7976931348623157e308)),
    -- The key is the report's index: a cost report reads every plugin's
    -- timeline in order in one pass over the table, and the newest row of
    -- one plugin (what the triggers compare with) is one seek. WITHOUT
    -- ROWID keeps each plugin's rows together in key order: with a year of
    -- daily rows for 10,000 plugins, a rowid table read through an index
    -- on the key took 7.8 s and 640 MB, this 1.6 s and 400 MB.
    PRIMARY KEY (category, name, at, seq)
) WITHOUT ROWID;

-- The triggers. Each appends with one statement of the same shape:
--
--   INSERT INTO remote_status_history (...)
--   SELECT <key>, max(<now>, coalesce(l.at, '')),
--          CASE WHEN l.at >= <now> THEN l.seq + 1 ELSE 0 END, <state>
--   FROM <the changed row> LEFT JOIN remote_status_history l ON <l is the key's row>
--   ORDER BY l.at DESC, l.seq DESC LIMIT 1;
--
-- The join finds the key's newest row by one reverse seek on the primary
-- key (LIMIT 1 stops there). A row is stamped now, or at that newest row if
-- it is later (a clock set back, a transition dated by the library in the
-- same millisecond), with the next seq: an appended row is always the
-- newest, and two changes in one millisecond never collide. (A view with an
-- INSTEAD OF trigger would say this once, but SQLite copies every row
-- inserted into a view into a temporary table first: it doubled the cost
-- of recording a new resource.)

-- A resource created (by a save, an import, or INSERT in sqlite3).
CREATE TRIGGER remote_status_history_created
AFTER INSERT ON remote_resources
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT p.category, p.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           NEW.provider, NEW.instance_id, NEW.status, NEW.estimated_cost_per_hour
    FROM plugins p
    LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
    WHERE p.id = NEW.plugin_id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

-- A resource changed. Every save rewrites the whole row, so only a change
-- of what the history holds is recorded, and not if the newest row already
-- says it: the library records a transition dated by its caller first,
-- then updates the resource. A row moved to another plugin by hand is
-- removed from the one and created for the other.
CREATE TRIGGER remote_status_history_changed
AFTER UPDATE OF plugin_id, provider, instance_id, status, estimated_cost_per_hour
ON remote_resources
WHEN OLD.plugin_id IS NOT NEW.plugin_id
  OR OLD.provider IS NOT NEW.provider
  OR OLD.instance_id IS NOT NEW.instance_id
  OR OLD.status IS NOT NEW.status
  OR OLD.estimated_cost_per_hour IS NOT NEW.estimated_cost_per_hour
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT p.category, p.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           OLD.provider, OLD.instance_id, 'removed', NULL
    FROM plugins p
    LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
    WHERE p.id = OLD.plugin_id AND OLD.plugin_id IS NOT NEW.plugin_id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT category, name, at, seq,
           NEW.provider, NEW.instance_id, NEW.status, NEW.estimated_cost_per_hour
    FROM (SELECT p.category, p.name,
                 max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')) AS at,
                 CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                      THEN l.seq + 1 ELSE 0 END AS seq,
                 l.provider IS NEW.provider AND l.instance_id IS NEW.instance_id
                     AND l.status IS NEW.status
                     AND l.cost_per_hour IS NEW.estimated_cost_per_hour AS recorded
          FROM plugins p
          LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
          WHERE p.id = NEW.plugin_id
          ORDER BY l.at DESC, l.seq DESC LIMIT 1)
    WHERE NOT recorded;
END;

-- A resource removed from a plugin that stays. When the plugin itself is
-- deleted, its row is gone before this runs (ON DELETE CASCADE), so the
-- trigger on plugins below records that removal.
CREATE TRIGGER remote_status_history_removed
AFTER DELETE ON remote_resources
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT p.category, p.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           OLD.provider, OLD.instance_id, 'removed', NULL
    FROM plugins p
    LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
    WHERE p.id = OLD.plugin_id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

-- A plugin deleted: its resource is removed with it. BEFORE, so the
-- resource row is still there to read whether or not foreign keys are on
-- (the sqlite3 CLI does not cascade without PRAGMA foreign_keys=ON).
CREATE TRIGGER remote_status_history_plugin_deleted
BEFORE DELETE ON plugins
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT OLD.category, OLD.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           r.provider, r.instance_id, 'removed', NULL
    FROM remote_resources r
    LEFT JOIN remote_status_history l ON l.category = OLD.category AND l.name = OLD.name
    WHERE r.plugin_id = OLD.id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

-- A plugin renamed by hand: its resource leaves the old key's timeline and
-- continues under the new one.
CREATE TRIGGER remote_status_history_plugin_renamed
AFTER UPDATE OF category, name ON plugins
WHEN OLD.category IS NOT NEW.category OR OLD.name IS NOT NEW.name
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT OLD.category, OLD.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           r.provider, r.instance_id, 'removed', NULL
    FROM remote_resources r
    LEFT JOIN remote_status_history l ON l.category = OLD.category AND l.name = OLD.name
    WHERE r.plugin_id = NEW.id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT NEW.category, NEW.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           r.provider, r.instance_id, r.status, r.estimated_cost_per_hour
    FROM remote_resources r
    LEFT JOIN remote_status_history l ON l.category = NEW.category AND l.name = NEW.name
    WHERE r.plugin_id = NEW.id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

-- Accounting starts at the upgrade: one row per existing remote resource,
-- stamped now. No earlier hours are invented.
INSERT INTO remote_status_history
    (category, name, at, seq, provider, instance_id, status, cost_per_hour)
SELECT p.category, p.name, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', 0,
       r.provider, r.instance_id, r.status, r.estimated_cost_per_hour
FROM remote_resources r JOIN plugins p ON p.id = r.plugin_id;

-- What is costing money right now, per provider: the resources whose
-- status is exactly 'running'. `usd_per_hour` is NULL when any of them has
-- no known rate; `priced_usd_per_hour` is the sum of the known rates.
CREATE VIEW remote_burn_rate AS
SELECT r.provider,
       count(*) AS running,
       CASE WHEN count(r.estimated_cost_per_hour) = count(*)
            THEN total(r.estimated_cost_per_hour) END AS usd_per_hour,
       total(r.estimated_cost_per_hour) AS priced_usd_per_hour,
       count(*) - count(r.estimated_cost_per_hour) AS unpriced_running
FROM remote_resources r
JOIN plugins p ON p.id = r.plugin_id
WHERE r.status = 'running'
GROUP BY r.provider
ORDER BY r.provider;
