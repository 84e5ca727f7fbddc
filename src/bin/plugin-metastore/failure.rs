//! How a command fails: one line for stderr, built from the library's
//! errors (matched as data, never re-parsed from their text).

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
