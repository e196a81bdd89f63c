//! The deploy kit: Grafana provisioning, docker-compose, scrape intervals, the
//! Kubernetes manifests and the Dockerfile.

use crate::monitoring_support::exporter_config;
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

/// The compose stack's clusters: init service, nodes, replicas per primary.
const COMPOSE_CLUSTERS: [(&str, usize, u64); 2] = [("orders", 6, 1), ("sessions", 3, 0)];

#[test]
fn compose_stack_has_two_clusters_behind_one_exporter_prometheus_and_grafana() {
    let compose = files::yaml_as_json(files::COMPOSE);
    let services = compose["services"].as_object().expect("services");
    for (cluster, nodes, replicas) in COMPOSE_CLUSTERS {
        let names: Vec<String> = (1..=nodes).map(|n| format!("{cluster}-{n}")).collect();
        for name in &names {
            let command: Vec<&str> =
                services[name]["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
            let enabled = command.windows(2).any(|w| w == ["--cluster-slot-stats-enabled", "yes"]);
            assert!(enabled, "{name} reports per-slot CPU and network");
        }
        let init = &services[&format!("{cluster}-init")];
        assert_eq!(init["restart"], "no", "cluster creation is one-shot");
        let waits_for: BTreeSet<String> = init["depends_on"].as_object().expect("depends_on").keys().cloned().collect();
        assert_eq!(waits_for, names.iter().cloned().collect(), "{cluster}-init waits for its nodes");
        let listed: Vec<&str> = init["environment"]["NODES"].as_str().expect("NODES").split(' ').collect();
        assert_eq!(listed, names, "{cluster}-init joins its nodes");
        assert_eq!(init["environment"]["REPLICAS"], replicas.to_string());
        let script = init["command"][0].as_str().unwrap_or_default();
        assert!(script.contains("--cluster create") && script.contains("--cluster-replicas $$REPLICAS"));
    }
    let exporter = &services["exporter"];
    assert_eq!(exporter["build"]["context"], "..");
    assert!(repo_path(exporter["build"]["dockerfile"].as_str().expect("dockerfile")).is_file());
    for (cluster, _, _) in COMPOSE_CLUSTERS {
        let condition = &exporter["depends_on"][format!("{cluster}-init")]["condition"];
        assert_eq!(condition, "service_completed_successfully", "the exporter starts once {cluster} exists");
    }
    check_compose_exporter_config(services, exporter);

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
    let discovery = &config["scrape_configs"][0]["http_sd_configs"][0]["url"];
    assert_eq!(discovery, "http://exporter:9765/sd", "Prometheus finds the clusters through the compose exporter");
}

/// The exporter's `--config` file is mounted where the flag says, loads with the
/// exporter's own loader, and names each compose cluster, seeded by its own nodes.
fn check_compose_exporter_config(services: &serde_json::Map<String, Value>, exporter: &Value) {
    use valkey_slot_exporter::config::{self, Cli};
    let command: Vec<&str> =
        exporter["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
    let path = command.windows(2).find(|w| w[0] == "--config").map(|w| w[1]).expect("--config PATH");
    let host_path = volume_mounts(exporter).remove(path).expect("the config file is mounted at --config");
    let file = repo_path("deploy").join(host_path);
    let cli = <Cli as clap::Parser>::try_parse_from(["valkey-slot-exporter", "--config", file.to_str().unwrap()])
        .expect("flags parse");
    let settings = config::load(cli).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let names: Vec<&str> = settings.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COMPOSE_CLUSTERS.map(|(name, _, _)| name), "one table per compose cluster");
    for cluster in &settings.clusters {
        for seed in &cluster.seeds {
            let host = seed.addr.host();
            assert!(
                host.starts_with(&format!("{}-", cluster.name)),
                "{}: seed {seed} is another cluster's",
                cluster.name
            );
            assert!(services.contains_key(host), "{}: seed {seed} is no compose service", cluster.name);
            assert_eq!(seed.addr.port(), 6379);
        }
    }
}

#[test]
fn scrape_intervals_match_the_exporter_cache_ttl() {
    use valkey_slot_exporter::config::{self, Cli};
    let cli = <Cli as clap::Parser>::try_parse_from(["valkey-slot-exporter"]).expect("no flags");
    let defaults = config::load(cli).expect("defaults load");
    let mut configs = Vec::new();
    for file in [files::PROMETHEUS_EXAMPLE, files::PROMETHEUS_SD, files::PROMETHEUS_COMPOSE] {
        let job = files::yaml_as_json(file)["scrape_configs"][0].clone();
        configs.push((file.to_owned(), job["scrape_interval"].clone(), job["scrape_timeout"].clone()));
    }
    let monitor = kubernetes_objects().remove("ServiceMonitor").expect("ServiceMonitor");
    let endpoint = &monitor["spec"]["endpoints"][0];
    configs.push(("ServiceMonitor".into(), endpoint["interval"].clone(), endpoint["scrapeTimeout"].clone()));
    for (name, file) in [
        ("ScrapeConfig", format!("{}/scrapeconfig.yaml", files::KUBERNETES_SEVERAL_DIR)),
        ("the fleet's ScrapeConfig", format!("{}/base/scrapeconfig.yaml", files::KUBERNETES_FLEET_DIR)),
    ] {
        let spec = &files::yaml_as_json(&file)["spec"];
        configs.push((name.into(), spec["scrapeInterval"].clone(), spec["scrapeTimeout"].clone()));
    }
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
pub(crate) fn kubernetes_objects() -> BTreeMap<String, Value> {
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

/// A file of the several-clusters overlay, as JSON.
fn overlay_file(name: &str) -> Value {
    files::yaml_as_json(&format!("{}/{name}", files::KUBERNETES_SEVERAL_DIR))
}

/// The overlay for several clusters (rendered with `kubectl kustomize` when it was
/// written; no kustomize here, so its parts are checked against each other): it builds
/// on the base, replaces the ServiceMonitor by a ScrapeConfig asking the exporter's
/// /sd through the base's Service, and gives the exporter a config that loads, whose
/// every password file is a mounted Secret item.
#[test]
fn kubernetes_overlay_for_several_clusters_discovers_them_through_sd() {
    let kustomization = overlay_file("kustomization.yaml");
    assert_eq!(kustomization["resources"], serde_json::json!(["../kubernetes", "scrapeconfig.yaml"]));
    let deleted = kustomization["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .filter_map(|p| p["patch"].as_str())
        .map(|text| files::yaml_documents(text, "inline patch").remove(0))
        .find(|patch| patch.get("$patch").and_then(|v| v.as_str()) == Some("delete"))
        .expect("a patch deleting the base's ServiceMonitor");
    let base = kubernetes_objects();
    assert_eq!(deleted["kind"].as_str(), Some("ServiceMonitor"));
    assert_eq!(serde_json::to_value(&deleted["metadata"]["name"]).unwrap(), base["ServiceMonitor"]["metadata"]["name"]);

    let service = &base["Service"];
    let url = format!(
        "http://{}.valkey.svc:{}/sd",
        service["metadata"]["name"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"]
    );
    let scrape_config = overlay_file("scrapeconfig.yaml");
    assert_eq!(scrape_config["kind"], "ScrapeConfig");
    assert_eq!(scrape_config["spec"]["httpSDConfigs"][0]["url"], url.as_str(), "the base Service's /sd");

    let patch = overlay_file("deployment-patch.yaml");
    let pod = &patch["spec"]["template"]["spec"];
    let mounts = config_mounted_from_configmap(&patch, &base);
    assert_eq!(kustomization["configMapGenerator"][0]["files"], serde_json::json!(["exporter.toml"]));
    let volumes = pod["volumes"].as_array().expect("volumes");
    let config_volume = volumes.iter().find(|v| v["name"] == "config").expect("config volume");
    assert_eq!(config_volume["configMap"]["name"], kustomization["configMapGenerator"][0]["name"]);

    // Every cluster's password file is one item of one Secret in the passwords volume.
    let passwords = volumes.iter().find(|v| v["name"] == "passwords").expect("passwords volume");
    let items: BTreeSet<String> = passwords["projected"]["sources"]
        .as_array()
        .expect("projected sources")
        .iter()
        .map(|source| format!("{}/{}", mounts["passwords"], source["secret"]["items"][0]["path"].as_str().unwrap()))
        .collect();
    let file = format!("{}/exporter.toml", files::KUBERNETES_SEVERAL_DIR);
    let config = files::read(&file);
    let settings = exporter_config::load_with_password_files(&config, &items, &file);
    assert_eq!(exporter_config::password_files(&config), items, "one mounted Secret item per cluster's password_file");
    assert_eq!(settings.clusters.len(), items.len());
    assert!(settings.clusters.iter().all(|c| c.password.is_some() && c.username.is_some()));
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

/// Checks that a Deployment patch of an overlay patches the base's Deployment and
/// container and points `--config=` at `exporter.toml` in the volume mounted as
/// `config`; returns the container's mounts by volume name. `base` is the base's objects
/// by kind.
pub(crate) fn config_mounted_from_configmap<'a>(
    patch: &'a Value,
    base: &BTreeMap<String, Value>,
) -> BTreeMap<&'a str, &'a str> {
    let deployment = &base["Deployment"];
    assert_eq!(patch["metadata"]["name"], deployment["metadata"]["name"]);
    let container = &patch["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], deployment["spec"]["template"]["spec"]["containers"][0]["name"]);
    let mounts: BTreeMap<&str, &str> = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .filter_map(|m| Some((m["name"].as_str()?, m["mountPath"].as_str()?)))
        .collect();
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let config_path = args.iter().find_map(|a| a.strip_prefix("--config=")).expect("--config=PATH");
    assert_eq!(config_path, format!("{}/exporter.toml", mounts["config"]), "the ConfigMap holds the config");
    mounts
}
