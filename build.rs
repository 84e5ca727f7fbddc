//! refinery's `embed_migrations!` reads `migrations/` at compile time, but
//! cargo does not know that: without this, a new migration file is not
//! embedded until some Rust file changes.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
