//! The `plugin-metastore` command-line tool: a thin layer over the library
//! for people and scripts (see the README, section "CLI").
//!
//! Every command parses its arguments, opens the store, makes one library
//! call (or a few reads) and prints. Output goes to stdout in one write; a
//! failure is one line `plugin-metastore: <message>` on stderr and a
//! non-zero exit code (1 for a runtime error, 2 for a usage error), never a
//! panic.
//!
//! Plugins are named on the command line by their unique id,
//! `{category}_{name}`. Since that id can be split more than one way, an
//! ambiguous id is an error that lists the candidates, and `--category`
//! picks one.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use comfy_table::{ContentArrangement, Table, presets};
use plugin_metastore::{
    CloudProviderType, Error, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery, seed,
};

/// The environment variable that names the store when `--db` is absent.
const DB_ENV: &str = "PLUGIN_METASTORE_DB";

/// The store's file name inside the platform's data directory.
const DEFAULT_FILE_NAME: &str = "plugins.db";

/// Shown under the top-level `--help`.
const MAIN_EXAMPLES: &str = "\
Examples:
  plugin-metastore demo                          # example plugins, then the table
  plugin-metastore list --cloud --active         # what is costing money right now
  plugin-metastore show transcription_whisper_tiny
  plugin-metastore export > plugins.json
  plugin-metastore --db other.db import plugins.json

The store is --db PATH, else $PLUGIN_METASTORE_DB, else plugins.db in the
platform's data directory (created on first use).";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "plugin-metastore",
    version,
    about = "Inspect and edit a plugin-metastore database: plugins, their PIDs, containers and cloud resources",
    after_help = MAIN_EXAMPLES,
    subcommand_required = true,
    arg_required_else_help = false
)]
struct Cli {
    /// The store file [default: $PLUGIN_METASTORE_DB, else plugins.db in the
    /// platform's data directory]
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the store (or bring it to the current schema) and say where it is
    #[command(after_help = "Example:\n  plugin-metastore --db plugins.db init")]
    Init,

    /// Save the example plugins of the Python original, then list the store
    #[command(after_help = "Example:\n  plugin-metastore --db /tmp/demo.db demo")]
    Demo,

    /// List plugins as a table (or JSON), optionally filtered
    #[command(after_help = "\
Filters combine with AND; a repeated --mode, --provider, --category or
--status means any of them.

Examples:
  plugin-metastore list
  plugin-metastore list --mode cloud_gpu --provider aws --provider lambda_labs
  plugin-metastore list --active --local
  plugin-metastore list --category transcription --json")]
    List(ListArgs),

    /// Show one plugin in full
    #[command(after_help = "\
Examples:
  plugin-metastore show transcription_whisper_tiny
  plugin-metastore show finetuning_llm_finetune_aws --json")]
    Show {
        #[command(flatten)]
        target: Target,
        /// Print the record as JSON (the Python field layout)
        #[arg(long)]
        json: bool,
    },

    /// Import plugins from JSON (an array or one object, Python field layout), all or nothing
    #[command(after_help = "\
Records replace the plugins with the same (category, name). If any record is
invalid nothing is written.

Examples:
  plugin-metastore import plugins.json
  python3 dump_plugins.py | plugin-metastore import -")]
    Import {
        /// The JSON file, or - for standard input
        #[arg(value_name = "FILE|-")]
        file: String,
    },

    /// Print every plugin as a JSON array (imports back unchanged)
    #[command(after_help = "\
Examples:
  plugin-metastore export > plugins.json
  plugin-metastore export | plugin-metastore --db copy.db import -")]
    Export,

    /// Delete a plugin with its PIDs and remote resource
    #[command(after_help = "Example:\n  plugin-metastore delete transcription_whisper_tiny")]
    Delete {
        #[command(flatten)]
        target: Target,
    },

    /// Record or forget child process PIDs of a plugin
    #[command(
        subcommand,
        arg_required_else_help = false,
        after_help = "\
Examples:
  plugin-metastore pid add transcription_voxtral_vllm 4242
  plugin-metastore pid remove transcription_voxtral_vllm 4242
  plugin-metastore pid clear transcription_voxtral_vllm"
    )]
    Pid(PidCommand),

    /// Set or clear the Docker container id of a plugin
    #[command(
        subcommand,
        arg_required_else_help = false,
        after_help = "\
Examples:
  plugin-metastore container set transcription_whisper_tiny 3f4e5d6c7b8a
  plugin-metastore container clear transcription_whisper_tiny"
    )]
    Container(ContainerCommand),

    /// Set the status of a plugin's remote resource (e.g. running, stopped)
    #[command(after_help = "\
