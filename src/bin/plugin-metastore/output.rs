//! What the CLI prints: the `list` table, `show`'s details, JSON, and the
//! one write to stdout. Every piece of stored text goes through
//! [`printable`] or [`quoted`], so a record cannot drive the terminal.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use plugin_metastore::{Error, MetadataStore, PluginMetadata, PluginQuery, PluginSummary};
use serde_json::ser::PrettyFormatter;

use crate::failure::{CliResult, Failure};
use crate::text::{hidden, printable};

/// Pretty JSON (two-space indent, the field order of the Python
/// dataclasses) and a final newline: the format of `export`, `list --json`
/// and `show --json`.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> CliResult<String> {
    let mut s = serde_json::to_string_pretty(value).map_err(Error::from)?;
    s.push('\n');
    Ok(s)
}

/// The `list` table: unique id, mode, provider, status, PIDs, container,
/// cost/h, active; then the count. Built from summaries, so no JSON is
/// read. (comfy-table lays the table out whole, which needs every row.)
pub(crate) fn table(rows: &[PluginSummary]) -> String {
    if rows.is_empty() {
        return "no plugins\n".to_owned();
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "unique id",
            "mode",
            "provider",
            "status",
            "PIDs",
            "container",
            "cost/h",
            "active",
        ]);
    for p in rows {
        let pids = p
            .spawned_pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        t.add_row([
            printable(&p.unique_id()),
            p.execution_mode.to_string(),
            p.provider.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            p.remote_status
                .as_deref()
                .map_or_else(|| "-".to_owned(), printable),
            or_dash(pids),
            p.container_id
                .as_deref()
                .map_or_else(|| "-".to_owned(), short_container),
            p.cost_per_hour
                .map_or_else(|| "-".to_owned(), |c| format!("${c:.2}")),
            yes_no(p.has_active_resources),
        ]);
    }
    let s = if rows.len() == 1 { "" } else { "s" };
    format!("{t}\n{} plugin{s}\n", rows.len())
}

/// `-` for an empty cell.
fn or_dash(s: String) -> String {
    if s.is_empty() { "-".to_owned() } else { s }
}

/// A Docker id shortened to 12 hex digits as `docker ps` does; any other
/// container id in full (`""` shown as `""`).
fn short_container(id: &str) -> String {
    if id.is_empty() {
        "\"\"".to_owned()
    } else if id.len() > 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        id[..12].to_owned()
    } else {
        printable(id)
    }
}

/// Every field of one plugin, one per line, for `show`.
pub(crate) fn details(p: &PluginMetadata) -> String {
    let text = |v: &Option<String>| v.as_ref().map_or_else(|| "-".to_owned(), |s| quoted(s));
    let mut rows: Vec<(&str, String)> = vec![
        ("unique id", printable(&p.unique_id())),
        ("name", quoted(&p.name)),
        ("category", quoted(&p.category)),
        ("title", quoted(&p.title)),
        ("description", text(&p.description)),
        ("version", text(&p.version)),
        ("is_configured", p.is_configured.to_string()),
        (
            "execution_mode",
            format!(
                "{} ({})",
                p.execution_mode,
                if p.is_local_execution() {
                    "local"
                } else {
                    "cloud/remote"
                }
            ),
        ),
        (
            "manages_child_processes",
            p.manages_child_processes.to_string(),
        ),
        (
            "manages_external_resources",
            p.manages_external_resources.to_string(),
        ),
        (
            "spawned_pids",
            or_dash(
                p.spawned_pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("container_id", text(&p.container_id)),
        ("conda_env_name", text(&p.conda_env_name)),
        ("active resources", yes_no(p.has_active_resources())),
        ("config_schema", printable(&p.config_schema.to_string())),
    ];
    match &p.remote_resource {
        None => rows.push(("remote_resource", "-".to_owned())),
        Some(r) => {
            rows.extend([
                ("remote.provider", r.provider.to_string()),
                ("remote.region", text(&r.region)),
                ("remote.instance_id", text(&r.instance_id)),
                ("remote.job_id", text(&r.job_id)),
                ("remote.endpoint_url", text(&r.endpoint_url)),
                ("remote.ssh_host", text(&r.ssh_host)),
                ("remote.ssh_port", r.ssh_port.to_string()),
                ("remote.status", quoted(&r.status)),
                ("remote.resource_type", text(&r.resource_type)),
                ("remote.gpu_count", r.gpu_count.to_string()),
                ("remote.gpu_type", text(&r.gpu_type)),
                (
                    "remote.estimated_cost_per_hour",
                    r.estimated_cost_per_hour
                        .map_or_else(|| "-".to_owned(), |c| format!("${c}/hour")),
                ),
                (
                    "remote.metadata",
                    printable(&serde_json::Value::Object(r.metadata.clone()).to_string()),
                ),
            ]);
        }
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// A string shown as is, unless quoting is needed to see it: empty, or
/// with leading/trailing space or control characters.
fn quoted(s: &str) -> String {
    let plain = !s.is_empty() && s.trim() == s && !s.chars().any(hidden) && !s.starts_with('"');
    if plain {
        s.to_owned()
    } else {
        // Debug escapes controls and invisible format characters too.
        printable(&format!("{s:?}"))
    }
}

/// `yes` / `no`.
fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Writes `text` to stdout in one go. A closed pipe (`… | head`) is not an
/// error: the reader has all it wanted.
pub(crate) fn print(text: &str) -> CliResult {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write to standard output: {e}"))),
    }
}

/// The store's path for messages.
pub(crate) fn display_path(store: &MetadataStore) -> String {
    // Escaped: a path (from $PLUGIN_METASTORE_DB) may hold terminal escapes.
    store.path().map_or_else(
        || "memory".to_owned(),
        |p| crate::text::printable(&p.display().to_string()),
    )
}

/// Prints the full records of `query` as the JSON array [`to_json`] makes of
/// them (the same bytes), one plugin at a time: memory stays one plugin
/// however large the store. A row that cannot be read stops the output
/// there, with the error and a hint; with `skip_bad` it is left out and
/// named on stderr. A closed pipe is not an error, as for [`print()`].
pub(crate) fn print_records(
    store: &MetadataStore,
    query: &PluginQuery,
    skip_bad: bool,
) -> CliResult {
    use serde::ser::{SerializeSeq, Serializer};
    let out = io::BufWriter::new(io::stdout().lock());
    let mut json = serde_json::Serializer::with_formatter(out, PrettyFormatter::new());
    let mut skipped = Vec::new();
    let written = (|| -> plugin_metastore::Result<()> {
        let mut seq = json.serialize_seq(None)?;
        let each = |p: PluginMetadata| Ok(seq.serialize_element(&p)?);
        if skip_bad {
            skipped = store.for_each_readable(query, each)?;
        } else {
            store.for_each(query, each)?;
        }
        SerializeSeq::end(seq)?;
        let mut out = json.into_inner();
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    })();
    for e in &skipped {
        crate::failure::warn(&format!("skipped a plugin that cannot be read: {e}"));
    }
    match written {
        Ok(()) => Ok(()),
        Err(Error::Json(e)) if e.io_error_kind() == Some(io::ErrorKind::BrokenPipe) => Ok(()),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e @ Error::BadData { .. }) => Err(Failure(format!(
            "{e}; --skip-bad leaves such plugins out and names them"
        ))),
        Err(e) => Err(e.into()),
    }
}
