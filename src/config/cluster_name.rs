//! Cluster names, and the one rule for picking a cluster by name.
//!
//! A name travels in URLs (`?cluster=NAME`), in the `valkey_cluster` discovery label
//! and in log lines, so it is checked once, when the configuration is read, and is a
//! [`ClusterName`] from then on. The one-shot commands and the HTTP layer choose a
//! cluster with the same [`pick`], each phrasing its own answer.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// The grammar of a cluster name, as quoted in error messages.
pub const CLUSTER_NAME_GRAMMAR: &str = "[a-z0-9][a-z0-9_-]{0,62}";

/// The longest name: a DNS label's length, so a name fits wherever a label does.
const MAX_LEN: usize = 63;

/// A valid cluster name: [`CLUSTER_NAME_GRAMMAR`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterName(String);

impl ClusterName {
    /// Checks `name` against [`CLUSTER_NAME_GRAMMAR`].
    pub(crate) fn parse(name: &str) -> Result<Self, InvalidClusterName> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && name.len() <= MAX_LEN {
            Ok(ClusterName(name.to_string()))
        } else {
            Err(InvalidClusterName { shown: name.chars().take(MAX_LEN + 1).collect() })
        }
    }

    /// The name the flat (table-less) configuration's one cluster goes by.
    pub(crate) fn flat() -> Self {
        ClusterName("default".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Read-only access to the text: a name is a `str` that is known to be valid.
impl Deref for ClusterName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ClusterName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ClusterName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ClusterName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClusterName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name outside [`CLUSTER_NAME_GRAMMAR`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster name `{shown}` must be 1-63 of a-z, 0-9, '_' and '-', starting with a letter or digit")]
pub struct InvalidClusterName {
    /// The name as given, cut to one character past the limit so a pasted blob does
    /// not flood the message.
    shown: String,
}

/// Why no cluster was picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unpicked {
    /// Several clusters are configured and none was named.
    Required,
    /// No cluster of that name.
    Unknown,
}

/// The cluster `requested` names, which must exist; with none named, the only one,
/// if exactly one is configured.
pub(crate) fn pick<'a, T>(
    items: &'a [T],
    requested: Option<&str>,
    name: impl Fn(&T) -> &ClusterName,
) -> Result<&'a T, Unpicked> {
    match (requested, items) {
        (Some(wanted), _) => items.iter().find(|item| name(item) == wanted).ok_or(Unpicked::Unknown),
        (None, [only]) => Ok(only),
        (None, _) => Err(Unpicked::Required),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar() {
        for good in ["prod-eu_1", "0", "a", &"x".repeat(63)] {
            assert_eq!(ClusterName::parse(good).map(|n| n.to_string()), Ok(good.to_string()));
        }
        for bad in ["", "-x", "_x", "Prod", "a b", "a/b", "ä", &"x".repeat(64)] {
            assert!(ClusterName::parse(bad).is_err(), "{bad}");
        }
        let long = ClusterName::parse(&"y".repeat(500)).unwrap_err().to_string();
        assert!(long.contains(&format!("`{}`", "y".repeat(64))), "cut to 64 characters: {long}");
    }

    #[test]
    fn a_named_cluster_must_exist_and_an_unnamed_one_must_be_the_only_one() {
        let names = ["a", "b"].map(|n| ClusterName::parse(n).unwrap());
        fn id(name: &ClusterName) -> &ClusterName {
            name
        }
        assert_eq!(pick(&names, Some("b"), id), Ok(&names[1]));
        assert_eq!(pick(&names, Some("c"), id), Err(Unpicked::Unknown));
        assert_eq!(pick(&names, None, id), Err(Unpicked::Required));
        assert_eq!(pick(&names[..1], None, id), Ok(&names[0]));
        assert_eq!(pick(&names[..1], Some("b"), id), Err(Unpicked::Unknown));
        assert_eq!(pick::<ClusterName>(&[], None, id), Err(Unpicked::Required));
    }
}
