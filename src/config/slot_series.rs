//! Cardinality profiles: how many per-slot series `/metrics` carries.
//!
//! `all` is every slot (65,536 series for a 3-primary cluster), `top:N` only the slots
//! that matter right now, `none` no per-slot series at all. Node, slot-range and
//! hottest-slot series are there in every profile, and the JSON API always has every
//! slot: the profile is about what Prometheus has to store and scan.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Which per-slot series `/metrics` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SlotSeries {
    /// Every slot of every node queried.
    #[default]
    All,
    /// The union of the N slots with the highest CPU rate, the N with the highest
    /// network rate and the N with the most keys (keys alone before there are rates).
    Top(u16),
    /// No per-slot series.
    None,
}

impl SlotSeries {
    /// What the user wrote: `all`, `top:N` or `none` (also the `profile` label).
    pub(crate) fn name(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SlotSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotSeries::All => f.write_str("all"),
            SlotSeries::Top(n) => write!(f, "top:{n}"),
            SlotSeries::None => f.write_str("none"),
        }
    }
}

impl FromStr for SlotSeries {
    type Err = InvalidSlotSeries;

    fn from_str(s: &str) -> Result<Self, InvalidSlotSeries> {
        let text = s.trim().to_ascii_lowercase();
        let invalid = || InvalidSlotSeries { given: s.to_string() };
        match text.as_str() {
            "all" => Ok(SlotSeries::All),
            "none" => Ok(SlotSeries::None),
            other => {
                let n: u16 = other.strip_prefix("top:").and_then(|n| n.parse().ok()).ok_or_else(invalid)?;
                if (1..=16384).contains(&n) { Ok(SlotSeries::Top(n)) } else { Err(invalid()) }
            }
        }
    }
}

/// A profile that is not `all`, `none` or `top:N` with N from 1 to 16384.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid slot series profile `{given}` (use all, none, or top:N with N from 1 to 16384)")]
pub struct InvalidSlotSeries {
    /// The text as given, quoted back.
    given: String,
}

impl Serialize for SlotSeries {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SlotSeries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)
            .map_err(|_| de::Error::custom("expected `all`, `none` or `top:N`, as a string"))?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_profile_and_refuses_the_rest() {
        assert_eq!("all".parse(), Ok(SlotSeries::All));
        assert_eq!(" NONE ".parse(), Ok(SlotSeries::None));
        assert_eq!("top:100".parse(), Ok(SlotSeries::Top(100)));
        assert_eq!("top:16384".parse(), Ok(SlotSeries::Top(16384)));
        for bad in ["", "top", "top:", "top:0", "top:16385", "top:-1", "top:1.5", "some", "top:99999999"] {
            assert_eq!(bad.parse::<SlotSeries>(), Err(InvalidSlotSeries { given: bad.to_string() }), "{bad}");
        }
        assert_eq!(SlotSeries::Top(7).to_string(), "top:7");
        let message = "top:0".parse::<SlotSeries>().unwrap_err().to_string();
        assert_eq!(message, "invalid slot series profile `top:0` (use all, none, or top:N with N from 1 to 16384)");
    }
}
