//! refinery's `embed_migrations!` reads `migrations/` at compile time, but
//! cargo does not know that: without this, a new migration file is not
//! embedded until some Rust file changes.
//!
//! The crate accepts a range of rusqlite (0.32–0.41) and CI tests both
//! ends. The library itself uses only API common to the range; the unit
//! test that counts statements needs SQLite's trace hook, whose rusqlite
//! signature changed in 0.41 (0.32 has only the legacy `trace`). Cargo
//! tells a build script nothing about a dependency's version, so this reads
//! the crate's own `Cargo.lock` (written by cargo before any build script
//! runs) and sets `rusqlite_legacy_trace` below 0.41. Only the crate's own
//! unit tests look at it, so when the crate is built as a dependency
//! (where the lock beside its sources, if any, is not the build's) it
//! changes nothing.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo::rustc-check-cfg=cfg(rusqlite_legacy_trace)");
    // Read at run time: `env!` would bake in where the script was compiled,
    // and a reused build of it would look at that (maybe gone) copy.
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let lock = Path::new(&dir).join("Cargo.lock");
    if !lock.exists() {
        return;
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return;
    };
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "name = \"rusqlite\"" {
            continue;
        }
        let version = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or("");
        let minor = version
            .strip_prefix("0.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        if minor.is_some_and(|m| m < 41) {
            println!("cargo:rustc-cfg=rusqlite_legacy_trace");
        }
        return;
    }
}
