//! The measures slots are ranked, balanced and drawn by: their names (API, CLI, page),
//! their titles (tables), and which questions accept which of them.

use clap::builder::{PossibleValuesParser, TypedValueParser};

/// What a slot is measured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Measure {
    /// CPU µs per second.
    Cpu,
    /// Bytes in plus bytes out per second.
    Network,
    NetworkIn,
    NetworkOut,
    /// Keys now (a gauge: available from the first snapshot).
    Keys,
}

/// Every measure, in the order error messages list them.
pub(crate) const RANKABLE: [Measure; 5] =
    [Measure::Cpu, Measure::Network, Measure::NetworkIn, Measure::NetworkOut, Measure::Keys];

/// What a rebalance plan can even out: moving a slot moves its keys, its CPU and both
/// directions of its network together, so in and out alone are not offered.
pub(crate) const BALANCEABLE: [Measure; 3] = [Measure::Cpu, Measure::Network, Measure::Keys];

/// What the page's slot map draws (keys first: it is there from the first snapshot).
pub(crate) const MAPPED: [Measure; 3] = [Measure::Keys, Measure::Cpu, Measure::Network];

impl Measure {
    /// The name in query strings, flags and JSON (`by`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Measure::Cpu => "cpu",
            Measure::Network => "network",
            Measure::NetworkIn => "network_in",
            Measure::NetworkOut => "network_out",
            Measure::Keys => "keys",
        }
    }

    /// The heading in the one-shot commands' tables.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Measure::Cpu => "CPU",
            Measure::Network => "network (in + out)",
            Measure::NetworkIn => "network in",
            Measure::NetworkOut => "network out",
            Measure::Keys => "keys",
        }
    }

    /// Whether the measure is a rate (needs an earlier snapshot) rather than a gauge.
    pub(crate) fn is_rate(self) -> bool {
        self != Measure::Keys
    }

    /// The measure of `among` called `name`.
    pub(crate) fn named(name: &str, among: &[Measure]) -> Option<Measure> {
        among.iter().copied().find(|m| m.name() == name)
    }

    /// A clap parser accepting the names of `among` (clap lists them on a mistake).
    pub(crate) fn parser(among: &'static [Measure]) -> impl TypedValueParser<Value = Measure> {
        PossibleValuesParser::new(among.iter().map(|m| m.name()))
            .map(move |name| Measure::named(&name, among).expect("clap accepted only these names"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_subsets_are_rankable() {
        for measure in RANKABLE {
            assert_eq!(Measure::named(measure.name(), &RANKABLE), Some(measure));
        }
        assert!(BALANCEABLE.iter().chain(&MAPPED).all(|m| RANKABLE.contains(m)));
        assert_eq!(Measure::named("network_in", &BALANCEABLE), None);
        assert!(!Measure::Keys.is_rate() && Measure::Cpu.is_rate());
    }
}
