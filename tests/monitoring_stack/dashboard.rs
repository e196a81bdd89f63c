//! The dashboard's structure and the files around it: every JSON and YAML file
//! parses, panels have titles, questions, units and stable ids, and the docs name
//! every row, panel and rule.

use crate::monitoring_support::dashboards;
use crate::monitoring_support::files;
use crate::rules::rules;
use std::collections::BTreeSet;

#[test]
fn every_json_and_yaml_file_parses() {
    let mut parsed = Vec::new();
    for dir in files::MONITORING_DIRS {
        for file in files::files_under(dir) {
            if file.ends_with(".json") {
                files::json(&file);
            } else if file.ends_with(".yml") || file.ends_with(".yaml") {
                let documents = files::yaml_documents(&files::read(&file), &file);
                assert!(!documents.is_empty(), "{file} is empty");
            } else {
                continue;
            }
            parsed.push(file);
        }
    }
    for expected in [
        files::DASHBOARD,
        files::DATASOURCE_PROVISIONING,
        files::DASHBOARD_PROVISIONING,
        files::RULES,
        files::RULE_TESTS,
        files::PROMETHEUS_RULE,
        files::PROMETHEUS_EXAMPLE,
        files::PROMETHEUS_SD,
        files::PROMETHEUS_COMPOSE,
        files::COMPOSE,
    ] {
        assert!(parsed.iter().any(|f| f == expected), "{expected} was not found among {parsed:?}");
    }
}

/// Core Grafana panel types the dashboard may use (no plugins to install).
const CORE_PANEL_TYPES: [&str; 6] = ["stat", "state-timeline", "bargauge", "heatmap", "table", "timeseries"];

#[test]
fn dashboard_panels_have_titles_questions_units_and_stable_ids() {
    let text = files::read(files::DASHBOARD);
    assert!(!text.contains("${DS_") && !text.contains("__inputs"), "import placeholders break file provisioning");
    let dashboard = files::json(files::DASHBOARD);
    let uid = dashboard["uid"].as_str().unwrap_or_default();
    assert!(
        (1..=40).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "stable, URL-friendly dashboard uid: {uid:?}"
    );
    assert!(dashboard["id"].is_null(), "no database id in a provisioned dashboard");
    assert!(!dashboard["title"].as_str().unwrap_or_default().is_empty());

    let datasource_uid = "${datasource}";
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for row in dashboards::rows(&dashboard) {
        assert!(ids.insert(row["id"].as_u64().expect("row id")), "duplicate id {}", row["id"]);
        assert!(row["title"].as_str().is_some_and(|t| t.ends_with('?')), "a row is named by its question: {row}");
    }
    for panel in dashboards::panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        let id = panel["id"].as_u64().unwrap_or_else(|| panel_fail(title, "has no id"));
        assert!(ids.insert(id), "duplicate panel id {id}");
        assert!(!title.is_empty(), "panel {id} has no title");
        assert!(CORE_PANEL_TYPES.contains(&panel["type"].as_str().unwrap_or_default()), "{title}: panel type");
        let description = panel["description"].as_str().unwrap_or_default();
        assert!(description.contains('?'), "{title}: the description says which question the panel answers");
        let unit = panel["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_default();
        assert!(!unit.is_empty(), "{title}: no unit");
        assert_eq!(panel["datasource"]["uid"].as_str(), Some(datasource_uid), "{title}: panel datasource");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panel_fail(title, "has no targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert_eq!(target["datasource"]["uid"].as_str(), Some(datasource_uid), "{title}: query datasource");
            assert!(ref_ids.insert(target["refId"].as_str().unwrap_or_default()), "{title}: duplicate refId");
            assert!(!target["expr"].as_str().unwrap_or_default().is_empty(), "{title}: empty query");
        }
        let grid = &panel["gridPos"];
        let (x, y, w, h) = (grid["x"].as_u64(), grid["y"].as_u64(), grid["w"].as_u64(), grid["h"].as_u64());
        let (Some(x), Some(y), Some(w), Some(h)) = (x, y, w, h) else { panel_fail(title, "has no gridPos") };
        assert!(x + w <= 24 && w > 0 && h > 0, "{title}: gridPos outside the 24-column grid");
        boxes.push((title.to_owned(), x, y, w, h));
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let overlap = a.1 < b.1 + b.3 && b.1 < a.1 + a.3 && a.2 < b.2 + b.4 && b.2 < a.2 + a.4;
            assert!(!overlap, "panels \"{}\" and \"{}\" overlap", a.0, b.0);
        }
    }

    let variables = dashboard["templating"]["list"].as_array().expect("template variables");
    let variable =
        |name: &str| variables.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no ${name} variable"));
    let datasource = variable("datasource");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let provisioned = files::yaml_as_json(files::DATASOURCE_PROVISIONING);
    let provisioned_uid = &provisioned["datasources"][0]["uid"];
    assert_eq!(&datasource["current"]["value"], provisioned_uid, "the default is the provisioned datasource");
    assert_eq!(provisioned["datasources"][0]["type"], "prometheus");
    for name in ["job", "instance", "valkey_cluster", "node"] {
        let v = variable(name);
        assert_eq!(v["type"], "query", "${name}");
        assert_eq!(v["datasource"]["uid"].as_str(), Some(datasource_uid), "${name} datasource");
        assert_eq!(v["includeAll"], true, "${name} offers All");
        assert_eq!(v["allValue"], ".*", "${name}: All matches every value, also ones not listed yet");
    }
    assert_eq!(dashboards::label_values_variables(&dashboard).len(), 4);
}

/// One dashboard serves every cluster: each selector in a panel query filters on the
/// target variables, `$valkey_cluster` included, so choosing a cluster never leaves a
/// series of another in a panel (the live test checks the data).
#[test]
fn every_selector_filters_on_job_instance_and_cluster() {
    let dashboard = files::json(files::DASHBOARD);
    for query in dashboards::queries(&dashboard) {
        for selector in query.expr.split('{').skip(1).map(|rest| rest.split('}').next().unwrap_or_default()) {
            for filter in ["job=~\"$job\"", "instance=~\"$instance\"", "valkey_cluster=~\"$valkey_cluster\""] {
                assert!(selector.contains(filter), "panel \"{}\": {{{selector}}} lacks {filter}", query.panel_title);
            }
        }
    }
}

fn panel_fail(title: &str, what: &str) -> ! {
    panic!("panel \"{title}\" {what}")
}

#[test]
fn monitoring_docs_name_every_row_panel_and_rule() {
    let docs = files::read("docs/monitoring.md");
    let dashboard = files::json(files::DASHBOARD);
    let mut names: Vec<String> =
        dashboards::rows(&dashboard).iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect();
    names.extend(dashboards::panels(&dashboard).iter().map(|p| p["title"].as_str().unwrap().to_owned()));
    names.extend(rules().into_iter().map(|r| r.name));
    let missing: Vec<&String> = names.iter().filter(|n| !docs.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "docs/monitoring.md does not mention {missing:?}");
}
