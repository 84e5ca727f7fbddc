//! The `plugin-metastore` command-line tool (see README, "CLI").

fn main() {
    eprintln!("plugin-metastore: the CLI is not written yet");
    std::process::exit(2);
}
