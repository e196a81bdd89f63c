//! Why a node did not answer, in two forms: a coarse [`FailureKind`] to alert on, and
//! a detail sentence a person reads in logs and in the JSON API.
//!
//! fred hands over OS and TLS errors as their Rust `Debug` text (`Os { code: 111, kind:
//! ConnectionRefused, .. }`, `Custom { kind: InvalidData, error:
//! InvalidCertificate(UnknownIssuer) }`); that text is turned back into words here.
//! Server errors (`WRONGPASS ...`) are already sentences and are kept. fred's details
//! carry the server's error text or the OS error, never the configured credentials.

use crate::snapshot::{FailureKind, NodeFailure};
use fred::error::{Error as FredError, ErrorKind};

/// Longest detail kept: enough for any server error line, short enough for a label
/// of a log line.
const MAX_DETAIL_CHARS: usize = 200;

/// Maps a fred error to a failure kind and a readable detail.
pub(crate) fn classify(err: &FredError) -> NodeFailure {
    let raw = err.details();
    NodeFailure { kind: kind_of(err.kind(), raw), detail: describe(raw) }
}

/// A server's error reply (sent as a frame rather than a fred error): same rules.
pub(crate) fn server_error(text: &str) -> NodeFailure {
    NodeFailure { kind: kind_of(&ErrorKind::Unknown, text), detail: describe(text) }
}

/// A node the topology names outside `allowed_nodes`. `slots_claimed` is said in the
/// detail because those slots are attributed to no node: an operator should know a
/// node they do not trust claims part of the cluster.
pub(crate) fn not_allowed(slots_claimed: u32) -> NodeFailure {
    let mut detail = "address not in allowed_nodes: never contacted".to_string();
    if slots_claimed > 0 {
        detail.push_str(&format!("; claims {slots_claimed} slots, attributed to no node"));
    }
    NodeFailure { kind: FailureKind::NotAllowed, detail }
}

/// A reply without the shape its parser expects (`CLUSTER SLOTS`, `SLOT-STATS`): the
/// parser's message, which may quote what the server sent, bounded like every detail.
pub(crate) fn protocol(error: impl std::error::Error) -> NodeFailure {
    NodeFailure { kind: FailureKind::Protocol, detail: bounded(&error.to_string()) }
}

/// rustls errors as fred's I/O errors print them, lowercased: an untrusted or
/// mismatched server certificate, a client certificate the server refused, or a peer
/// that does not speak TLS.
const TLS_MARKERS: [&str; 7] = [
    "invalidcertificate",
    "alertreceived",
    "nocertificatespresented",
    "peerincompatible",
    "peermisbehaved",
    "invalidmessage",
    "handshakenotcomplete",
];

fn kind_of(kind: &ErrorKind, raw: &str) -> FailureKind {
    let lower = raw.to_ascii_lowercase();
    match kind {
        _ if lower.contains("unknown subcommand") || lower.contains("unknown command") => FailureKind::Unsupported,
        _ if lower.contains("cluster support disabled") => FailureKind::ClusterDisabled,
        _ if lower.contains("wrongpass") || lower.contains("noauth") || lower.contains("noperm") => {
            FailureKind::AuthFailed
        }
        ErrorKind::Auth => FailureKind::AuthFailed,
        ErrorKind::Timeout => FailureKind::Timeout,
        ErrorKind::Tls => FailureKind::Tls,
        // fred reports a failed handshake as an I/O error wrapping the rustls error.
        _ if TLS_MARKERS.iter().any(|t| lower.contains(t)) => FailureKind::Tls,
        ErrorKind::Protocol | ErrorKind::Parse => FailureKind::Protocol,
        _ if lower.contains("connectionrefused") || lower.contains("connection refused") => {
            FailureKind::ConnectionRefused
        }
        _ if lower.contains("timed out") || lower.contains("timeout") => FailureKind::Timeout,
        _ => FailureKind::Other,
    }
}

