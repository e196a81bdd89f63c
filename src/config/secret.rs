//! A string that must never be printed: the Valkey password.
//!
//! Debug and Display both redact, so a `{:?}` of any struct holding a `Secret` — a
//! config dump, a tracing field, a panic message — cannot leak it. The only way to
//! the value is [`Secret::expose`], which is called in exactly one place: where the
//! Valkey client is configured.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What a redacted secret prints as.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain value, for handing to the Valkey client and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The contents of a password file, without the trailing line break editors add.
    pub(crate) fn from_file(path: &Path) -> Result<Self, PasswordFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PasswordFileError { path: path.to_path_buf(), kind: e.kind() })?;
        Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
    }
}

/// A password file that could not be read. Holds the error's kind only: an I/O
/// error's text is the operating system's, and never part of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read password file {path}: {kind}")]
pub(crate) struct PasswordFileError {
    /// The file, as configured.
    path: PathBuf,
    /// Why it could not be read (not found, permission denied, not UTF-8...).
    kind: io::ErrorKind,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Figment carries layers as serialized values, so a secret has to serialize; it
/// serializes as itself because the value only travels from the command line into
/// the merged configuration, never out of the process.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Accepts strings (and digits-only values, which figment reads from the environment
/// as integers), and never repeats a refused value in its error: serde's stock
/// "invalid type: floating point `12.5`" would print the password.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl Visitor<'_> for SecretVisitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }
            // Environment variables holding only digits arrive as integers.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("must be a string (value not shown)"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("must be a string (value not shown)"))
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn digits_are_a_password_and_other_types_are_refused_without_echo() {
        assert_eq!(serde_json::from_str::<Secret>("98765").unwrap().expose(), "98765");
        let err = serde_json::from_str::<Secret>("987.65").unwrap_err().to_string();
        assert!(!err.contains("987"), "{err}");
    }
}
