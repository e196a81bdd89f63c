//! The slot-stats query string: `start_slot` and `end_slot`, both optional.
//!
//! Strict on purpose: a script with a typo (`start=`, `start_slot=0x10`) gets a 400
//! naming the parameter instead of silently receiving all 16384 slots.

use crate::snapshot::MAX_SLOT;
use std::ops::RangeInclusive;

/// A rejected query: the error code and a message naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

const PARAMS: [&str; 2] = ["start_slot", "end_slot"];

/// Parses the query string (without `?`) into an inclusive slot range. Missing
/// `start_slot` means 0, missing `end_slot` means 16383. Unknown or repeated
/// parameters are refused.
pub fn parse_slot_range(query: Option<&str>) -> Result<RangeInclusive<u16>, QueryError> {
    let mut values: [Option<u16>; 2] = [None, None];
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(index) = PARAMS.iter().position(|p| *p == name) else {
            return Err(QueryError {
                code: "unknown_parameter",
                message: format!("unknown query parameter \"{}\"; accepted: start_slot, end_slot", shorten(name)),
            });
        };
        if values[index].is_some() {
            return Err(QueryError {
                code: "duplicate_parameter",
                message: format!("{} is given more than once", PARAMS[index]),
            });
        }
        values[index] = Some(parse_slot(PARAMS[index], value)?);
    }
    let start = values[0].unwrap_or(0);
    let end = values[1].unwrap_or(MAX_SLOT);
    if start > end {
        return Err(QueryError {
            code: "invalid_range",
            message: format!("start_slot ({start}) is greater than end_slot ({end})"),
        });
    }
    Ok(start..=end)
}

/// Decimal digits only, 0 to 16383: no sign, no hex, no fraction, no blanks.
fn parse_slot(name: &str, raw: &str) -> Result<u16, QueryError> {
    let invalid = |why: &str| QueryError {
        code: "invalid_parameter",
        message: format!("{name} must be an integer from 0 to {MAX_SLOT}; got \"{}\" ({why})", shorten(raw)),
    };
    if raw.is_empty() {
        return Err(invalid("empty"));
    }
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a decimal integer"));
    }
    let digits = raw.trim_start_matches('0');
    if digits.len() > 5 {
        return Err(invalid("out of range"));
    }
    match digits.parse::<u32>().unwrap_or(0) {
        n if n <= u32::from(MAX_SLOT) => Ok(n as u16),
        _ => Err(invalid("out of range")),
    }
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
    fn long_input_is_not_echoed_whole() {
        let err = parse_slot_range(Some(&format!("start_slot={}", "9".repeat(100)))).unwrap_err();
        assert!(err.message.len() < 150, "{}", err.message);
    }
}