/// A sentence for `raw`: TLS and OS errors in words, anything else (server replies,
/// fred's own messages) as its first line.
pub(crate) fn describe(raw: &str) -> String {
    let sentence = tls_sentence(raw).or_else(|| io_sentence(raw)).unwrap_or_else(|| first_line(raw));
    bounded(&sentence)
}

/// The first line of `text`, at most [`MAX_DETAIL_CHARS`] long: what every detail is
/// cut to, whatever made it.
fn bounded(text: &str) -> String {
    first_line(text).chars().take(MAX_DETAIL_CHARS).collect()
}

fn tls_sentence(raw: &str) -> Option<String> {
    if let Some(reason) = after(raw, "InvalidCertificate(") {
        return Some(match reason {
            r if r.starts_with("UnknownIssuer") => "server certificate not trusted: unknown issuer".into(),
            r if r.starts_with("NotValidForName") => "server certificate not valid for this host name".into(),
            r if r.starts_with("Expired") => "server certificate expired".into(),
            r if r.starts_with("NotValidYet") => "server certificate not valid yet".into(),
            r if r.starts_with("BadSignature") => "server certificate has a bad signature".into(),
            r if r.starts_with("Revoked") => "server certificate revoked".into(),
            r => format!("server certificate rejected: {}", words(leading_name(r))),
        });
    }
    if let Some(alert) = after(raw, "AlertReceived(") {
        return Some(match leading_name(alert) {
            "CertificateRequired" => "server requires a client certificate".into(),
            "BadCertificate" | "UnknownCA" | "UnsupportedCertificate" | "CertificateUnknown" => {
                "server refused the client certificate".into()
            }
            other => format!("server refused the TLS handshake: {}", words(other)),
        });
    }
    let fixed = [
        ("InvalidMessage", "server does not speak TLS (invalid TLS message)"),
        ("PeerIncompatible", "no TLS version or cipher suite in common with the server"),
        ("PeerMisbehaved", "server broke the TLS protocol"),
        ("NoCertificatesPresented", "server sent no certificate"),
        ("HandshakeNotComplete", "TLS handshake did not complete"),
    ];
    fixed.iter().find(|(marker, _)| raw.contains(marker)).map(|(_, sentence)| (*sentence).to_string())
}

fn io_sentence(raw: &str) -> Option<String> {
    if raw.contains("failed to lookup address") {
        return Some("host name not found (DNS lookup failed)".into());
    }
    let io_kind = after(raw, "kind: ").map(leading_name)?;
    let known = [
        ("ConnectionRefused", "connection refused"),
        ("ConnectionReset", "connection reset by the server"),
        ("ConnectionAborted", "connection aborted"),
        ("BrokenPipe", "connection closed by the server"),
        ("UnexpectedEof", "connection closed by the server"),
        ("NotConnected", "not connected"),
        ("TimedOut", "timed out"),
        ("HostUnreachable", "host unreachable"),
        ("NetworkUnreachable", "network unreachable"),
        ("AddrNotAvailable", "address not available"),
        ("PermissionDenied", "permission denied"),
    ];
    if let Some((_, sentence)) = known.iter().find(|(name, _)| *name == io_kind) {
        return Some((*sentence).to_string());
    }
    // `Os { .., message: "No route to host" }` and `Custom { .., error: "..." }`.
    quoted_after(raw, "message: \"").or_else(|| quoted_after(raw, "error: \"")).map(|m| lowercase_first(&m))
}

/// The text after the first `marker`, e.g. the reason in `InvalidCertificate(UnknownIssuer)`.
fn after<'a>(raw: &'a str, marker: &str) -> Option<&'a str> {
    raw.find(marker).map(|at| &raw[at + marker.len()..])
}

fn quoted_after(raw: &str, marker: &str) -> Option<String> {
    let rest = after(raw, marker)?;
    rest.find('"').map(|end| rest[..end].to_string())
}

