-- plugin-metastore schema, version 2: indexes for the store's queries and
-- views for people inspecting a store with the sqlite3 CLI.

-- "Which plugins run as cloud_gpu?" and local/cloud filters.
CREATE INDEX plugins_by_execution_mode ON plugins (execution_mode);
-- "Which plugins hold a container?" (Python truthiness: '' is no container;
-- container_id is always text, and every non-empty text sorts after '').
CREATE INDEX plugins_with_container ON plugins (container_id) WHERE container_id > '';
-- "Which plugins run on AWS?"
CREATE INDEX remote_resources_by_provider ON remote_resources (provider);
-- "Which remote resources are running?" (and any remote-status filter).
CREATE INDEX remote_resources_by_status ON remote_resources (status);

-- One readable row per plugin.
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
LEFT JOIN remote_resources r ON r.plugin_id = p.id;

-- Only the plugins that still hold something that must be cleaned up, with
-- what they hold: the PIDs (comma-separated, in order), the container, and
-- the running remote instance with what it costs per hour.
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
   OR r.status = 'running';

-- Every remote (cloud) resource with its plugin.
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
JOIN plugins p ON p.id = r.plugin_id;
