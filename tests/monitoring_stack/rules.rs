//! The rules file: promtool's checks and unit tests, the alerts' labels and
//! annotations, and the PrometheusRule generated from it.

use crate::monitoring_support::files::{self, repo_path};
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn promtool_check_rules_accepts_the_rules() {
    let output = files::promtool(&["check", "rules", files::RULES], &repo_path(""), None);
    let text = files::output_text(&output);
    assert!(output.status.success(), "promtool check rules:\n{text}");
    assert!(text.contains(&format!("SUCCESS: {} rules found", rules().len())), "{text}");
}

#[test]
fn promtool_rule_tests_pass_and_show_every_alert_firing_and_not_firing() {
    let output = files::promtool(&["test", "rules", files::RULE_TESTS], &repo_path(""), None);
    assert!(output.status.success(), "promtool test rules:\n{}", files::output_text(&output));

    let tests = files::yaml_as_json(files::RULE_TESTS);
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let mut tested_expressions = BTreeSet::new();
    for test in tests["tests"].as_array().expect("tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let alert = case["alertname"].as_str().expect("alertname").to_owned();
            let fires = case["exp_alerts"].as_array().is_some_and(|alerts| !alerts.is_empty());
            if fires {
                firing.insert(alert)
            } else {
                silent.insert(alert)
            };
        }
        for case in test["promql_expr_test"].as_array().into_iter().flatten() {
            tested_expressions.insert(case["expr"].as_str().expect("expr").to_owned());
        }
    }
    for rule in rules() {
        if rule.is_alert {
            assert!(firing.contains(&rule.name), "no rule test shows {} firing", rule.name);
            assert!(silent.contains(&rule.name), "no rule test shows {} not firing", rule.name);
        } else {
            assert!(tested_expressions.contains(&rule.name), "no rule test checks the values of {}", rule.name);
        }
    }
}

#[test]
fn promtool_check_config_accepts_the_example_scrape_configurations() {
    for config in [files::PROMETHEUS_EXAMPLE, files::PROMETHEUS_SD, files::PROMETHEUS_COMPOSE] {
        // Laid out as documented: the rule file next to the configuration.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(repo_path(config), dir.path().join("prometheus.yml")).expect("copy config");
        std::fs::copy(repo_path(files::RULES), dir.path().join("valkey-slot-exporter.rules.yml")).expect("copy rules");
        let output = files::promtool(&["check", "config", "prometheus.yml"], dir.path(), None);
        let text = files::output_text(&output);
        assert!(output.status.success(), "promtool check config {config}:\n{text}");
        assert!(text.contains(&format!("SUCCESS: {} rules found", rules().len())), "{config} loads the rules: {text}");
    }
}

/// One rule of the rules file.
pub struct Rule {
    /// The recorded series, or the alert's name.
    pub name: String,
    pub is_alert: bool,
    pub expr: String,
    pub definition: Value,
}

pub fn rules() -> Vec<Rule> {
    let file = files::yaml_as_json(files::RULES);
    let mut out = Vec::new();
    for group in file["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let (name, is_alert) = match (rule["record"].as_str(), rule["alert"].as_str()) {
                (Some(record), None) => (record, false),
                (None, Some(alert)) => (alert, true),
                _ => panic!("a rule is either a recording or an alerting rule: {rule}"),
            };
            let expr = rule["expr"].as_str().expect("expr").trim().to_owned();
            out.push(Rule { name: name.to_owned(), is_alert, expr, definition: rule.clone() });
        }
    }
    out
}

#[test]
fn alerts_have_severity_summary_and_description() {
    let alerts: Vec<Rule> = rules().into_iter().filter(|r| r.is_alert).collect();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    let required = [
        "ValkeyNodeUnreachable",
        "ValkeySlotStatsDisabled",
        "ValkeyHotSlot",
        "ValkeyKeyImbalance",
        "ValkeyCpuImbalance",
        "ValkeySlotSnapshotStale",
        "ValkeySlotOpenTooLong",
        "ValkeySlotMigrationFailed",
    ];
    for alert in required {
        assert!(names.contains(alert), "missing alert {alert}");
    }
    for alert in &alerts {
        let severity = alert.definition["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("critical" | "warning" | "info")), "{}: severity {severity:?}", alert.name);
        for annotation in ["summary", "description"] {
            let text = alert.definition["annotations"][annotation].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{}: {annotation} missing or too short", alert.name);
        }
        assert!(
            alert.definition["for"].as_str().is_some(),
            "{}: a `for` duration rides out one bad scrape",
            alert.name
        );
    }
}

/// Header of the generated PrometheusRule; the rules file follows under `spec:`.
const PROMETHEUS_RULE_HEADER: &str = "\
# GENERATED from rules/valkey-slot-exporter.rules.yml: edit that file, then run
#   UPDATE_PROMETHEUS_RULE=1 cargo test --test monitoring_stack prometheus_rule
# tests/monitoring_stack.rs fails while the two differ.
#
# The Prometheus Operator loads it into every Prometheus whose ruleSelector matches its
# labels: kube-prometheus-stack, for one, selects `release: <its Helm release name>`
# unless ruleSelectorNilUsesHelmValues is false; add that label if so.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: valkey-slot-exporter
  labels:
    app.kubernetes.io/name: valkey-slot-exporter
    app.kubernetes.io/component: rules
spec:
";

/// The PrometheusRule for `rules`: the header, then the rules file indented under
/// `spec:`, comments and all.
fn prometheus_rule_for(rules: &str) -> String {
    let mut out = PROMETHEUS_RULE_HEADER.to_owned();
    for line in rules.lines() {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn prometheus_rule_carries_exactly_the_rules_folder() {
    let rules_text = files::read(files::RULES);
    let generated = prometheus_rule_for(&rules_text);
    let path = repo_path(files::PROMETHEUS_RULE);
    if std::env::var_os("UPDATE_PROMETHEUS_RULE").is_some() {
        std::fs::write(&path, &generated).expect("write the PrometheusRule");
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == generated,
        "{} is not generated from {}: run UPDATE_PROMETHEUS_RULE=1 cargo test --test monitoring_stack prometheus_rule",
        files::PROMETHEUS_RULE,
        files::RULES
    );
    // The same rules also after YAML parsing, whatever the text.
    let rule = files::yaml(files::PROMETHEUS_RULE);
    assert_eq!(rule["kind"].as_str(), Some("PrometheusRule"));
    assert_eq!(rule["spec"], files::yaml(files::RULES), "spec is the rules file");
}
