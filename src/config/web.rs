//! The exporter's own endpoint: TLS and HTTP basic auth, configured with the Prometheus
//! exporter-toolkit web-config YAML, so the file users already have for node_exporter
//! or redis_exporter works here too:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/exporter/tls.crt
//!   key_file: /etc/exporter/tls.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: /etc/exporter/ca.crt           # optional
//! basic_auth_users:
//!   prometheus: $2y$10$...                        # bcrypt hash
//! ```
//!
//! Settings of that schema this exporter does not implement (cipher suites, curve
//! preferences, HTTP headers...) are refused by name rather than silently ignored.

use super::tls::{self, ClientAuth};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    tls_server_config: Option<TlsServerConfigFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfigFile {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
}

/// What the HTTP layer enforces.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// Serve HTTPS only, with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Required credentials, if any.
    pub basic_auth: Option<Arc<BasicAuth>>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth_users", &self.basic_auth.as_ref().map(|a| a.users.len()))
            .finish()
    }
}

/// Users and their bcrypt hashes, with a cache of verified credentials: bcrypt is
/// deliberately slow (tens of milliseconds), too slow to pay on every scrape.
pub struct BasicAuth {
    users: HashMap<String, String>,
    /// Authorization header values already verified. Only headers that matched a hash
    /// are stored; a changed password in the file means a restart anyway.
    verified: Mutex<std::collections::HashSet<String>>,
}

impl BasicAuth {
    /// Checks an `Authorization` header value (`Basic base64(user:password)`).
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(header) = authorization else { return false };
        if self.verified.lock().expect("auth cache lock").contains(header) {
            return true;
        }
        let Some((user, password)) = decode_basic(header) else { return false };
        let ok = self.users.get(&user).is_some_and(|hash| bcrypt::verify(&password, hash).unwrap_or(false));
        if ok {
            let mut verified = self.verified.lock().expect("auth cache lock");
            // Bound the cache: a flood of distinct valid headers is not plausible, but
            // memory must stay bounded regardless.
            if verified.len() > 1024 {
                verified.clear();
            }
            verified.insert(header.to_string());
        }
        ok
    }
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 with padding, as HTTP basic auth uses.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = input.trim_end_matches('=').as_bytes();
    if !input.len().is_multiple_of(4) || bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + produced]);
    }
    Some(out)
}

/// Loads and checks a web-config file; errors name the file and the offending key.
pub fn load(path: &Path) -> Result<WebConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
    let file: WebConfigFile =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {}", path.display(), redact_yaml_error(&e)))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let tls = file
        .tls_server_config
        .map(|t| server_tls(&t, base))
        .transpose()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let basic_auth = basic_auth(file.basic_auth_users).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(WebConfig { tls, basic_auth })
}

/// The YAML parser quotes offending values; a bcrypt hash is not a secret, but keep the
/// message to the key and position.
fn redact_yaml_error(e: &serde_norway::Error) -> String {
    let message = e.to_string();
    match e.location() {
        Some(l) if message.contains("unknown field") => {
            format!("{} (line {}); supported: tls_server_config, basic_auth_users", message, l.line())
        }
        _ => message,
    }
}

/// Relative paths in the file are relative to the file, as in exporter-toolkit.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

fn server_tls(t: &TlsServerConfigFile, base: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let client_auth = match t.client_auth_type.as_deref() {
        None | Some("NoClientCert") => ClientAuth::NoClientCert,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyClientCertIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerifyClientCert,
        Some(other) => {
            return Err(format!(
                "tls_server_config.client_auth_type `{other}` is not supported \
                 (NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
            ));
        }
    };
    if client_auth == ClientAuth::NoClientCert && t.client_ca_file.is_some() {
        return Err("tls_server_config.client_ca_file is set but client_auth_type is NoClientCert".into());
    }
    if let Some(v) = t.min_version.as_deref()
        && !matches!(v, "TLS12" | "TLS13")
    {
        return Err(format!("tls_server_config.min_version `{v}` is not supported (TLS12, TLS13)"));
    }
    let ca = t.client_ca_file.as_ref().map(|p| resolve(base, p));
    let (cert, key) = (resolve(base, &t.cert_file), resolve(base, &t.key_file));
    // Read each file under its own key first, so an unreadable one is named by its key.
    tls::read_certs(&cert).map_err(|e| format!("tls_server_config.cert_file: {e}"))?;
    tls::read_key(&key).map_err(|e| format!("tls_server_config.key_file: {e}"))?;
    if let Some(ca) = &ca {
        tls::read_certs(ca).map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
    }
    let tls13_only = t.min_version.as_deref() == Some("TLS13");
    tls::server_config(&cert, &key, ca.as_deref(), client_auth, tls13_only)
}

fn basic_auth(users: BTreeMap<String, String>) -> Result<Option<Arc<BasicAuth>>, String> {
    if users.is_empty() {
        return Ok(None);
    }
    for (user, hash) in &users {
        if user.contains(':') {
            return Err(format!("basic_auth_users: user name `{user}` contains ':'"));
        }
        // Reject plain-text passwords early: bcrypt would fail every request.
        if !hash.starts_with("$2") || bcrypt::verify("", hash).is_err() {
            return Err(format!(
                "basic_auth_users.{user}: not a bcrypt hash (generate one with `htpasswd -nBC 10 {user}`)"
            ));
        }
    }
    Ok(Some(Arc::new(BasicAuth { users: users.into_iter().collect(), verified: Mutex::new(Default::default()) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("****").is_none());
    }

    #[test]
    fn basic_auth_checks_and_caches() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = basic_auth(BTreeMap::from([("prom".to_string(), hash)])).unwrap().unwrap();
        assert!(auth.check(Some("Basic cHJvbTpzM2NyZXQ="))); // prom:s3cret
        assert!(auth.check(Some("Basic cHJvbTpzM2NyZXQ=")));
        assert!(!auth.check(Some("Basic cHJvbTp3cm9uZw=="))); // prom:wrong
        assert!(!auth.check(None));
        assert!(!auth.check(Some("Bearer x")));
    }

    #[test]
    fn plain_text_passwords_are_refused() {
        let err = basic_auth(BTreeMap::from([("prom".to_string(), "hunter2".to_string())])).err().unwrap();
        assert!(err.contains("bcrypt") && !err.contains("hunter2"), "{err}");
    }
}