Only exactly \"running\" counts as active.

Example:
  plugin-metastore remote-status finetuning_llm_finetune_aws stopped")]
    RemoteStatus {
        #[command(flatten)]
        target: Target,
        /// The new status (free text: provisioning, running, stopping, stopped, ...)
        status: String,
    },
}

/// The `pid` subcommands.
#[derive(Debug, Subcommand)]
enum PidCommand {
    /// Append a PID to the plugin's list
    #[command(after_help = "Example:\n  plugin-metastore pid add transcription_voxtral_vllm 4242")]
    Add {
        #[command(flatten)]
        target: Target,
        /// The process id (> 0)
        pid: u32,
    },
    /// Remove a PID from the plugin's list
    #[command(
        after_help = "Example:\n  plugin-metastore pid remove transcription_voxtral_vllm 4242"
    )]
    Remove {
        #[command(flatten)]
        target: Target,
        /// The process id
        pid: u32,
    },
    /// Remove every PID of the plugin
    #[command(after_help = "Example:\n  plugin-metastore pid clear transcription_voxtral_vllm")]
    Clear {
        #[command(flatten)]
        target: Target,
    },
}

/// The `container` subcommands.
#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// Set the plugin's container id
    #[command(
        after_help = "Example:\n  plugin-metastore container set transcription_whisper_tiny 3f4e5d6c7b8a"
    )]
    Set {
        #[command(flatten)]
        target: Target,
        /// The container id
        #[arg(value_name = "CID")]
        container_id: String,
    },
    /// Clear the plugin's container id
    #[command(
        after_help = "Example:\n  plugin-metastore container clear transcription_whisper_tiny"
    )]
    Clear {
        #[command(flatten)]
        target: Target,
    },
}

/// Which plugin a command is about.
#[derive(Debug, Args)]
struct Target {
    /// The plugin's unique id, CATEGORY_NAME (e.g. transcription_whisper_tiny)
    #[arg(value_name = "ID")]
    id: String,
    /// The plugin's category, to pick one plugin when ID is ambiguous
    #[arg(long, value_name = "CATEGORY")]
    category: Option<String>,
}

/// The filters and format of `list`.
#[derive(Debug, Args)]
struct ListArgs {
    /// Only this execution mode (repeatable): in_process, subprocess, docker,
    /// conda_env, external_service, cloud_gpu, cloud_api, remote_server, hybrid
    #[arg(long = "mode", value_name = "MODE", value_parser = parse_mode)]
    modes: Vec<PluginExecutionMode>,
    /// Only this cloud provider (repeatable): aws, gcp, azure, lambda_labs,
    /// runpod, vast_ai, paperspace, coreweave, custom
    #[arg(long = "provider", value_name = "PROVIDER", value_parser = parse_provider)]
    providers: Vec<CloudProviderType>,
    /// Only this category (repeatable)
    #[arg(long = "category", value_name = "CATEGORY")]
    categories: Vec<String>,
    /// Only this remote resource status, e.g. running (repeatable)
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    /// Only plugins holding active resources (PIDs, a container, a running remote resource)
    #[arg(long, conflicts_with = "inactive")]
    active: bool,
    /// Only plugins holding no active resources
    #[arg(long)]
    inactive: bool,
    /// Only local execution modes
    #[arg(long, conflicts_with = "cloud")]
    local: bool,
    /// Only cloud and remote execution modes
    #[arg(long)]
    cloud: bool,
    /// Print a JSON array of full records instead of the table
    #[arg(long)]
    json: bool,
}

impl ListArgs {
    /// The library query these flags mean.
    fn query(&self) -> PluginQuery {
        let mut q = PluginQuery::new();
        for &m in &self.modes {
            q = q.execution_mode(m);
        }
        for &p in &self.providers {
            q = q.provider(p);
        }
        for c in &self.categories {
            q = q.category(c.clone());
        }
        for s in &self.statuses {
            q = q.remote_status(s.clone());
        }
        if self.active || self.inactive {
            q = q.active(self.active);
        }
        if self.local || self.cloud {
            q = q.local(self.local);
        }
        q
    }
}

/// Parses `--mode` with the model's `FromStr` (its error names the value and
/// lists the valid ones).
fn parse_mode(s: &str) -> Result<PluginExecutionMode, String> {
    s.parse().map_err(|e: Error| reason(&e))
}

