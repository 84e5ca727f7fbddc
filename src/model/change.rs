//! The change feed's types ([`Changes`], [`Change`], [`ChangeOp`]): what
//! [`MetadataStore::changes_since`](crate::MetadataStore::changes_since)(crate::MetadataStore::changes_since)
//! and a [`ChangeWatcher`](crate::ChangeWatcher) return. No SQL here; the
//! feed itself is the store's `changes` module.

use serde::Serialize;

use super::{string_enum, unique_id};

string_enum! {
    /// What happened to a plugin (stored and printed as `insert`,
    /// `update`, `delete`).
    ChangeOp, "op" {
        /// The plugin was created (or a hand edit gave a plugin this key).
        Insert => "insert",
        /// The plugin, its PIDs or its remote resource changed.
        Update => "update",
        /// The plugin was deleted (or a hand edit gave it another key).
        Delete => "delete",
    }
}

/// One row of the change log: a plugin that changed, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// Its place in commit order; pass the last one seen as the next
    /// cursor.
    pub seq: u64,
    /// The plugin's display id, `category_name`.
    pub unique_id: String,
    /// The plugin's category.
    pub category: String,
    /// The plugin's name.
    pub name: String,
    /// What happened.
    pub op: ChangeOp,
}

impl Change {
    pub(crate) fn new(seq: u64, category: String, name: String, op: ChangeOp) -> Self {
        Change {
            seq,
            unique_id: unique_id(&category, &name),
            category,
            name,
            op,
        }
    }
}

/// What [`MetadataStore::changes_since`](crate::MetadataStore::changes_since) found.
///
/// Serializes as the CLI's `watch` writes a reset:
/// `{"reset":true,"seq":N}` for [`Reset`](Changes::Reset), and
/// `{"reset":false,"seq":N,"changes":[…]}` for [`Since`](Changes::Since),
/// `seq` being the cursor to ask with next and each change as `watch`
/// writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Changes {
    /// Every change committed after the cursor, oldest first (one per
    /// plugin per library transaction; a hand edit in `sqlite3` may give
    /// one per table row). Ask again with `cursor`.
    Since {
        /// The changes; empty when nothing changed.
        changes: Vec<Change>,
        /// The seq of the last change, or the cursor asked with.
        cursor: u64,
    },
    /// The log no longer reaches back to the cursor (or never reached it):
    /// re-read everything you show, then ask again with `cursor`. Changes
    /// committed while you re-read come after `cursor`, so none is lost.
    Reset {
        /// The newest seq when this was answered.
        cursor: u64,
    },
}

impl Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (reset, cursor, changes) = match self {
            Changes::Reset { cursor } => (true, *cursor, None),
            Changes::Since { changes, cursor } => (false, *cursor, Some(changes)),
        };
        let mut out = s.serialize_struct("Changes", if reset { 2 } else { 3 })?;
        out.serialize_field("reset", &reset)?;
        out.serialize_field("seq", &cursor)?;
        if let Some(changes) = changes {
            out.serialize_field("changes", changes)?;
        }
        out.end()
    }
}

impl Changes {
    /// The cursor to ask with next time.
    pub fn cursor(&self) -> u64 {
        match self {
            Changes::Since { cursor, .. } | Changes::Reset { cursor } => *cursor,
        }
    }

    /// The changes found (none for [`Changes::Reset`]).
    pub fn changes(&self) -> &[Change] {
        match self {
            Changes::Since { changes, .. } => changes,
            Changes::Reset { .. } => &[],
        }
    }

    /// True when there is nothing to act on: no change, no reset.
    pub fn is_empty(&self) -> bool {
        matches!(self, Changes::Since { changes, .. } if changes.is_empty())
    }
}
