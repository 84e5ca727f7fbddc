//! The baseline for the UI benches, hand-written with rusqlite as in
//! `raw.rs`: list rows without JSON (`summaries_all`), every plugin with its
//! JSON left as text (`list_all_text`), and a checked backup (`backup`).

use std::cmp::Ordering;
use std::path::Path;

use plugin_metastore::{
    CloudProviderType, PluginExecutionMode, PluginMetadata, RemoteResourceInfo,
};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::R;

/// A list row as a careful engineer would read it: the columns a table
/// shows, enums parsed, no JSON.
#[derive(Debug)]
pub struct Summary {
    pub category: String,
    pub name: String,
    pub title: String,
    pub execution_mode: PluginExecutionMode,
    pub provider: Option<CloudProviderType>,
    pub remote_status: Option<String>,
    pub pids: Vec<u32>,
    pub container_id: Option<String>,
    pub cost_per_hour: Option<f64>,
    pub is_configured: bool,
    pub active: bool,
    pub updated_at: String,
}

/// Every row of every plugin as stored, the JSON columns as their text.
#[derive(Debug)]
pub struct TextPlugin {
    pub id: i64,
    pub category: String,
    pub name: String,
    pub title: String,
    pub config_schema: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub is_configured: bool,
    pub execution_mode: PluginExecutionMode,
    pub manages_child_processes: bool,
    pub manages_external_resources: bool,
    pub container_id: Option<String>,
    pub conda_env_name: Option<String>,
    pub remote: Option<TextRemote>,
    pub pids: Vec<u32>,
}

/// A remote resource row, `metadata` as its text.
#[derive(Debug)]
pub struct TextRemote {
    pub provider: CloudProviderType,
    pub region: Option<String>,
    pub instance_id: Option<String>,
    pub job_id: Option<String>,
    pub endpoint_url: Option<String>,
    pub ssh_host: Option<String>,
    pub ssh_port: u16,
    pub status: String,
    pub resource_type: Option<String>,
    pub gpu_count: u32,
    pub gpu_type: Option<String>,
    pub cost: Option<f64>,
    pub metadata: String,
}

impl TextPlugin {
    /// The plugin these rows hold, JSON parsed: for checking the baseline,
    /// never timed.
    pub fn parsed(&self) -> R<PluginMetadata> {
        let remote = match &self.remote {
            None => None,
            Some(r) => Some(RemoteResourceInfo {
                provider: r.provider,
                region: r.region.clone(),
                instance_id: r.instance_id.clone(),
                job_id: r.job_id.clone(),
                endpoint_url: r.endpoint_url.clone(),
                ssh_host: r.ssh_host.clone(),
                ssh_port: r.ssh_port,
                status: r.status.clone(),
                resource_type: r.resource_type.clone(),
                gpu_count: r.gpu_count,
                gpu_type: r.gpu_type.clone(),
                estimated_cost_per_hour: r.cost,
                metadata: serde_json::from_str(&r.metadata)?,
            }),
        };
        Ok(PluginMetadata {
            name: self.name.clone(),
            category: self.category.clone(),
            title: self.title.clone(),
            config_schema: serde_json::from_str(&self.config_schema)?,
            description: self.description.clone(),
            version: self.version.clone(),
            is_configured: self.is_configured,
            execution_mode: self.execution_mode,
            manages_child_processes: self.manages_child_processes,
            manages_external_resources: self.manages_external_resources,
            spawned_pids: self.pids.clone(),
            container_id: self.container_id.clone(),
            conda_env_name: self.conda_env_name.clone(),
            remote_resource: remote,
        })
    }
}

const SUMMARY: &str = "SELECT p.id, p.category, p.name, p.title, p.execution_mode, \
     p.is_configured, p.container_id, p.updated_at, r.plugin_id, r.provider, r.status, \
     r.estimated_cost_per_hour FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id";

const TEXT: &str = "SELECT p.id, p.category, p.name, p.title, p.config_schema, \
     p.description, p.version, p.is_configured, p.execution_mode, p.manages_child_processes, \
     p.manages_external_resources, p.container_id, p.conda_env_name, \
     r.plugin_id, r.provider, r.region, r.instance_id, r.job_id, r.endpoint_url, r.ssh_host, \
     r.ssh_port, r.status, r.resource_type, r.gpu_count, r.gpu_type, \
     r.estimated_cost_per_hour, r.metadata \
     FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id \
     ORDER BY p.category, p.name";

const TEXT_PIDS: &str = "SELECT pp.plugin_id, pp.pid FROM plugins p \
     JOIN plugin_pids pp ON pp.plugin_id = p.id ORDER BY p.category, p.name, pp.position";