/// Parses `--provider` with the model's `FromStr`.
fn parse_provider(s: &str) -> Result<CloudProviderType, String> {
    s.parse().map_err(|e: Error| reason(&e))
}

/// Why an input error refused the value (clap's message already names the
/// argument).
fn reason(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A library input error as `field: reason`, for a message whose context
/// already names the record.
fn plain(e: &Error) -> String {
    match e {
        Error::InvalidInput { field, reason, .. } => format!("{field}: {reason}"),
        other => other.to_string(),
    }
}

/// A failed command: the one line printed after `plugin-metastore: `.
#[derive(Debug)]
struct Failure(String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e.to_string())
    }
}

/// The result of a command.
type CliResult<T = ()> = Result<T, Failure>;

/// Parses the command line, runs the command, and turns any failure into
/// one line on stderr and a non-zero exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            report(&message);
            ExitCode::FAILURE
        }
    }
}

/// Prints `plugin-metastore: <message>` (newlines flattened) on stderr.
fn report(message: &str) {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "plugin-metastore: {one_line}");
}

/// Handles a clap error: help and version go to stdout as clap renders them;
/// a usage error becomes one line on stderr, exit code 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `plugin-metastore` alone: the help is the most useful answer,
            // but it is still a failed invocation.
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            // clap's message is its first paragraph, then maybe a "tip:"
            // paragraph, then the usage and a "try --help" hint; `report`
            // joins the lines.
            let rendered = e.to_string();
            let mut paragraphs = rendered.split("\n\n").map(str::trim);
            let first = paragraphs.next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let mut message = if first.is_empty() {
                "invalid command line".to_owned()
            } else {
                first.to_owned()
            };
            for tip in paragraphs.filter(|p| p.starts_with("tip:")) {
                message.push_str("; ");
                message.push_str(tip);
            }
            report(&format!("{message} (see --help)"));
            ExitCode::from(2)
        }
    }
}

/// Runs one command.
fn run(cli: Cli) -> CliResult {
    let db = cli.db;
    match cli.command {
        Command::Init => init(&resolve_db(db)?),
        Command::Demo => {
            let store = open(&resolve_db(db)?)?;
            let plugins = seed::plugins();
            store.save_all(&plugins)?;
            let mut out = format!(
                "saved {} example plugins to {}\n",
                plugins.len(),
                display_path(&store)
            );
            out.push_str(&table(&store.list()?));
            print(&out)
        }
        Command::List(args) => {
            let store = open_existing(&resolve_db(db)?)?;
            let plugins = store.query(&args.query())?;
            if args.json {
                print(&to_json(&plugins)?)
            } else {
                print(&table(&plugins))
            }
        }
        Command::Show { target, json } => {
            let store = open_existing(&resolve_db(db)?)?;
            let plugin = find(&store, &target)?;
            if json {
                print(&to_json(&plugin)?)
            } else {
                print(&details(&plugin))
            }
        }
        Command::Import { file } => import(db, &file),
        Command::Export => {
            let store = open_existing(&resolve_db(db)?)?;
            print(&to_json(&store.list()?)?)
        }
        Command::Delete { target } => {
            let store = open_existing(&resolve_db(db)?)?;
            let p = find(&store, &target)?;
            if !store.delete(&p.category, &p.name)? {
                return Err(not_found(&target.id));
            }
            print(&format!("deleted {}\n", p.unique_id()))
        }
        Command::Pid(cmd) => pid(&open_existing(&resolve_db(db)?)?, cmd),
        Command::Container(cmd) => container(&open_existing(&resolve_db(db)?)?, cmd),
        Command::RemoteStatus { target, status } => {
            let store = open_existing(&resolve_db(db)?)?;
            let p = find(&store, &target)?;
            store.set_remote_status(&p.category, &p.name, &status)?;
            print(&format!(
                "remote status of {} set to {status:?}\n",
                p.unique_id()
            ))
        }
    }
}

/// `init`: opens (creating or migrating) the store and says where it is.
fn init(path: &Path) -> CliResult {
    let existed = path.exists();
    let store = open(path)?;
    let version = store.schema_version()?;
    let what = if existed {
        "store is ready"
    } else {
        "created store"
    };
    print(&format!(
        "{what}: {} (schema version {version})\n",
        path.display()
    ))
}

