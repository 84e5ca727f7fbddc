//! Naming a plugin on the command line: by its unique id `category_name`
//! (an ambiguous one lists the candidates), or with `--category`.

use clap::Args;
use plugin_metastore::{Error, MetadataStore, PluginMetadata};

use crate::failure::{CliResult, Failure};
use crate::text::printable;

/// Which plugin a command is about.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The plugin's unique id, CATEGORY_NAME (e.g. transcription_whisper_tiny)
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    /// The plugin's category, to pick one plugin when ID is ambiguous
    #[arg(long, value_name = "CATEGORY")]
    pub(crate) category: Option<String>,
}

/// The key of the plugin `target` names: by unique id, or with
/// `--category` by the category and the rest of the id. Found without
/// reading the plugin, so one with a bad value in the file can still be
/// repaired or deleted.
pub(crate) fn find_key(store: &MetadataStore, target: &Target) -> CliResult<Key> {
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
        return Ok(Key {
            category: category.clone(),
            name: name.to_owned(),
        });
    }
    match store.resolve_unique_id(id) {
        Ok(Some((category, name))) => Ok(Key { category, name }),
        Ok(None) => Err(not_found(id)),
        Err(e @ Error::AmbiguousId { .. }) => {
            Err(Failure(format!("{e}; pick one with --category CATEGORY")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The plugin `target` names, read in full.
pub(crate) fn find(store: &MetadataStore, target: &Target) -> CliResult<PluginMetadata> {
    let key = find_key(store, target)?;
    store.get(&key.category, &key.name)?.ok_or_else(|| {
        Failure(
            Error::NotFound {
                category: key.category,
                name: key.name,
            }
            .to_string(),
        )
    })
}

/// A plugin's key, as the commands name it.
pub(crate) struct Key {
    pub(crate) category: String,
    pub(crate) name: String,
}

impl Key {
    /// `category_name`, printable.
    pub(crate) fn unique_id(&self) -> String {
        printable(&format!("{}_{}", self.category, self.name))
    }
}

/// "no plugin has the unique id …".
pub(crate) fn not_found(id: &str) -> Failure {
    Failure(format!("no plugin has the unique id {id:?}"))
}
