//! [`ConfigError`]: what is wrong with the configuration, which key holds the value at
//! fault and which layer (flag, environment variable, file, default) it came from.
//!
//! A leaf of `config/`: every validation step builds its errors here, so none of them
//! has to import another to phrase an error.

use super::ENV_PREFIX;
use figment::{Figment, Metadata, Profile};
use std::fmt;

/// A configuration problem, already phrased for the operator.
///
/// Displayed as `configuration error: {message} (from {origin})`, or without the
/// parenthesis when no single layer is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {message}{}", self.origin_clause())]
pub struct ConfigError {
    /// The key to change, as written in a TOML file (`cache_ttl`, `clusters.eu.nodes`),
    /// so tests and callers can tell errors apart without reading prose; `None` when no
    /// key is at fault (several figment errors at once, say).
    key: Option<String>,
    /// Where the key's value came from, as [`source_of`] names it ("command-line flag
    /// --cache-ttl", "environment variable VALKEY_SLOT_EXPORTER_CACHE_TTL", "key
    /// `cache_ttl` in TOML file /x.toml"); `None` when the message itself names the
    /// layers (a conflict between two keys names both) or there is no key.
    origin: Option<String>,
    /// What is wrong, without the origin: the text the operator reads.
    message: String,
}

impl ConfigError {
    /// An error about `key`, naming where its value came from.
    pub(super) fn at(figment: &Figment, key: &str, message: impl fmt::Display) -> Self {
        ConfigError { key: Some(key.to_string()), origin: Some(source_of(figment, key)), message: message.to_string() }
    }

    /// An error about `key` whose message already says where the values came from
    /// (two keys in conflict), or where no layer is involved.
    pub(super) fn about(key: &str, message: impl fmt::Display) -> Self {
        ConfigError { key: Some(key.to_string()), origin: None, message: message.to_string() }
    }

    /// Every error figment collected, one clause each, naming the key the way the user
    /// wrote it: a flag, a full environment variable name, or a file key. The first
    /// error's key is the one reported by [`ConfigError::key`].
    pub(super) fn from_figment(err: figment::Error) -> Self {
        let errors: Vec<figment::Error> = err.into_iter().collect();
        let key = errors.first().map(|e| e.path.join(".")).filter(|k| !k.is_empty());
        if let [only] = errors.as_slice() {
            let origin = only.metadata.as_ref().map(|md| describe_source(md, &only.path.join(".")));
            return ConfigError { key, origin, message: only.kind.to_string() };
        }
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match &e.metadata {
                Some(md) => format!("{} (from {})", e.kind, describe_source(md, &e.path.join("."))),
                None => e.kind.to_string(),
            })
            .collect();
        ConfigError { key, origin: None, message: lines.join("; ") }
    }

    /// The key at fault, as written in a TOML file.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Where the key's value came from, when one layer is to blame.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// What is wrong, without the origin.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The end of the displayed text: " (from {origin})" when one layer is to blame,
    /// nothing otherwise.
    fn origin_clause(&self) -> String {
        self.origin.as_ref().map(|origin| format!(" (from {origin})")).unwrap_or_default()
    }
}

/// "command-line flag --cache-ttl", "environment variable VALKEY_SLOT_EXPORTER_CACHE_TTL",
/// "key `cache_ttl` in TOML file /etc/x.toml", "key `cache_ttl` (default)".
fn describe_source(md: &Metadata, key: &str) -> String {
    if md.name.starts_with("command-line") {
        format!("{} {}", md.name, md.interpolate(&Profile::Default, &[key]))
    } else if md.name.contains("environment") {
        format!("environment variable {ENV_PREFIX}{}", key.to_ascii_uppercase().replace('.', "_"))
    } else if let Some(src) = &md.source {
        format!("key `{key}` in {} {src}", md.name)
    } else {
        format!("key `{key}` ({})", md.name)
    }
}

/// Where the final value of `key` came from, for errors found after extraction.
pub(super) fn source_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(md) => describe_source(md, key),
        None => format!("key `{key}`"),
    }
}
