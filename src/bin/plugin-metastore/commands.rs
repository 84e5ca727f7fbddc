//! The commands: each opens the store, makes one library call (or a few
//! reads) and hands the result to `output`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use plugin_metastore::{Error, MetadataStore, PluginMetadata, PluginQuery};

use crate::args::{Cli, Command, ContainerCommand, PidCommand};
use crate::cost;
use crate::failure::{CliResult, Failure, plain, reason};
use crate::output::{details, display_path, print, print_records, table, to_json};
use crate::target::{find, find_key, not_found};
use crate::{backup, datasette, processes, spawn, watch};

/// The environment variable that names the store when `--db` is absent.
const DB_ENV: &str = "PLUGIN_METASTORE_DB";

/// The app name whose data directory holds the CLI's default store.
const APP_NAME: &str = "plugin-metastore";

/// Runs one command.
pub(crate) fn run(cli: Cli) -> CliResult {
    let db = cli.db;
    match cli.command {
        Command::Init => init(&resolve_db(db)?),
        Command::Demo => processes::demo(&open(&resolve_db(db)?)?),
        Command::List(args) => {
            let store = open_reading(&resolve_db(db)?)?;
            if args.json {
                print_records(&store, &args.query(), args.skip_bad)
            } else {
                let listed = if args.skip_bad {
                    store
                        .summaries_readable(&args.query())
                        .map(|(rows, skipped)| {
                            for e in &skipped {
                                crate::failure::warn(&format!(
                                    "skipped a plugin that cannot be read: {e}"
                                ));
                            }
                            rows
                        })
                } else {
                    store.summaries(&args.query())
                };
                match listed {
                    Ok(rows) => print(&table(&rows)),
                    Err(e @ Error::BadData { .. }) => Err(Failure(format!(
                        "{e}; `list --skip-bad` lists the rest and names such rows"
                    ))),
                    Err(e) => Err(e.into()),
                }
            }
        }
        Command::Show { target, json } => {
            let store = open_reading(&resolve_db(db)?)?;
            let plugin = find(&store, &target)?;
            if json {
                print(&to_json(&plugin)?)
            } else {
                print(&details(&plugin))
            }
        }
        Command::Import { file, claim } => import(db, &file, claim),
        Command::Export { skip_bad } => print_records(
            &open_reading(&resolve_db(db)?)?,
            &PluginQuery::new(),
            skip_bad,
        ),
        Command::Delete { target } => {
            let store = open_existing(&resolve_db(db)?)?;
            let p = find_key(&store, &target)?;
            if !store.delete(&p.category, &p.name)? {
                return Err(not_found(&target.id));
            }
            print(&format!("deleted {}\n", p.unique_id()))
        }
        Command::Pid(cmd) => pid(&open_existing(&resolve_db(db)?)?, cmd),
        Command::Container(cmd) => container(&open_existing(&resolve_db(db)?)?, cmd),
        Command::RemoteStatus { target, status, at } => {
            cost::remote_status(&open_existing(&resolve_db(db)?)?, &target, &status, at)
        }
        Command::Cost(args) => cost::report(&open_existing(&resolve_db(db)?)?, &args),
        Command::History { target, json } => {
            cost::history(&open_existing(&resolve_db(db)?)?, &target, json)
        }
        Command::Check { json } => processes::check(&open_reading(&resolve_db(db)?)?, json),
        Command::Reap(args) => processes::reap(&open_existing(&resolve_db(db)?)?, &args),
        Command::Spawn(args) => spawn::run(&open_existing(&resolve_db(db)?)?, &args),
        Command::SpawnExec(args) => spawn::exec(&args),
        Command::Watch(args) => watch::watch(open_existing(&resolve_db(db)?)?, &args),
        Command::Backup { path } => backup::backup(&open_reading(&resolve_db(db)?)?, &path),
        Command::Verify { json } => backup::verify(&resolve_db(db)?, json),
        Command::DatasetteMetadata(args) => datasette::run(&resolve_db(db)?, &args),
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
        crate::text::printable(&path.display().to_string())
    ))
}

