//! What the integration tests share, so that each helper exists once:
//!
//! - [`rng`]: one small deterministic PRNG, so a failing run reproduces
//!   from its seed.
//! - [`plugins`]: plugin builders, from one awkward plugin to generated
//!   workloads.
//! - [`sqlite`]: the file as others see it: the real `sqlite3` CLI (one
//!   statement, or a session that holds a transaction open), the schema
//!   (`sqlite_master`), the migration history, the integrity check.
//! - [`files`]: files the store did not make this run: an old-version
//!   store, and the migrations the build embeds.
//! - [`stores`]: a new store in a temporary directory, in one line.
//! - [`processes`]: real child processes (`sleep`) that never outlive the
//!   test, and a process's `/proc/PID/stat`.
//! - [`children`]: the CLI (or any command) as a child process: run to the
//!   end and checked, its lines with a deadline, signals.
//! - [`demo`]: `demo` run by a test, its `sleep 600` child stopped when
//!   the test ends.
//!
//! Each test binary says `mod support;` and uses a subset, so the unused
//! rest is not a warning (`dead_code` here, `unused_imports` on the
//! re-exports below, which let a test write `use support::{sqlite3, Rng}`).
#![allow(dead_code)]

mod children;
mod demo;
mod files;
mod plugins;
mod processes;
mod rng;
mod sqlite;
mod stores;

#[allow(unused_imports)]
pub use children::{
    Lines, cli_outcome, metastore, metastore_ok, metastore_outcome, output_ok, runs_here, signal,
    wait_within,
};
#[allow(unused_imports)]
pub use demo::Demo;
#[allow(unused_imports)]
pub use files::{migration_files, old_version_file, snapshot};
#[allow(unused_imports)]
pub use plugins::{
    DEMO_TRANSITIONS, STATUSES, ambiguous_pair, assert_summarizes, cloud_plugin, random_plugin,
    sample, sample_dir, sample_store, unusual_plugin,
};
#[allow(unused_imports)]
pub use processes::{Sleeper, alive_and_dead, is_zombie, proc_stat, store_with_pool};
#[allow(unused_imports)]
pub use rng::{Rng, seeded, time_seed};
#[allow(unused_imports)]
pub use sqlite::{
    SchemaObject, Sqlite3Session, history, integrity_check, schema, sqlite3, sqlite3_output,
    sqlite3_result, table_rows,
};
#[allow(unused_imports)]
pub use stores::{pool_store, seed_store, temp_store};
