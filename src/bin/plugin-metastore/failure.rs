//! How a command fails: one line for stderr, built from the library's
//! errors (matched as data, never re-parsed from their text).

use std::io::{self, Write};

use plugin_metastore::Error;

/// A failed command: the one line printed after `plugin-metastore: `.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e.to_string())
    }
}

/// The result of a command.
pub(crate) type CliResult<T = ()> = Result<T, Failure>;

/// Why an input error refused the value (clap's message already names the
/// argument).
pub(crate) fn reason(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A library input error as `field: reason`, for a message whose context
/// already names the record.
pub(crate) fn plain(e: &Error) -> String {
    match e {
        Error::InvalidInput { field, reason, .. } => format!("{field}: {reason}"),
        other => other.to_string(),
    }
}

/// Prints `plugin-metastore: <message>` on stderr for a command that goes
/// on (a skipped row); the same form as a failure.
pub(crate) fn warn(message: &str) {
    report(message);
}

/// Prints `plugin-metastore: <message>` (newlines flattened) on stderr.
pub(crate) fn report(message: &str) {
    // Messages quote imported and stored text (a record's id, serde's
    // "unknown variant …"): nothing in them may reach the terminal raw.
    let one_line =
        crate::text::printable(&message.split_whitespace().collect::<Vec<_>>().join(" "));
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "plugin-metastore: {one_line}");
}