/// Every plugin as a [`Summary`], in `(category, name)` order: read in
/// row-id order (no `ORDER BY`), PIDs in a second statement attached by
/// id, then sorted in memory, as the store does.
pub fn summaries(conn: &Connection) -> R<Vec<Summary>> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let mut rows: Vec<(i64, Summary)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(SUMMARY)?;
        let mut cursor = stmt.query([])?;
        while let Some(r) = cursor.next()? {
            let remote = r.get::<_, Option<i64>>(8)?.is_some();
            rows.push((
                r.get(0)?,
                Summary {
                    category: r.get(1)?,
                    name: r.get(2)?,
                    title: r.get(3)?,
                    execution_mode: r.get_ref(4)?.as_str()?.parse()?,
                    provider: if remote {
                        Some(r.get_ref(9)?.as_str()?.parse()?)
                    } else {
                        None
                    },
                    remote_status: r.get(10)?,
                    pids: Vec::new(),
                    container_id: r.get(6)?,
                    cost_per_hour: r.get(11)?,
                    is_configured: r.get(5)?,
                    active: false,
                    updated_at: r.get(7)?,
                },
            ));
        }
    }
    let mut pids: Vec<(i64, i64, u32)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached("SELECT plugin_id, position, pid FROM plugin_pids")?;
        let mut cursor = stmt.query([])?;
        while let Some(r) = cursor.next()? {
            pids.push((r.get(0)?, r.get(1)?, r.get(2)?));
        }
    }
    tx.commit()?;
    pids.sort_unstable();
    for (id, s) in &mut rows {
        let start = pids.partition_point(|p| p.0 < *id);
        s.pids
            .extend(pids[start..].iter().take_while(|p| p.0 == *id).map(|p| p.2));
        s.active = !s.pids.is_empty()
            || s.container_id.as_deref().is_some_and(|c| !c.is_empty())
            || s.remote_status.as_deref() == Some("running");
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| by_key(&rows[a].1, &rows[b].1));
    let mut slots: Vec<Option<Summary>> = rows.into_iter().map(|(_, s)| Some(s)).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

fn by_key(a: &Summary, b: &Summary) -> Ordering {
    (a.category.as_str(), a.name.as_str()).cmp(&(b.category.as_str(), b.name.as_str()))
}

/// Every plugin with its JSON left as text, in `(category, name)` order:
/// the store's two-statement list (plugins with remote resources; PIDs in
/// the same order, merged as they go) without `serde_json`.
pub fn list_text(conn: &Connection) -> R<Vec<TextPlugin>> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let mut out = Vec::new();
    {
        let mut stmt = tx.prepare_cached(TEXT)?;
        let mut pid_stmt = tx.prepare_cached(TEXT_PIDS)?;
        let mut rows = stmt.query([])?;
        let mut pids = pid_stmt.query([])?;
        let mut next: Option<(i64, u32)> = match pids.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        };
        while let Some(r) = rows.next()? {
            let mut p = text_plugin(r)?;
            while let Some((owner, pid)) = next {
                if owner != p.id {
                    break;
                }
                p.pids.push(pid);
                next = match pids.next()? {
                    Some(r) => Some((r.get(0)?, r.get(1)?)),
                    None => None,
                };
            }
            out.push(p);
        }
    }
    tx.commit()?;
    Ok(out)
}

fn text_plugin(r: &rusqlite::Row<'_>) -> R<TextPlugin> {
    let remote = match r.get::<_, Option<i64>>(13)? {
        None => None,
        Some(_) => Some(TextRemote {
            provider: r.get_ref(14)?.as_str()?.parse()?,
            region: r.get(15)?,
            instance_id: r.get(16)?,
            job_id: r.get(17)?,
            endpoint_url: r.get(18)?,
            ssh_host: r.get(19)?,
            ssh_port: r.get(20)?,
            status: r.get(21)?,
            resource_type: r.get(22)?,
            gpu_count: r.get(23)?,
            gpu_type: r.get(24)?,
            cost: r.get(25)?,
            metadata: r.get(26)?,
        }),
    };
    Ok(TextPlugin {
        id: r.get(0)?,
        category: r.get(1)?,
        name: r.get(2)?,
        title: r.get(3)?,
        config_schema: r.get(4)?,
        description: r.get(5)?,
        version: r.get(6)?,
        is_configured: r.get(7)?,
        execution_mode: r.get_ref(8)?.as_str()?.parse()?,
        manages_child_processes: r.get(9)?,
        manages_external_resources: r.get(10)?,
        container_id: r.get(11)?,
        conda_env_name: r.get(12)?,
        remote,
        pids: Vec::new(),
    })
}

/// The store's backup by hand: create the file 0600, `VACUUM INTO` it,
/// sync it, `integrity_check` it and count its plugins.
pub fn backup(conn: &Connection, path: &Path) -> R<u64> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    drop(open.open(path)?);
    conn.execute("VACUUM INTO ?1", [path.to_str().ok_or("path")?])?;
    std::fs::File::open(path)?.sync_all()?;
    let copy = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ok: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(format!("integrity_check: {ok}").into());
    }
    let n: i64 = copy.query_row("SELECT count(*) FROM plugins", [], |r| r.get(0))?;
    Ok(n as u64)
}
