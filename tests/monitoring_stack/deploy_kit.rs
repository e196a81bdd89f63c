//! The deploy kit: Grafana provisioning, docker-compose, scrape intervals, the
//! Kubernetes manifests and the Dockerfile.

use crate::monitoring_support::files::{self, repo_path};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn grafana_provisioning_points_at_the_dashboards_as_compose_mounts_them() {
    let provider = files::yaml_as_json(files::DASHBOARD_PROVISIONING);
    let path = provider["providers"][0]["options"]["path"].as_str().expect("provider path");
    assert_eq!(provider["providers"][0]["type"], "file");
    let compose = files::yaml_as_json(files::COMPOSE);
    let mounts = volume_mounts(&compose["services"]["grafana"]);
    assert_eq!(mounts.get(path).map(String::as_str), Some("../grafana/dashboards"), "dashboards at {path}");
    assert_eq!(
        mounts.get("/etc/grafana/provisioning/dashboards").map(String::as_str),
        Some("../grafana/provisioning/dashboards")
    );
    assert_eq!(
        mounts.get("/etc/grafana/provisioning/datasources").map(String::as_str),
        Some("../grafana/provisioning/datasources")
    );
    let datasource = files::yaml_as_json(files::DATASOURCE_PROVISIONING);
    assert_eq!(datasource["datasources"][0]["url"], "http://prometheus:9090", "the compose service");
}

/// Bind mounts of a compose service: container path -> host path (as written).
fn volume_mounts(service: &Value) -> BTreeMap<String, String> {
    service["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let parts: Vec<&str> = v.as_str().expect("short volume syntax").split(':').collect();
            (parts[1].to_owned(), parts[0].to_owned())
        })
        .collect()
}

