-- plugin-metastore schema, version 8: the history triggers again, with two
-- changes; the table and its rows are untouched.
--
-- 1. A clock that jumped ahead no longer freezes the history. V4's triggers
--    stamped a row at the newest row of the plugin if that was later than
--    now, so one command run with the clock ten years ahead made every
--    later transition 2036 too (and a stopped resource was billed until
--    then). Now only rows at most a second ahead of now count (the join's
--    `l.at <= now + 1 s`): a row is stamped now, or at such a row if it is
--    later (the library stamps to the microsecond, these triggers to the
--    millisecond), with the next seq, so it is the newest row that is not
--    in the future. A row dated further ahead stays where it is, and
--    `verify` and `cost` name it. Two changes in one millisecond still get
--    seq 0, 1, ... and never collide.
--
-- 2. The row that records a removal (resource removed, plugin deleted,
--    resource moved or plugin renamed by hand) names the resource's
--    provider if it is one the store knows, else 'custom': a provider
--    forced into `remote_resources` by hand (past its CHECK) no longer
--    makes the delete fail on the history's CHECK. The removal and its
--    time are what the history needs (the rate of a 'removed' row is
--    NULL, nothing is billed); 'custom' is the model's "other provider".
--
-- Same shape and cost as V4 (one reverse seek on the primary key); all SQL
-- here runs in the sqlite3 CLI of Debian 12 (3.40).

DROP TRIGGER remote_status_history_created;
DROP TRIGGER remote_status_history_changed;
DROP TRIGGER remote_status_history_removed;
DROP TRIGGER remote_status_history_plugin_deleted;
DROP TRIGGER remote_status_history_plugin_renamed;

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
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
    WHERE p.id = NEW.plugin_id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

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
           CASE WHEN OLD.provider IN ('aws', 'gcp', 'azure', 'lambda_labs', 'runpod', 'vast_ai', 'paperspace', 'coreweave', 'custom') THEN OLD.provider ELSE 'custom' END,
           OLD.instance_id, 'removed', NULL
    FROM plugins p
    LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
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
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
          WHERE p.id = NEW.plugin_id
          ORDER BY l.at DESC, l.seq DESC LIMIT 1)
    WHERE NOT recorded;
END;

CREATE TRIGGER remote_status_history_removed
AFTER DELETE ON remote_resources
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT p.category, p.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           CASE WHEN OLD.provider IN ('aws', 'gcp', 'azure', 'lambda_labs', 'runpod', 'vast_ai', 'paperspace', 'coreweave', 'custom') THEN OLD.provider ELSE 'custom' END,
           OLD.instance_id, 'removed', NULL
    FROM plugins p
    LEFT JOIN remote_status_history l ON l.category = p.category AND l.name = p.name
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
    WHERE p.id = OLD.plugin_id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

CREATE TRIGGER remote_status_history_plugin_deleted
BEFORE DELETE ON plugins
BEGIN
    INSERT INTO remote_status_history
        (category, name, at, seq, provider, instance_id, status, cost_per_hour)
    SELECT OLD.category, OLD.name,
           max(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', coalesce(l.at, '')),
           CASE WHEN l.at >= strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
                THEN l.seq + 1 ELSE 0 END,
           CASE WHEN r.provider IN ('aws', 'gcp', 'azure', 'lambda_labs', 'runpod', 'vast_ai', 'paperspace', 'coreweave', 'custom') THEN r.provider ELSE 'custom' END,
           r.instance_id, 'removed', NULL
    FROM remote_resources r
    LEFT JOIN remote_status_history l ON l.category = OLD.category AND l.name = OLD.name
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
    WHERE r.plugin_id = OLD.id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;

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
           CASE WHEN r.provider IN ('aws', 'gcp', 'azure', 'lambda_labs', 'runpod', 'vast_ai', 'paperspace', 'coreweave', 'custom') THEN r.provider ELSE 'custom' END,
           r.instance_id, 'removed', NULL
    FROM remote_resources r
    LEFT JOIN remote_status_history l ON l.category = OLD.category AND l.name = OLD.name
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
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
        AND l.at <= strftime('%Y-%m-%dT%H:%M:%f', 'now', '+1 seconds') || '000Z'
    WHERE r.plugin_id = NEW.id
    ORDER BY l.at DESC, l.seq DESC LIMIT 1;
END;
