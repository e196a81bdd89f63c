//! Query strings: strict on purpose. A script with a typo (`start=`, `start_slot=0x10`,
//! `by=cpu&by=keys`) gets a 400 naming the parameter instead of silently receiving
//! something else. Every endpoint lists the parameters it accepts; anything else,
//! or a parameter given twice, is refused.

use crate::question::Measure;
use crate::snapshot::MAX_SLOT;
use std::ops::RangeInclusive;

/// A rejected query: the error code and a message naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// The parameters of one request, checked against the names its endpoint accepts.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Query<'a> {
    /// Splits `query` (without `?`); unknown and repeated names are errors.
    pub(crate) fn parse(query: Option<&'a str>, accepted: &[&str]) -> Result<Self, QueryError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !accepted.contains(&name) {
                return Err(QueryError {
                    code: "unknown_parameter",
                    message: format!("unknown query parameter \"{}\"; accepted: {}", shorten(name), list(accepted)),
                });
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(QueryError {
                    code: "duplicate_parameter",
                    message: format!("{name} is given more than once"),
                });
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The raw value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// One of `choices` (by name), or `default` when absent.
    pub(crate) fn choice<T: Copy>(&self, name: &str, choices: &[(&str, T)], default: T) -> Result<T, QueryError> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        choices.iter().find(|(n, _)| *n == raw).map(|(_, v)| *v).ok_or_else(|| QueryError {
            code: "invalid_parameter",
            message: format!(
                "{name} must be one of {}; got \"{}\"",
                list(&choices.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
                shorten(raw)
            ),
        })
    }

    /// One of the measures `among` (by name), or `default` when absent.
    pub(crate) fn measure(&self, name: &str, among: &[Measure], default: Measure) -> Result<Measure, QueryError> {
        let choices: Vec<(&str, Measure)> = among.iter().map(|m| (m.name(), *m)).collect();
        self.choice(name, &choices, default)
    }

    /// A decimal integer in `range`, or `default` when absent.
    pub(crate) fn integer(&self, name: &str, range: RangeInclusive<u32>, default: u32) -> Result<u32, QueryError> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        parse_integer(name, raw, range)
    }

    /// A decimal number (digits, one optional point) in `range`, or `default` when absent.
    pub(crate) fn number(&self, name: &str, range: RangeInclusive<f64>, default: f64) -> Result<f64, QueryError> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let invalid = |why: &str| QueryError {
            code: "invalid_parameter",
            message: format!(
                "{name} must be a number from {} to {}; got \"{}\" ({why})",
                range.start(),
                range.end(),
                shorten(raw)
            ),
        };
        let plain = !raw.is_empty()
            && raw.len() <= 16
            && raw.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && raw.bytes().filter(|b| *b == b'.').count() <= 1
            && raw.bytes().any(|b| b.is_ascii_digit());
        if !plain {
            return Err(invalid("not a decimal number"));
        }
        let value: f64 = raw.parse().map_err(|_| invalid("not a decimal number"))?;
        if range.contains(&value) { Ok(value) } else { Err(invalid("out of range")) }
    }
}

/// Parses the slot-stats query string (without `?`) into an inclusive slot range.
/// Missing `start_slot` means 0, missing `end_slot` means 16383.
#[cfg(test)]
fn parse_slot_range(query: Option<&str>) -> Result<RangeInclusive<u16>, QueryError> {
    slot_range(&Query::parse(query, &PARAMS)?)
}

#[cfg(test)]
const PARAMS: [&str; 2] = ["start_slot", "end_slot"];

/// `start_slot` and `end_slot` of an already parsed query.
pub(crate) fn slot_range(query: &Query<'_>) -> Result<RangeInclusive<u16>, QueryError> {
    let slot = |name| query.get(name).map(|raw| parse_integer(name, raw, 0..=u32::from(MAX_SLOT))).transpose();
    let start = slot("start_slot")?.unwrap_or(0) as u16;
    let end = slot("end_slot")?.map_or(MAX_SLOT, |e| e as u16);
    if start > end {
        return Err(QueryError {
            code: "invalid_range",
            message: format!("start_slot ({start}) is greater than end_slot ({end})"),
        });
    }
    Ok(start..=end)
}