#[test]
fn compose_stack_has_a_cluster_the_exporter_prometheus_and_grafana() {
    let compose = files::yaml_as_json(files::COMPOSE);
    let services = compose["services"].as_object().expect("services");
    for n in 1..=6 {
        let node = &services[&format!("valkey-{n}")];
        let command: Vec<&str> =
            node["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
        let enabled = command.windows(2).any(|w| w == ["--cluster-slot-stats-enabled", "yes"]);
        assert!(enabled, "valkey-{n} reports per-slot CPU and network");
    }
    let init = &services["valkey-cluster-init"];
    assert_eq!(init["restart"], "no", "cluster creation is one-shot");
    assert_eq!(init["depends_on"].as_object().map(|d| d.len()), Some(6));
    let script = init["command"][0].as_str().unwrap_or_default();
    assert!(script.contains("--cluster create") && script.contains("--cluster-replicas 1"), "3 primaries + 3 replicas");
    let exporter = &services["exporter"];
    assert_eq!(exporter["build"]["context"], "..");
    assert!(repo_path(exporter["build"]["dockerfile"].as_str().expect("dockerfile")).is_file());
    assert_eq!(exporter["depends_on"]["valkey-cluster-init"]["condition"], "service_completed_successfully");

    let deploy = repo_path("deploy");
    for (name, service) in services {
        for (container_path, host_path) in volume_mounts(service) {
            assert!(deploy.join(&host_path).exists(), "{name}: {host_path} (for {container_path}) does not exist");
        }
        for port in service["ports"].as_array().into_iter().flatten() {
            assert!(
                port.as_str().is_some_and(|p| p.starts_with("127.0.0.1:")),
                "{name} publishes {port} beyond localhost"
            );
        }
    }
    // Prometheus finds its configuration and the rule file it names where they are mounted.
    let prometheus_mounts = volume_mounts(&services["prometheus"]);
    assert_eq!(prometheus_mounts["/etc/prometheus/prometheus.yml"], "./compose/prometheus.yml");
    let config = files::yaml_as_json(files::PROMETHEUS_COMPOSE);
    for rule_file in config["rule_files"].as_array().expect("rule_files") {
        let mounted = format!("/etc/prometheus/{}", rule_file.as_str().expect("path"));
        assert_eq!(
            prometheus_mounts.get(&mounted).map(String::as_str),
            Some("../rules/valkey-slot-exporter.rules.yml")
        );
    }
    let target = &config["scrape_configs"][0]["static_configs"][0]["targets"][0];
    assert_eq!(target, "exporter:9765", "Prometheus scrapes the compose exporter");
}

#[test]
fn scrape_intervals_match_the_exporter_cache_ttl() {
    use valkey_slot_exporter::config::{self, Cli};
    let cli = <Cli as clap::Parser>::try_parse_from(["valkey-slot-exporter"]).expect("no flags");
    let defaults = config::load(cli).expect("defaults load");
    let mut configs = Vec::new();
    for file in [files::PROMETHEUS_EXAMPLE, files::PROMETHEUS_COMPOSE] {
        let job = files::yaml_as_json(file)["scrape_configs"][0].clone();
        configs.push((file.to_owned(), job["scrape_interval"].clone(), job["scrape_timeout"].clone()));
    }
    let monitor = kubernetes_objects().remove("ServiceMonitor").expect("ServiceMonitor");
    let endpoint = &monitor["spec"]["endpoints"][0];
    configs.push(("ServiceMonitor".into(), endpoint["interval"].clone(), endpoint["scrapeTimeout"].clone()));
    for (name, interval, timeout) in configs {
        let parse = |v: &Value| humantime::parse_duration(v.as_str().expect("a duration")).expect("a duration");
        let (interval, timeout) = (parse(&interval), parse(&timeout));
        assert!(
            interval >= defaults.clusters[0].cache_ttl,
            "{name}: scraping faster than the cache TTL repeats snapshots"
        );
        assert!(interval <= 2 * defaults.clusters[0].cache_ttl, "{name}: far slower scrapes make 2m rates too coarse");
        assert!(timeout < interval, "{name}: timeout below the interval");
        assert!(timeout >= 2 * defaults.clusters[0].node_timeout, "{name}: timeout leaves room for a slow node");
    }
}

/// Every object in deploy/kubernetes, by kind (each kind appears once).
fn kubernetes_objects() -> BTreeMap<String, Value> {
    let mut objects = BTreeMap::new();
    for file in files::files_under(files::KUBERNETES_DIR) {
        for document in files::yaml_documents(&files::read(&file), &file) {
            let object: Value = serde_json::to_value(document).expect("YAML maps to JSON");
            let kind = object["kind"].as_str().unwrap_or_else(|| panic!("{file}: object without kind")).to_owned();
            assert!(objects.insert(kind.clone(), object).is_none(), "two {kind} objects");
        }
    }
    objects
}

#[test]
fn kubernetes_manifests_have_the_expected_kinds_and_a_restricted_pod() {
    let objects = kubernetes_objects();
    let kinds: BTreeSet<&str> = objects.keys().map(String::as_str).collect();
    let expected = ["Deployment", "Kustomization", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"];
    assert_eq!(kinds, BTreeSet::from(expected));
    for (kind, object) in &objects {
        if kind != "Kustomization" {
            assert!(object["metadata"]["name"].as_str().is_some(), "{kind} has a name");
            assert!(object["metadata"]["namespace"].is_null(), "{kind}: the namespace is chosen at apply time");
        }
    }
    let listed: BTreeSet<String> = objects["Kustomization"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| format!("{}/{}", files::KUBERNETES_DIR, r.as_str().expect("file name")))
        .collect();
    let on_disk: BTreeSet<String> =
        files::files_under(files::KUBERNETES_DIR).into_iter().filter(|f| !f.ends_with("kustomization.yaml")).collect();
    assert_eq!(listed, on_disk, "the kustomization lists every manifest");

    let deployment = &objects["Deployment"];
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert!(pod_security["runAsUser"].as_u64().is_some_and(|uid| uid > 0), "a non-root uid");
    assert_eq!(pod_security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], false, "no Kubernetes API token");
    assert_eq!(pod["serviceAccountName"], objects["ServiceAccount"]["metadata"]["name"]);
    assert!(pod["hostNetwork"].is_null() && pod["hostPID"].is_null(), "no host namespaces");
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], pod_labels);

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_ne!(security["privileged"], true);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(security["capabilities"]["add"].is_null(), "no capability added back");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["ports"][0]["containerPort"], 9765);
    assert_eq!(container["ports"][0]["name"], "metrics");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    assert!(container["resources"]["limits"]["memory"].is_string(), "a memory limit");

    // The password comes from a Secret, as a file the exporter reads.
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let password_file =
        args.iter().find_map(|a| a.strip_prefix("--password-file=")).expect("--password-file, not --password");
    assert!(!args.iter().any(|a| a.starts_with("--password=")), "no password on the command line");
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| password_file.starts_with(m["mountPath"].as_str().unwrap_or("//")))
        .expect("the password file is on a mounted volume");
    assert_eq!(mount["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert!(volume["secret"]["secretName"].is_string(), "the password volume is a Secret");
    let item_path =
        format!("{}/{}", mount["mountPath"].as_str().unwrap(), volume["secret"]["items"][0]["path"].as_str().unwrap());
    assert_eq!(item_path, password_file);
    for env in container["env"].as_array().into_iter().flatten() {
        assert!(env["value"].is_null() || !env["name"].as_str().unwrap_or_default().contains("PASSWORD"));
    }

    let service = &objects["Service"];
    for (key, value) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&pod_labels[key], value, "the Service selects the pod");
    }
    assert_eq!(service["spec"]["ports"][0]["port"], 9765);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    let monitor = &objects["ServiceMonitor"];
    for (key, value) in monitor["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels") {
        assert_eq!(&service["metadata"]["labels"][key], value, "the ServiceMonitor selects the Service");
    }
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
}

#[test]
fn dockerfile_builds_in_stages_and_runs_as_non_root() {
    let dockerfile = files::read("Dockerfile");
    let instructions: Vec<&str> =
        dockerfile.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let from: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "a build stage and a runtime stage");
    assert!(from[0].contains(" AS "), "the build stage is named");
    let runtime = instructions.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let runtime_stage = &instructions[runtime..];
    let user = runtime_stage.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER in the runtime stage");
    assert!(!matches!(user.trim(), "root" | "0" | "0:0"), "runs as non-root, not {user}");
    assert!(runtime_stage.iter().any(|l| l.starts_with("EXPOSE 9765")), "the port is exposed");
    assert!(runtime_stage.iter().any(|l| l.starts_with("ENTRYPOINT")), "the exporter is the entrypoint");
    for label in
        ["org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version"]
    {
        assert!(dockerfile.contains(label), "OCI label {label}");
    }
    assert!(dockerfile.contains("--locked"), "builds the versions in Cargo.lock");
    let ignore = files::read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target" || l.trim() == "/target"), "target/ is not sent to the daemon");
}
