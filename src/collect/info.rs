//! Which server and version a node runs, from `INFO server`.
//!
//! It decides which commands a rebalance plan can use (atomic `CLUSTER MIGRATESLOTS`
//! from Valkey 9.0 on) and labels `valkey_node_info`. Valkey reports a Redis-compatible
//! `redis_version` (7.2.4) besides its own `valkey_version`; the latter wins.

use crate::snapshot::ServerVersion;
use fred::types::Resp3Frame;

/// The version in an `INFO server` reply frame, if it has one.
pub(crate) fn parse_info_frame(frame: &Resp3Frame) -> Option<ServerVersion> {
    let text = match frame {
        Resp3Frame::BlobString { data, .. } | Resp3Frame::SimpleString { data, .. } => data.as_ref(),
        Resp3Frame::VerbatimString { data, .. } => data.as_ref(),
        _ => return None,
    };
    parse_info(&String::from_utf8_lossy(text))
}

/// The version in `INFO server` text.
pub(crate) fn parse_info(text: &str) -> Option<ServerVersion> {
    let value = |name: &str| {
        text.lines().find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':').map(str::to_string))
    };
    let version = |v: String| v.chars().take(32).collect::<String>();
    match (value("valkey_version"), value("redis_version")) {
        (Some(v), _) => Some(ServerVersion { server: "valkey".into(), version: version(v) }),
        (None, Some(v)) => {
            let server = value("server_name").unwrap_or_else(|| "redis".into());
            Some(ServerVersion { server: server.chars().take(16).collect(), version: version(v) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valkey_reports_its_own_version_not_the_compatible_one() {
        let info = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n";
        let v = parse_info(info).unwrap();
        assert_eq!((v.server.as_str(), v.version.as_str()), ("valkey", "9.1.2"));
        assert!(v.has_atomic_slot_migration());
        let old = parse_info("redis_version:7.2.4\r\nvalkey_version:8.0.1\r\n").unwrap();
        assert!(!old.has_atomic_slot_migration());
    }

    #[test]
    fn redis_and_garbage() {
        let v = parse_info("# Server\nredis_version:8.2.1\nredis_mode:cluster\n").unwrap();
        assert_eq!((v.server.as_str(), v.version.as_str()), ("redis", "8.2.1"));
        assert!(!v.has_atomic_slot_migration());
        assert_eq!(parse_info("nothing here"), None);
        assert_eq!(ServerVersion { server: "valkey".into(), version: "x.y".into() }.major_minor(), None);
    }
}
