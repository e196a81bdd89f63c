//! The Grafana dashboards as data: panels, their queries, and template variables.

use serde_json::Value;

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub panel_id: u64,
    pub panel_title: String,
    pub ref_id: String,
    /// PromQL with Grafana's `$variables` still in it.
    pub expr: String,
    /// Grafana sends it as an instant query (tables) rather than a range query.
    pub instant: bool,
}

/// A `query` template variable whose values come from `label_values(selector, label)`.
#[derive(Debug, Clone)]
pub struct LabelValuesVariable {
    pub name: String,
    pub selector: String,
    pub label: String,
}

/// Every panel of `dashboard` that is not a row, including panels nested in
/// collapsed rows.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("dashboard has panels") {
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            out.push(panel);
        }
    }
    out
}

/// The row panels of `dashboard`, in order.
pub fn rows(dashboard: &Value) -> Vec<&Value> {
    dashboard["panels"].as_array().expect("dashboard has panels").iter().filter(|p| p["type"] == "row").collect()
}

/// Every query of every panel.
pub fn queries(dashboard: &Value) -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(PanelQuery {
                panel_id: panel["id"].as_u64().expect("panel id"),
                panel_title: panel["title"].as_str().unwrap_or_default().to_owned(),
                ref_id: target["refId"].as_str().unwrap_or_default().to_owned(),
                expr: target["expr"].as_str().expect("every target has an expr").to_owned(),
                instant: target["instant"] == true && target["range"] != true,
            });
        }
    }
    out
}

/// The `label_values(...)` query variables, in dashboard order.
pub fn label_values_variables(dashboard: &Value) -> Vec<LabelValuesVariable> {
    let list = dashboard["templating"]["list"].as_array().expect("dashboard has template variables");
    list.iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let name = v["name"].as_str().expect("variable name").to_owned();
            let query = v["query"].as_str().or_else(|| v["query"]["query"].as_str()).expect("variable query");
            let (selector, label) = parse_label_values(query)
                .unwrap_or_else(|| panic!("variable {name}: expected label_values(selector, label), got {query}"));
            LabelValuesVariable { name, selector, label }
        })
        .collect()
}

/// Splits `label_values(selector, label)`.
fn parse_label_values(query: &str) -> Option<(String, String)> {
    let inner = query.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim().to_owned(), label.trim().to_owned()))
}

/// Values for the dashboard's variables, as Grafana would substitute them.
#[derive(Debug, Clone)]
pub struct Substitution {
    pub job: String,
    pub instance: String,
    /// The cluster's name, as service discovery labels its series.
    pub valkey_cluster: String,
    pub node: String,
    /// `$__rate_interval`: Grafana makes it at least four scrape intervals.
    pub rate_interval: String,
}

impl Substitution {
    /// Every variable on "All", which Grafana sends as the `allValue` `.*`.
    pub fn all(rate_interval: &str) -> Substitution {
        Substitution {
            job: ".*".into(),
            instance: ".*".into(),
            valkey_cluster: ".*".into(),
            node: ".*".into(),
            rate_interval: rate_interval.into(),
        }
    }

    /// `text` with every `$variable` replaced.
    pub fn apply(&self, text: &str) -> String {
        let replaced = text
            .replace("$__rate_interval", &self.rate_interval)
            .replace("$job", &self.job)
            .replace("$instance", &self.instance)
            .replace("$valkey_cluster", &self.valkey_cluster)
            .replace("$node", &self.node);
        assert!(!replaced.contains('$'), "unsubstituted variable in {replaced}");
        replaced
    }
}