/// The identifier at the start of `text` (`UnknownIssuer` of `UnknownIssuer) }`).
fn leading_name(text: &str) -> &str {
    let end = text.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(text.len());
    &text[..end]
}

/// `UnknownIssuer` → `unknown issuer`.
fn words(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn first_line(raw: &str) -> String {
    raw.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(text: &str) -> NodeFailure {
        classify(&FredError::new(ErrorKind::IO, text.to_string()))
    }

    #[test]
    fn os_errors_read_as_words() {
        let refused = io(r#"Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }"#);
        assert_eq!((refused.kind, refused.detail.as_str()), (FailureKind::ConnectionRefused, "connection refused"));
        let reset = io(r#"Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" }"#);
        assert_eq!(reset.detail, "connection reset by the server");
        let route = io(r#"Os { code: 113, kind: Uncategorized, message: "No route to host" }"#);
        assert_eq!(route.detail, "no route to host");
        let dns = io(
            r#"Custom { kind: Uncategorized, error: "failed to lookup address information: Name or service not known" }"#,
        );
        assert_eq!(dns.detail, "host name not found (DNS lookup failed)");
    }

    #[test]
    fn tls_errors_read_as_words_and_are_tls() {
        let cases = [
            (
                "Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }",
                "server certificate not trusted: unknown issuer",
            ),
            (
                "Custom { kind: InvalidData, error: InvalidCertificate(NotValidForNameContext { expected: x, presented: [] }) }",
                "server certificate not valid for this host name",
            ),
            (
                "Custom { kind: InvalidData, error: AlertReceived(CertificateRequired) }",
                "server requires a client certificate",
            ),
            ("Custom { kind: InvalidData, error: AlertReceived(UnknownCA) }", "server refused the client certificate"),
            (
                "Custom { kind: InvalidData, error: AlertReceived(HandshakeFailure) }",
                "server refused the TLS handshake: handshake failure",
            ),
            (
                "Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) }",
                "server does not speak TLS (invalid TLS message)",
            ),
        ];
        for (raw, sentence) in cases {
            let failure = io(raw);
            assert_eq!(failure.kind, FailureKind::Tls, "{raw}");
            assert_eq!(failure.detail, sentence, "{raw}");
        }
    }

    #[test]
    fn server_errors_keep_their_text_and_get_their_kind() {
        let wrongpass = server_error("WRONGPASS invalid username-password pair or user is disabled.");
        assert_eq!(wrongpass.kind, FailureKind::AuthFailed);
        assert_eq!(wrongpass.detail, "WRONGPASS invalid username-password pair or user is disabled.");
        assert_eq!(server_error("ERR unknown subcommand 'SLOT-STATS'.").kind, FailureKind::Unsupported);
        let disabled = server_error("ERR This instance has cluster support disabled");
        assert_eq!(disabled.kind, FailureKind::ClusterDisabled);
    }

    #[test]
    fn details_are_one_bounded_line() {
        let long = format!("ERR {}\nsecond line", "x".repeat(500));
        let failure = server_error(&long);
        assert!(failure.detail.chars().count() <= MAX_DETAIL_CHARS && !failure.detail.contains('\n'));
    }

    /// A parser error quoting a long, multi-line server value.
    #[derive(Debug)]
    struct LongParseError;

    impl std::fmt::Display for LongParseError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "unexpected host {}\nsecond line", "é".repeat(500))
        }
    }

    impl std::error::Error for LongParseError {}

    #[test]
    fn protocol_errors_are_one_bounded_line_too() {
        let failure = protocol(LongParseError);
        assert_eq!(failure.kind, FailureKind::Protocol);
        assert_eq!(failure.detail.chars().count(), MAX_DETAIL_CHARS);
        assert!(failure.detail.starts_with("unexpected host éé") && !failure.detail.contains('\n'));
    }
}
