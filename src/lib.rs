//! Plugin metadata — what each plugin is, how it executes, and which
//! resources it holds right now (child PIDs, a Docker container, a Conda
//! env, a cloud instance) — kept in a SQLite file that stays readable with
//! the plain `sqlite3` CLI.
//!
//! ```
//! use plugin_metastore::{
//!     CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery,
//!     RemoteResourceInfo,
//! };
//! use serde_json::json;
//!
//! # fn main() -> plugin_metastore::Result<()> {
//! let store = MetadataStore::open_in_memory()?; // or MetadataStore::open("plugins.db")?
//!
//! let mut plugin = PluginMetadata::new(
//!     "llm_finetune_aws", "finetuning", "AWS LLM Finetuning",
//!     json!({"type": "object", "properties": {}}),
//! );
//! plugin.execution_mode = PluginExecutionMode::CloudGpu;
//! let mut aws = RemoteResourceInfo::new(CloudProviderType::Aws);
//! aws.status = "running".into();
//! aws.estimated_cost_per_hour = Some(24.5);
//! plugin.remote_resource = Some(aws);
//! store.save(&plugin)?;
//!
//! assert_eq!(store.get("finetuning", "llm_finetune_aws")?, Some(plugin.clone()));
//! let on_aws = store.query(&PluginQuery::new().provider(CloudProviderType::Aws).active(true))?;
//! assert_eq!(on_aws, vec![plugin]);
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! The model ([`PluginMetadata`], [`RemoteResourceInfo`] and their enums) is
//! the Rust form of two Python dataclasses; its serde form is their JSON form
//! (field names as in Python, enums as their string values, missing optional
//! fields take the Python defaults), so Python and Rust apps can exchange
//! records.
//!
//! The file holds the tables `plugins` (one row per plugin, key
//! `(category, name)`), `plugin_pids` (one row per PID, in order),
//! `remote_resources` (at most one per plugin) and
//! `remote_status_history` (every change of a remote resource, written by
//! triggers, the source of [`MetadataStore::cost_report`]) — plus
//! refinery's `refinery_schema_history` and views for people
//! (`plugin_overview`, `active_resources`, `remote_overview`,
//! `pid_identity`, `remote_burn_rate`, `recent_changes`, in a stable order;
//! `billed_intervals`, the cost rule of [`MetadataStore::cost_report`] as
//! SQL, one row per interval of the history). Enums are stored as their text,
//! JSON as text, timestamps as RFC 3339 UTC text; CHECK constraints refuse
//! by hand what the library refuses.
//!
//! For a UI: [`MetadataStore::summaries`] gives list rows without parsing
//! JSON; the change feed ([`MetadataStore::changes_since`],
//! [`ChangeWatcher`]) says which plugins changed since a cursor, in commit
//! order, whoever changed them (a bounded `change_log` written by
//! triggers); [`MetadataStore::backup`] copies a live store consistently and
//! [`MetadataStore::verify`] checks a file without changing it.
//!
//! # Compatibility promises
//!
//! - [`MetadataStore::open`] runs every pending migration (embedded from
//!   `migrations/`) and their history rows in one transaction; re-opening a
//!   current file writes nothing.
//! - A file written by a newer build ([`Error::SchemaTooNew`]) or that is
//!   not a plugin-metastore database ([`Error::NotAStore`]) is refused and
//!   left untouched.
//! - Migration files are never edited once released; schema changes come as
//!   new files.
//! - A save is all or nothing, and a crash loses no committed save (WAL,
//!   `synchronous=NORMAL` by default; see [`Synchronous`]).
//! - Errors are data a caller can match on ([`Error::InvalidInput`] names
//!   the field, [`Error::Busy`] / [`Error::Damaged`] / [`Error::BadData`]
//!   name the file) and never tie an app to the SQLite driver's own types.
//!
//! # Process identity
//!
//! A stored PID is a claim made at one moment. The store keeps, beside each
//! PID it records, the process's start time and boot id, so
//! [`MetadataStore::check_pids`] can tell the recorded process from a
//! stranger holding the same number after a crash or a reboot, and
//! [`MetadataStore::reap`] removes (or, asked to, stops) only what is
//! provably gone or provably ours. At start-up,
//! [`MetadataStore::register`] records a plugin's definition and keeps the
//! resources the last run left.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "async")]
mod async_store;
mod connect;
mod cost;
mod error;
mod location;
mod migrate;
mod model;
mod open;
mod process;
mod query;
mod schema;
pub mod seed;
mod store;
mod time;

#[cfg(feature = "async")]
pub use async_store::{AsyncStore, ChangeStream, DEFAULT_READERS};
pub use cost::{BurnRate, CostGroup, CostGrouping, CostQuery, CostReport, RemoteStatusEntry};
pub use error::{Error, Result};
pub use location::default_path;
pub use model::{
    Change, ChangeOp, Changes, CloudProviderType, MAX_JSON_DEPTH, PluginExecutionMode,
    PluginMetadata, PluginSummary, RemoteResourceInfo,
};
pub use open::{StoreOptions, Synchronous};
pub use process::{PidState, pid_in_use};
pub use query::PluginQuery;
pub use store::{
    Backup, ChangeWatcher, MetadataStore, PidCheck, Problem, ReapAction, ReapOptions, Reaped,
    RecordedStatus, SPAWN_TOKEN_ENV, Verification,
};
pub use time::parse_time;

/// The README's Rust snippets, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
