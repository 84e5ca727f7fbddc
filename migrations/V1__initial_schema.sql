-- plugin-metastore schema, version 1: the three tables of the model.
--
-- Readable in the sqlite3 CLI: enums are stored as their text values, JSON
-- as TEXT, timestamps as RFC 3339 UTC text. CHECK constraints refuse what the
-- library refuses, so a hand edit cannot plant a row the library cannot read.
-- (PRAGMA foreign_keys is set by the store on every connection; it is a no-op
-- inside a migration's transaction, so it is not here.)

CREATE TABLE plugins (
    id                         INTEGER PRIMARY KEY,
    category                   TEXT    NOT NULL CHECK (typeof(category) = 'text' AND length(category) > 0),
    name                       TEXT    NOT NULL CHECK (typeof(name) = 'text' AND length(name) > 0),
    title                      TEXT    NOT NULL CHECK (typeof(title) = 'text'),
    config_schema              TEXT    NOT NULL CHECK (json_valid(config_schema) AND json_type(config_schema) = 'object'),
    description                TEXT             CHECK (description IS NULL OR typeof(description) = 'text'),
    version                    TEXT             CHECK (version IS NULL OR typeof(version) = 'text'),
    is_configured              INTEGER NOT NULL CHECK (is_configured IN (0, 1)),
    execution_mode             TEXT    NOT NULL CHECK (execution_mode IN (
                                   'in_process', 'subprocess', 'docker', 'conda_env', 'external_service',
                                   'cloud_gpu', 'cloud_api', 'remote_server', 'hybrid')),
    manages_child_processes    INTEGER NOT NULL CHECK (manages_child_processes IN (0, 1)),
    manages_external_resources INTEGER NOT NULL CHECK (manages_external_resources IN (0, 1)),
    container_id               TEXT             CHECK (container_id IS NULL OR typeof(container_id) = 'text'),
    conda_env_name             TEXT             CHECK (conda_env_name IS NULL OR typeof(conda_env_name) = 'text'),
    created_at                 TEXT    NOT NULL CHECK (julianday(created_at) IS NOT NULL),
    updated_at                 TEXT    NOT NULL CHECK (julianday(updated_at) IS NOT NULL),
    UNIQUE (category, name)
);

-- One row per child PID; `position` keeps the order of `spawned_pids`.
CREATE TABLE plugin_pids (
    plugin_id INTEGER NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (typeof(position) = 'integer' AND position >= 0),
    pid       INTEGER NOT NULL CHECK (typeof(pid) = 'integer' AND pid > 0 AND pid <= 4294967295),
    PRIMARY KEY (plugin_id, position),
    UNIQUE (plugin_id, pid)
);

-- At most one remote (cloud) resource per plugin.
CREATE TABLE remote_resources (
    plugin_id               INTEGER PRIMARY KEY REFERENCES plugins (id) ON DELETE CASCADE,
    provider                TEXT    NOT NULL CHECK (provider IN (
                                'aws', 'gcp', 'azure', 'lambda_labs', 'runpod', 'vast_ai',
                                'paperspace', 'coreweave', 'custom')),
    region                  TEXT             CHECK (region IS NULL OR typeof(region) = 'text'),
    instance_id             TEXT             CHECK (instance_id IS NULL OR typeof(instance_id) = 'text'),
    job_id                  TEXT             CHECK (job_id IS NULL OR typeof(job_id) = 'text'),
    endpoint_url            TEXT             CHECK (endpoint_url IS NULL OR typeof(endpoint_url) = 'text'),
    ssh_host                TEXT             CHECK (ssh_host IS NULL OR typeof(ssh_host) = 'text'),
    ssh_port                INTEGER NOT NULL CHECK (typeof(ssh_port) = 'integer' AND ssh_port BETWEEN 0 AND 65535),
    status                  TEXT    NOT NULL CHECK (typeof(status) = 'text'),
    resource_type           TEXT             CHECK (resource_type IS NULL OR typeof(resource_type) = 'text'),
    gpu_count               INTEGER NOT NULL CHECK (typeof(gpu_count) = 'integer' AND gpu_count BETWEEN 0 AND 4294967295),
    gpu_type                TEXT             CHECK (gpu_type IS NULL OR typeof(gpu_type) = 'text'),
    estimated_cost_per_hour REAL             CHECK (estimated_cost_per_hour IS NULL OR (
                                typeof(estimated_cost_per_hour) = 'real'
                                AND estimated_cost_per_hour >= 0
                                AND estimated_cost_per_hour <= 1.7976931348623157e308)),
    metadata                TEXT    NOT NULL CHECK (json_valid(metadata) AND json_type(metadata) = 'object')
);
