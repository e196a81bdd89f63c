//! The monitoring stack in grafana/, rules/ and deploy/, proven rather than parsed.
//!
//! * [`live`]: one exporter serves three real Valkey clusters under traffic as named
//!   clusters, one per `--slot-series` profile (all, top:100, none); a real
//!   Prometheus configured from deploy/prometheus/prometheus-sd.yml finds them through
//!   the exporter's `/sd` and runs the rules in rules/. Every series carries
//!   `valkey_cluster`; every dashboard query (variables substituted as Grafana does,
//!   both on "All" and on each cluster), every variable query and every recording rule
//!   returns data for each cluster, and only its own when one is picked; every alert
//!   expression evaluates; the slot ranges add up exactly to the keys written and to
//!   the node counters; the slot maps are in slot order; and `promtool check metrics`
//!   finds nothing in each cluster's /metrics.
//! * [`moves`], part of the live test: one cluster runs Valkey 9.1; every cluster holds
//!   a slot left open, and the 9.1 one lists a cancelled and a failed migration job;
//!   Prometheus sees them, and ValkeySlotOpenTooLong and ValkeySlotMigrationFailed
//!   pending on exactly the nodes concerned (the cancel's failed import not reported).
//! * [`rules`]: promtool `check rules`; `test rules`, whose tests must show every alert
//!   both firing and not firing; `check config` on the example scrape configurations;
//!   alerts have severity and annotations; the PrometheusRule is the rules file.
//! * [`dashboard`]: every JSON and YAML file parses; the dashboard has titles,
//!   descriptions, units and stable ids throughout; docs/monitoring.md names every
//!   row, panel and rule.
//! * [`deploy_kit`]: Grafana provisioning, docker-compose mounts files that exist, the
//!   scrape intervals suit the exporter's cache, the Kubernetes manifests are
//!   restricted, the Dockerfile is multi-stage and non-root.
//! * [`deploy_basic_auth`]: the Kubernetes overlay for basic auth probes without
//!   credentials (tcpSocket) and scrapes with credentials from a Secret.
//! * [`deploy_fleet`]: the Kubernetes fleet, one exporter per shard of clusters from
//!   one base: names, pod selectors, ConfigMaps and discovery URLs of their own,
//!   disjoint clusters, seeds and Secrets, the rules applied once.

mod exporter_support;
mod monitoring_support;
mod support;

#[path = "monitoring_stack/dashboard.rs"]
mod dashboard;
#[path = "monitoring_stack/deploy_basic_auth.rs"]
mod deploy_basic_auth;
#[path = "monitoring_stack/deploy_fleet.rs"]
mod deploy_fleet;
#[path = "monitoring_stack/deploy_kit.rs"]
mod deploy_kit;
#[path = "monitoring_stack/live.rs"]
mod live;
#[path = "monitoring_stack/moves.rs"]
mod moves;
#[path = "monitoring_stack/rules.rs"]
mod rules;