/// `import FILE|-`: reads and checks every record before the store is even
/// opened, then saves them all in one transaction.
fn import(db: Option<PathBuf>, file: &str) -> CliResult {
    let (label, text) = if file == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
        ("<stdin>".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure(format!("cannot read {file}: {e}")))?;
        (file.to_owned(), text)
    };
    let plugins = parse_records(&label, &text)?;
    for (i, p) in plugins.iter().enumerate() {
        p.validate().map_err(|e| {
            Failure(format!(
                "{label}: record {} ({}): {}",
                i + 1,
                p.unique_id(),
                plain(&e)
            ))
        })?;
    }
    let store = open(&resolve_db(db)?)?;
    store.save_all(&plugins)?;
    let s = if plugins.len() == 1 { "" } else { "s" };
    print(&format!(
        "imported {} plugin{s} from {label} into {}\n",
        plugins.len(),
        display_path(&store)
    ))
}

/// Parses a JSON array of records, or one record, in the Python layout.
/// Errors name the source, line and column (serde's message names the
/// offending value, e.g. an unknown enum string).
fn parse_records(label: &str, text: &str) -> CliResult<Vec<PluginMetadata>> {
    // A byte-order mark (some Windows editors write one) is not JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let located = |e: serde_json::Error| {
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        if e.line() == 0 {
            Failure(format!("{label}: {message}"))
        } else {
            Failure(format!("{label}:{}:{}: {message}", e.line(), e.column()))
        }
    };
    match text.trim_start().chars().next() {
        Some('[') => serde_json::from_str::<Vec<PluginMetadata>>(text).map_err(located),
        Some('{') => serde_json::from_str::<PluginMetadata>(text)
            .map(|p| vec![p])
            .map_err(located),
        Some(_) => match serde_json::from_str::<serde_json::Value>(text) {
            Err(e) => Err(located(e)),
            Ok(value) => Err(Failure(format!(
                "{label}: expected a JSON array of plugin records or one record (an object), got {}",
                match value {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::String(_) => "a string",
                    // Arrays and objects start with '[' or '{'.
                    serde_json::Value::Array(_) | serde_json::Value::Object(_) => "something else",
                }
            ))),
        },
        None => Err(Failure(format!(
            "{label}: empty input (expected a JSON array of plugin records or one record)"
        ))),
    }
}

/// `pid add|remove|clear`.
fn pid(store: &MetadataStore, cmd: PidCommand) -> CliResult {
    match cmd {
        PidCommand::Add { target, pid } => {
            let p = find(store, &target)?;
            store.add_pid(&p.category, &p.name, pid)?;
            print(&format!("added PID {pid} to {}\n", p.unique_id()))
        }
        PidCommand::Remove { target, pid } => {
            let p = find(store, &target)?;
            if !store.remove_pid(&p.category, &p.name, pid)? {
                return Err(Failure(format!(
                    "PID {pid} is not recorded for {}",
                    p.unique_id()
                )));
            }
            print(&format!("removed PID {pid} from {}\n", p.unique_id()))
        }
        PidCommand::Clear { target } => {
            let p = find(store, &target)?;
            let n = store.clear_pids(&p.category, &p.name)?;
            let s = if n == 1 { "" } else { "s" };
            print(&format!("removed {n} PID{s} from {}\n", p.unique_id()))
        }
    }
}

/// `container set|clear`.
fn container(store: &MetadataStore, cmd: ContainerCommand) -> CliResult {
    match cmd {
        ContainerCommand::Set {
            target,
            container_id,
        } => {
            let p = find(store, &target)?;
            store.set_container_id(&p.category, &p.name, Some(&container_id))?;
            print(&format!(
                "container of {} set to {container_id:?}\n",
                p.unique_id()
            ))
        }
        ContainerCommand::Clear { target } => {
            let p = find(store, &target)?;
            store.set_container_id(&p.category, &p.name, None)?;
            print(&format!("container of {} cleared\n", p.unique_id()))
        }
    }
}

/// The store path: `--db`, else `$PLUGIN_METASTORE_DB` (an empty value
/// counts as unset), else `plugins.db` in the platform's data directory,
/// which is created if missing.
fn resolve_db(db: Option<PathBuf>) -> CliResult<PathBuf> {
    if let Some(path) = db {
        return Ok(path);
    }
    if let Some(path) = std::env::var_os(DB_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dirs = directories::ProjectDirs::from("", "", "plugin-metastore").ok_or_else(|| {
        Failure(format!(
            "cannot find the platform's data directory (no home directory?); \
             pass --db PATH or set {DB_ENV}"
        ))
    })?;
    let dir = dirs.data_dir();
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir.join(DEFAULT_FILE_NAME))
}