/// `import FILE|-`: reads and checks every record before the store is even
/// opened, then saves them all in one transaction. PIDs new to their
/// plugin are stored unverified unless `claim`.
fn import(db: Option<PathBuf>, file: &str, claim: bool) -> CliResult {
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
    // Two records with one key would store one plugin and report two.
    let mut seen = std::collections::HashMap::new();
    for (i, p) in plugins.iter().enumerate() {
        if let Some(first) = seen.insert((&p.category, &p.name), i + 1) {
            return Err(Failure(format!(
                "{label}: records {first} and {} are the same plugin (category {:?}, name {:?})",
                i + 1,
                p.category,
                p.name
            )));
        }
    }
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
    let pids = if claim {
        store.save_all(&plugins)?;
        String::new()
    } else {
        match store.save_all_unclaimed(&plugins)? {
            0 => String::new(),
            n => format!(
                "{n} PID{} stored unverified (not claimed: the processes holding them here \
                 are never signalled; `import --claim` records them as the plugins' own)\n",
                if n == 1 { "" } else { "s" }
            ),
        }
    };
    let s = if plugins.len() == 1 { "" } else { "s" };
    print(&format!(
        "imported {} plugin{s} from {label} into {}\n{pids}",
        plugins.len(),
        display_path(&store)
    ))
}

/// Reads records with the library's [`PluginMetadata::from_json_records`];
/// errors name the source, and the line and column when serde knows them
/// (its message names the offending value, e.g. an unknown enum string).
fn parse_records(label: &str, text: &str) -> CliResult<Vec<PluginMetadata>> {
    PluginMetadata::from_json_records(text).map_err(|e| match e {
        Error::Json(e) if e.line() > 0 => {
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            Failure(format!("{label}:{}:{}: {message}", e.line(), e.column()))
        }
        Error::Json(e) => Failure(format!("{label}: {e}")),
        other => Failure(format!("{label}: {}", reason(&other))),
    })
}

/// `pid add|remove|clear`.
fn pid(store: &MetadataStore, cmd: PidCommand) -> CliResult {
    match cmd {
        PidCommand::Add { target, pid } => {
            let p = find_key(store, &target)?;
            let what = if store.add_pid(&p.category, &p.name, pid)? {
                "added PID"
            } else {
                "re-recorded the process identity of PID"
            };
            print(&format!("{what} {pid} to {}\n", p.unique_id()))
        }
        PidCommand::Remove { target, pid } => {
            let p = find_key(store, &target)?;
            if !store.remove_pid(&p.category, &p.name, pid)? {
                return Err(Failure(format!(
                    "PID {pid} is not recorded for {}",
                    p.unique_id()
                )));
            }
            print(&format!("removed PID {pid} from {}\n", p.unique_id()))
        }
        PidCommand::Clear { target } => {
            let p = find_key(store, &target)?;
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
            let p = find_key(store, &target)?;
            store.set_container_id(&p.category, &p.name, Some(&container_id))?;
            print(&format!(
                "container of {} set to {container_id:?}\n",
                p.unique_id()
            ))
        }
        ContainerCommand::Clear { target } => {
            let p = find_key(store, &target)?;
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
    // The library's default for an app, owner-only whatever the umask.
    plugin_metastore::default_path(APP_NAME).map_err(|e| match e {
        Error::Io(e) => Failure(format!("{e}; pass --db PATH or set {DB_ENV}")),
        other => Failure(other.to_string()),
    })
}

/// Opens (creating and migrating) the store.
fn open(path: &Path) -> CliResult<MetadataStore> {
    Ok(MetadataStore::open(path)?)
}

/// Opens a store that must already exist: commands that read or change
/// plugins never create a file (a mistyped `--db` would otherwise leave an
/// empty store behind and answer "no plugin").
fn open_existing(path: &Path) -> CliResult<MetadataStore> {
    must_exist(path)?;
    open(path)
}

/// [`open_existing`] for commands that only read: a store this process
/// cannot write (a read-only file or directory) is opened read-only.
fn open_reading(path: &Path) -> CliResult<MetadataStore> {
    must_exist(path)?;
    match MetadataStore::open(path) {
        Err(Error::ReadOnly { .. }) => Ok(MetadataStore::open_read_only(path)?),
        other => Ok(other?),
    }
}

/// "no store at …" unless something is at `path` (a dangling symbolic
/// link counts: the library then says what is wrong with it).
fn must_exist(path: &Path) -> CliResult {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(Failure(format!(
            "no store at {}; create it with `plugin-metastore init` (or `demo`)",
            path.display()
        )));
    }
    Ok(())
}
