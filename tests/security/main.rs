//! Security end to end, against real servers: ACL authentication to Valkey (and that the
//! password is never shown), TLS to Valkey (server verification, client certificates,
//! no plain-text fallback), and the exporter's own endpoint (exporter-toolkit web
//! config: HTTPS, basic auth, client certificates). Start-up errors go through the
//! real binary, which must exit 2 naming the offending key.
//!
//! One test target, one module per concern:
//! * [`valkey_auth`]: ACL users on Valkey, and the password kept out of logs, metrics,
//!   JSON, `--help` and `Debug`;
//! * [`valkey_tls`]: TLS to Valkey, and TLS mistakes that stop the binary at start;
//! * [`web_endpoint`]: the exporter's own endpoint: basic auth, HTTPS, client
//!   certificates, and web config files that stop the binary at start.

#[path = "../exporter_support/mod.rs"]
mod exporter_support;
#[path = "../support/mod.rs"]
mod support;

mod valkey_auth;
mod valkey_tls;
mod web_endpoint;

use std::path::Path;
use support::ExporterBinary;

/// A temporary path as a flag value.
fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs the binary, expects exit status 2, and returns its stderr.
fn start_error(args: &[&str]) -> String {
    let output = ExporterBinary::run(args, &[]);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {}", output.stderr);
    output.stderr
}

/// The exporter's stderr without terminal colour codes (the binary writes them even
/// to a file; see the report on `NO_COLOR`).
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