/// Opens (creating and migrating) the store.
fn open(path: &Path) -> CliResult<MetadataStore> {
    Ok(MetadataStore::open(path)?)
}

/// Opens a store that must already exist: commands that read or change
/// plugins never create a file (a mistyped `--db` would otherwise leave an
/// empty store behind and answer "no plugin").
fn open_existing(path: &Path) -> CliResult<MetadataStore> {
    if !path.exists() {
        return Err(Failure(format!(
            "no store at {}; create it with `plugin-metastore init` (or `demo`)",
            path.display()
        )));
    }
    open(path)
}

/// The store's path for messages.
fn display_path(store: &MetadataStore) -> String {
    store
        .path()
        .map_or_else(|| "memory".to_owned(), |p| p.display().to_string())
}

/// The plugin `target` names: by unique id, or with `--category` by the
/// category and the rest of the id.
fn find(store: &MetadataStore, target: &Target) -> CliResult<PluginMetadata> {
    let id = target.id.as_str();
    if let Some(category) = &target.category {
        let name = id
            .strip_prefix(category.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or_else(|| {
                Failure(format!(
                    "the unique id {id:?} does not start with the category {category:?} and '_'"
                ))
            })?;
        return store.get(category, name)?.ok_or_else(|| {
            Failure(
                Error::NotFound {
                    category: category.clone(),
                    name: name.to_owned(),
                }
                .to_string(),
            )
        });
    }
    match store.get_by_unique_id(id) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(not_found(id)),
        Err(e @ Error::AmbiguousId { .. }) => {
            Err(Failure(format!("{e}; pick one with --category CATEGORY")))
        }
        Err(e) => Err(e.into()),
    }
}

/// "no plugin has the unique id …".
fn not_found(id: &str) -> Failure {
    Failure(format!("no plugin has the unique id {id:?}"))
}

/// Pretty JSON (two-space indent, the field order of the Python
/// dataclasses) and a final newline: the format of `export`, `list --json`
/// and `show --json`.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> CliResult<String> {
    let mut s = serde_json::to_string_pretty(value).map_err(Error::from)?;
    s.push('\n');
    Ok(s)
}

/// The `list` table: unique id, mode, provider, status, PIDs, container,
/// cost/h, active.
fn table(plugins: &[PluginMetadata]) -> String {
    if plugins.is_empty() {
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
    for p in plugins {
        let remote = p.remote_resource.as_ref();
        let pids = p
            .spawned_pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        t.add_row([
            printable(&p.unique_id()),
            p.execution_mode.to_string(),
            remote.map_or_else(|| "-".to_owned(), |r| r.provider.to_string()),
            remote.map_or_else(|| "-".to_owned(), |r| printable(&r.status)),
            or_dash(pids),
            p.container_id
                .as_deref()
                .map_or_else(|| "-".to_owned(), short_container),
            remote
                .and_then(|r| r.estimated_cost_per_hour)
                .map_or_else(|| "-".to_owned(), |c| format!("${c:.2}")),
            yes_no(p.has_active_resources()),
        ]);
    }
    let s = if plugins.len() == 1 { "" } else { "s" };
    format!("{t}\n{} plugin{s}\n", plugins.len())
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

/// `s` with control characters escaped, so stored text cannot move the
/// cursor or recolour the terminal.
fn printable(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.escape_debug().to_string()
    } else {
        s.to_owned()
    }
}

/// Every field of one plugin, one per line, for `show`.
fn details(p: &PluginMetadata) -> String {
    let text = |v: &Option<String>| v.as_ref().map_or_else(|| "-".to_owned(), |s| quoted(s));
    let mut rows: Vec<(&str, String)> = vec![
        ("unique id", p.unique_id()),
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
        ("config_schema", p.config_schema.to_string()),
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
                    serde_json::Value::Object(r.metadata.clone()).to_string(),
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
    let plain =
        !s.is_empty() && s.trim() == s && !s.chars().any(char::is_control) && !s.starts_with('"');
    if plain {
        s.to_owned()
    } else {
        format!("{s:?}")
    }
}

/// `yes` / `no`.
fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Writes `text` to stdout in one go. A closed pipe (`… | head`) is not an
/// error: the reader has all it wanted.
fn print(text: &str) -> CliResult {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write to standard output: {e}"))),
    }
}
