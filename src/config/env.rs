//! The environment layer. figment's `Env` provider parses every value as if it were
//! TOML: `VALKEY_SLOT_EXPORTER_PASSWORD=007` would arrive as the integer 7, surrounding
//! spaces would be trimmed, and `true`, `1.5` or `[x]` would become a boolean, a float
//! or a list that a string setting refuses. So the string settings (credentials, paths,
//! addresses, log settings) are read here byte for byte, as `Value::String`, and
//! figment's `Env` keeps only the numbers, booleans and durations, which it parses as
//! it always has. Both layers carry the same metadata, so an error names the variable.

use super::ENV_PREFIX;
use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::ffi::OsString;

/// Settings whose values are text, wherever they appear (top level or in a
/// `[clusters.NAME]` table, i.e. as the last part of the key). `nodes` is split on
/// commas by its deserializer, never parsed item by item.
const STRING_KEYS: [&str; 13] = [
    "listen",
    "nodes",
    "username",
    "password",
    "password_file",
    "tls_ca_file",
    "tls_client_cert_file",
    "tls_client_key_file",
    "web_config_file",
    "web_external_address",
    "log_level",
    "log_format",
    "slot_series",
];

/// Read by clap itself (`--config`'s `env`), not a figment key.
const NOT_SETTINGS: [&str; 1] = ["config"];

/// Whether `key` (already stripped of the prefix, any case) names a string setting.
fn is_string_key(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    STRING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(leaf.trim()))
}

/// figment's `Env` for everything that is not a string setting.
pub(super) fn typed_layer() -> Env {
    Env::prefixed(ENV_PREFIX).ignore(&NOT_SETTINGS).filter(|key| !is_string_key(key.as_str()))
}

/// The string settings from the environment, exactly as given.
pub(super) struct RawStrings {
    /// Every variable of the process (or of a test), names and values untouched;
    /// filtered by prefix and key in [`Provider::data`].
    vars: Vec<(OsString, OsString)>,
}

impl RawStrings {
    /// The process's environment.
    pub(super) fn from_process() -> Self {
        RawStrings { vars: std::env::vars_os().collect() }
    }

    /// A given environment, so tests need not change the process's (which other
    /// tests running at the same time would see).
    #[cfg(test)]
    pub(super) fn from_vars(vars: &[(&str, &str)]) -> Self {
        RawStrings { vars: vars.iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

/// The same metadata figment's `Env::prefixed` gives, so errors read alike whichever
/// of the two layers a value came from.
fn env_metadata() -> Metadata {
    Env::prefixed(ENV_PREFIX).metadata()
}

impl Provider for RawStrings {
    fn metadata(&self) -> Metadata {
        env_metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, value) in &self.vars {
            // Names are matched as `Env::prefixed` matches them: trimmed, prefix in any case.
            let Some(name) = name.to_str().map(str::trim) else { continue };
            let Some(key) = strip_prefix_ignore_case(name, ENV_PREFIX) else { continue };
            let key = key.trim().to_ascii_lowercase();
            if key.split('.').any(str::is_empty) || !is_string_key(&key) {
                continue;
            }
            // A Rust string cannot hold other bytes; refusing beats a lossy copy of a
            // password. The value itself is never echoed.
            let Some(value) = value.to_str() else {
                return Err(figment::Error::from(format!("environment variable {name} is not valid UTF-8")));
            };
            insert(&mut dict, &key, Value::from(value.to_string()));
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &name[prefix.len()..])
}

/// Puts `value` at the dotted `key` (`clusters.a.password`), creating tables on the way.
fn insert(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict.entry(head.to_string()).or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
