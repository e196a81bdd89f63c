//! The monitoring stack in grafana/, rules/ and deploy/, proven rather than parsed.
//!
//! * [`live`]: a real Prometheus, configured from deploy/prometheus/prometheus.yml with
//!   the rules in rules/, scrapes the exporter, which scrapes a real Valkey cluster
//!   under traffic. Every dashboard query (variables substituted as Grafana does, both
//!   on "All" and on one value), every variable query and every recording rule returns
//!   data; every alert expression evaluates; the slot-range rules add up exactly to
//!   the cluster's totals. `promtool check metrics` on a real /metrics body.
//! * [`rules`]: promtool `check rules`; `test rules`, whose tests must show every alert
//!   both firing and not firing; `check config` on the example scrape configurations;
//!   alerts have severity and annotations; the PrometheusRule is the rules file.
//! * [`dashboard`]: every JSON and YAML file parses; the dashboard has titles,
//!   descriptions, units and stable ids throughout; docs/monitoring.md names every
//!   row, panel and rule.
//! * [`deploy_kit`]: Grafana provisioning, docker-compose mounts files that exist, the
//!   scrape intervals suit the exporter's cache, the Kubernetes manifests are
//!   restricted, the Dockerfile is multi-stage and non-root.

mod exporter_support;
mod monitoring_support;
mod support;

#[path = "monitoring_stack/dashboard.rs"]
mod dashboard;
#[path = "monitoring_stack/deploy_kit.rs"]
mod deploy_kit;
#[path = "monitoring_stack/live.rs"]
mod live;
#[path = "monitoring_stack/rules.rs"]
mod rules;
