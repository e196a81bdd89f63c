//! Exporter configuration files of the repository (deploy/, docs/), loaded with the
//! exporter's own loader, as the exporter would read them where it runs.

use std::collections::BTreeSet;
use valkey_slot_exporter::config::{self, Cli, Settings};

/// The `password_file = "..."` paths of a TOML text, written one per line as the
/// shipped files write them.
pub fn password_files(config: &str) -> BTreeSet<String> {
    config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("password_file = "))
        .map(|quoted| quoted.trim_matches('"').to_owned())
        .collect()
}

/// Loads `config` with the exporter's own loader, each of `password_files` replaced by
/// a file in a temporary folder (they exist only where the exporter runs); panics with
/// the loader's message, prefixed by `name`, if it refuses the file.
pub fn load_with_password_files(config: &str, password_files: &BTreeSet<String>, name: &str) -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut local = config.to_owned();
    for (i, path) in password_files.iter().enumerate() {
        let file = dir.path().join(format!("password-{i}"));
        std::fs::write(&file, "secret\n").expect("write a password file");
        local = local.replace(path.as_str(), file.to_str().unwrap());
    }
    let toml = dir.path().join("exporter.toml");
    std::fs::write(&toml, local).expect("write exporter.toml");
    let cli = <Cli as clap::Parser>::try_parse_from(["valkey-slot-exporter", "--config", toml.to_str().unwrap()])
        .expect("flags parse");
    config::load(cli).unwrap_or_else(|e| panic!("{name}: {e}"))
}