/// Decimal digits only, within `range`: no sign, no hex, no fraction, no blanks.
fn parse_integer(name: &str, raw: &str, range: RangeInclusive<u32>) -> Result<u32, QueryError> {
    let invalid = |why: &str| QueryError {
        code: "invalid_parameter",
        message: format!(
            "{name} must be an integer from {} to {}; got \"{}\" ({why})",
            range.start(),
            range.end(),
            shorten(raw)
        ),
    };
    if raw.is_empty() {
        return Err(invalid("empty"));
    }
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a decimal integer"));
    }
    let digits = raw.trim_start_matches('0');
    if digits.len() > 9 {
        return Err(invalid("out of range"));
    }
    match digits.parse::<u32>().unwrap_or(0) {
        n if range.contains(&n) => Ok(n),
        _ => Err(invalid("out of range")),
    }
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// Echoes at most 32 characters of user input back.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(32).collect();
    if s.chars().count() > 32 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(q: &str) -> &'static str {
        parse_slot_range(Some(q)).unwrap_err().code
    }

    #[test]
    fn defaults_and_one_sided_ranges() {
        assert_eq!(parse_slot_range(None).unwrap(), 0..=16383);
        assert_eq!(parse_slot_range(Some("")).unwrap(), 0..=16383);
        assert_eq!(parse_slot_range(Some("start_slot=100")).unwrap(), 100..=16383);
        assert_eq!(parse_slot_range(Some("end_slot=100")).unwrap(), 0..=100);
        assert_eq!(parse_slot_range(Some("start_slot=7&end_slot=7")).unwrap(), 7..=7);
        assert_eq!(parse_slot_range(Some("end_slot=16383&start_slot=0&")).unwrap(), 0..=16383);
        assert_eq!(parse_slot_range(Some("start_slot=00042")).unwrap(), 42..=16383);
    }

    #[test]
    fn every_kind_of_bad_value_is_refused_naming_the_parameter() {
        for bad in ["-1", "16384", "1.5", "0x10", "", "+1", " 1", "1e3", "abc", &"9".repeat(100)] {
            let err = parse_slot_range(Some(&format!("start_slot={bad}"))).unwrap_err();
            assert_eq!(err.code, "invalid_parameter", "{bad}");
            assert!(err.message.starts_with("start_slot"), "{}", err.message);
            let err = parse_slot_range(Some(&format!("end_slot={bad}"))).unwrap_err();
            assert!(err.message.starts_with("end_slot"), "{}", err.message);
        }
        assert_eq!(code("start_slot"), "invalid_parameter");
        assert_eq!(code("start_slot=1&start_slot=2"), "duplicate_parameter");
        assert_eq!(code("start_slot=10&end_slot=9"), "invalid_range");
        assert_eq!(code("start=1"), "unknown_parameter");
    }

    proptest::proptest! {
        /// Whatever a client sends, the parser answers (a range or a 400), never panics,
        /// and any range it accepts is valid.
        #[test]
        fn arbitrary_query_strings_never_panic(query in ".{0,200}") {
            if let Ok(range) = parse_slot_range(Some(&query)) {
                proptest::prop_assert!(range.start() <= range.end() && *range.end() <= MAX_SLOT);
            }
        }

        #[test]
        fn well_formed_ranges_round_trip(a in 0u16..=MAX_SLOT, b in 0u16..=MAX_SLOT) {
            let (start, end) = (a.min(b), a.max(b));
            let parsed = parse_slot_range(Some(&format!("start_slot={start}&end_slot={end}"))).unwrap();
            proptest::prop_assert_eq!(parsed, start..=end);
        }

        #[test]
        fn near_miss_parameters_are_refused(name in "[a-z_]{1,12}", value in "[0-9a-fx.+-]{0,8}") {
            let result = parse_slot_range(Some(&format!("{name}={value}")));
            if !PARAMS.contains(&name.as_str()) {
                proptest::prop_assert_eq!(result.unwrap_err().code, "unknown_parameter");
            }
        }
    }

    #[test]
    fn typed_parameters() {
        let q = Query::parse(Some("by=cpu&limit=5&target=1.25"), &["by", "limit", "target", "max_moves"]).unwrap();
        assert_eq!(q.choice("by", &[("cpu", 1), ("keys", 2)], 0).unwrap(), 1);
        assert_eq!(q.integer("limit", 1..=16384, 20).unwrap(), 5);
        assert_eq!(q.integer("max_moves", 1..=1024, 32).unwrap(), 32, "absent: the default");
        assert_eq!(q.number("target", 1.0..=10.0, 1.1).unwrap(), 1.25);
        let bad = Query::parse(Some("by=ram&limit=0&target=1e3"), &["by", "limit", "target"]).unwrap();
        assert!(bad.choice("by", &[("cpu", 1)], 0).unwrap_err().message.starts_with("by must be one of cpu"));
        assert_eq!(bad.integer("limit", 1..=16384, 20).unwrap_err().code, "invalid_parameter");
        assert!(bad.number("target", 1.0..=10.0, 1.1).is_err());
        for raw in ["", ".", "-1", "0.5", "inf", "NaN", "1.2.3", "11"] {
            let text = format!("target={raw}");
            let q = Query::parse(Some(&text), &["target"]).unwrap();
            assert!(q.number("target", 1.0..=10.0, 1.1).is_err(), "{raw}");
        }
        assert_eq!(Query::parse(Some("limit=1&limit=2"), &["limit"]).unwrap_err().code, "duplicate_parameter");
    }

    #[test]
    fn long_input_is_not_echoed_whole() {
        let err = parse_slot_range(Some(&format!("start_slot={}", "9".repeat(100)))).unwrap_err();
        assert!(err.message.len() < 150, "{}", err.message);
    }
}
