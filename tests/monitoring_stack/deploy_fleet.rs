//! The Kubernetes fleet (deploy/kubernetes-fleet): one exporter per shard of clusters,
//! each shard an overlay of one base built on deploy/kubernetes, and the rules applied
//! once. It was rendered with `kubectl kustomize` (kustomize 5.5) when it was written;
//! the tests have no kustomize, so its parts are checked against each other and
//! against the base: every shard has object names, a pod selector, a ConfigMap and a
//! discovery URL of its own; the shards' clusters, seeds and Secrets are disjoint; each
//! shard's exporter.toml loads and names exactly the password files its shard mounts.

use crate::deploy_kit::{config_mounted_from_configmap, kubernetes_objects};
use crate::monitoring_support::{exporter_config, files};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DIR: &str = files::KUBERNETES_FLEET_DIR;
/// The label that tells one shard's pods from another's.
const SHARD_LABEL: &str = "app.kubernetes.io/instance";

/// `DIR/{folder}kustomization.yaml` (`folder` empty or ending in `/`), as JSON.
fn kustomization(folder: &str) -> Value {
    files::yaml_as_json(&format!("{DIR}/{folder}kustomization.yaml"))
}

/// A file of the fleet, as JSON.
fn fleet_file(name: &str) -> Value {
    files::yaml_as_json(&format!("{DIR}/{name}"))
}

/// (kind, name) of every object a kustomization deletes with an inline `$patch: delete`.
fn deleted(kustomization: &Value) -> BTreeSet<(String, String)> {
    kustomization["patches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["patch"].as_str())
        .map(|text| serde_json::to_value(files::yaml_documents(text, "inline patch").remove(0)).expect("JSON"))
        .filter(|patch| patch["$patch"] == "delete")
        .map(|patch| {
            (patch["kind"].as_str().unwrap().to_owned(), patch["metadata"]["name"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// (kind, name) of the base's objects, deploy/kubernetes's kustomization aside.
fn base_objects() -> BTreeSet<(String, String)> {
    kubernetes_objects()
        .into_iter()
        .filter(|(kind, _)| kind != "Kustomization")
        .map(|(kind, object)| (kind, object["metadata"]["name"].as_str().expect("a name").to_owned()))
        .collect()
}

/// The shard folders on disk (`shard-*`), sorted.
fn shard_folders() -> Vec<String> {
    let mut folders: Vec<String> = std::fs::read_dir(files::repo_path(DIR))
        .expect("the fleet folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_dir())
        .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
        .filter(|name| name.starts_with("shard-"))
        .collect();
    folders.sort();
    folders
}

#[test]
fn kubernetes_fleet_applies_every_shard_and_the_rules_once() {
    let shards = shard_folders();
    assert!(shards.len() >= 2, "a fleet of one shard is deploy/kubernetes-several-clusters");
    let mut listed = vec![Value::from("rules")];
    listed.extend(shards.iter().map(|s| Value::from(s.as_str())));
    assert_eq!(kustomization("")["resources"], Value::Array(listed), "the rules and every shard folder");

    let base = base_objects();
    let rule = base.iter().find(|(kind, _)| kind == "PrometheusRule").expect("the base has rules").clone();
    let shared = kustomization("base/");
    assert_eq!(shared["resources"], serde_json::json!(["../../kubernetes", "scrapeconfig.yaml"]));
    let monitor = base.iter().find(|(kind, _)| kind == "ServiceMonitor").expect("a ServiceMonitor").clone();
    // A ServiceMonitor scrapes without ?cluster= (400 from an exporter of several
    // clusters); the rules would be evaluated once per shard.
    assert_eq!(deleted(&shared), BTreeSet::from([monitor, rule.clone()]), "the shards drop these");

    let rules = kustomization("rules/");
    assert_eq!(rules["resources"], serde_json::json!(["../../kubernetes"]));
    let kept: BTreeSet<_> = base.difference(&deleted(&rules)).cloned().collect();
    assert_eq!(kept, BTreeSet::from([rule]), "rules/ applies the PrometheusRule and nothing else");
}

/// What one shard adds to the base.
struct Shard {
    folder: String,
    suffix: String,
    clusters: BTreeSet<String>,
    seed_hosts: BTreeSet<String>,
    secrets: BTreeSet<String>,
}

#[test]
fn kubernetes_fleet_shards_have_their_own_names_pods_discovery_and_clusters() {
    let base = kubernetes_objects();
    let patch = fleet_file("base/deployment-patch.yaml");
    let mounts = config_mounted_from_configmap(&patch, &base);
    let volumes = patch["spec"]["template"]["spec"]["volumes"].as_array().expect("volumes");
    let config_map =
        volumes.iter().find(|v| v["name"] == "config").expect("config volume")["configMap"]["name"].clone();
    let scrape_config = fleet_file("base/scrapeconfig.yaml");
    assert_eq!(scrape_config["kind"], "ScrapeConfig");
    assert_eq!(scrape_config["spec"]["httpSDConfigs"].as_array().map(Vec::len), Some(1), "one /sd per shard");

    let instructions = files::read(&format!("{DIR}/kustomization.yaml"));
    let mut shards = Vec::new();
    for folder in shard_folders() {
        let shard = check_shard(&folder, &base, &config_map, &scrape_config, &mounts);
        for secret in &shard.secrets {
            let create = format!("create secret generic {secret} --from-file=password=");
            assert!(instructions.contains(&create), "kustomization.yaml's instructions create {secret}");
        }
        shards.push(shard);
    }

    // Nothing is in two shards: no cluster (the valkey_cluster label would be offered
    // twice), no seed, no Secret, no object name (one shard's apply would replace the
    // other's objects).
    let mut seen: BTreeMap<&str, BTreeMap<String, &str>> = BTreeMap::new();
    for shard in &shards {
        let objects = ["Deployment", "Service", "ServiceAccount"]
            .map(|kind| format!("{kind}/{}{}", base[kind]["metadata"]["name"].as_str().unwrap(), shard.suffix));
        let mut names = BTreeSet::from(objects);
        names.insert(format!("ScrapeConfig/{}{}", scrape_config["metadata"]["name"].as_str().unwrap(), shard.suffix));
        names.insert(format!("ConfigMap/{}{}", config_map.as_str().unwrap(), shard.suffix));
        for (what, values) in [
            ("cluster", &shard.clusters),
            ("seed host", &shard.seed_hosts),
            ("Secret", &shard.secrets),
            ("object", &names),
        ] {
            for value in values {
                if let Some(other) = seen.entry(what).or_default().insert(value.clone(), &shard.folder) {
                    panic!("{what} {value} is in both {other} and {}", shard.folder);
                }
            }
        }
    }
}

/// One shard's overlay against the base: its suffix and pod label, its ConfigMap, its
/// ScrapeConfig's URL (its own Service), its passwords volume and its exporter.toml.
fn check_shard(
    folder: &str,
    base: &BTreeMap<String, Value>,
    config_map: &Value,
    scrape_config: &Value,
    mounts: &BTreeMap<&str, &str>,
) -> Shard {
    let overlay = kustomization(&format!("{folder}/"));
    assert_eq!(overlay["resources"], serde_json::json!(["../base"]), "{folder}");
    let suffix = format!("-{folder}");
    assert_eq!(overlay["nameSuffix"], suffix.as_str(), "{folder}: names end with the folder's name");

    // The label sets the shard's pods apart, in the Deployment's and Service's selectors too.
    let deployment_name = base["Deployment"]["metadata"]["name"].as_str().unwrap();
    let labels = overlay["labels"].as_array().expect("labels");
    let selecting = labels.iter().find(|l| l["includeSelectors"] == true).expect("a label in the selectors");
    assert_eq!(selecting["pairs"][SHARD_LABEL], format!("{deployment_name}{suffix}").as_str(), "{folder}");
    assert!(base["Service"]["spec"]["selector"].get(SHARD_LABEL).is_none(), "the base leaves it to the shards");

    let generator = &overlay["configMapGenerator"][0];
    assert_eq!(&generator["name"], config_map, "{folder} generates the ConfigMap the base mounts");
    assert_eq!(generator["files"], serde_json::json!(["exporter.toml"]), "{folder}");

    let patches = overlay["patches"].as_array().expect("patches");
    let discovery = patches.iter().find(|p| p["target"]["kind"] == "ScrapeConfig").expect("a ScrapeConfig patch");
    assert_eq!(discovery["target"]["name"], scrape_config["metadata"]["name"], "{folder}");
    let operations =
        serde_json::to_value(files::yaml_documents(discovery["patch"].as_str().unwrap(), folder).remove(0))
            .expect("JSON");
    let service = &base["Service"];
    let url = format!(
        "http://{}{suffix}.valkey.svc:{}/sd",
        service["metadata"]["name"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"]
    );
    let expected = serde_json::json!([{"op": "replace", "path": "/spec/httpSDConfigs/0/url", "value": url}]);
    assert_eq!(operations, expected, "{folder} discovers through its own Service's /sd");

    // Every password file is one item of one Secret in the shard's passwords volume.
    let file = patches.iter().find_map(|p| p["path"].as_str()).expect("the passwords patch");
    let passwords_patch = fleet_file(&format!("{folder}/{file}"));
    assert_eq!(passwords_patch["metadata"]["name"], deployment_name, "{folder}");
    let volume = passwords_patch["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "passwords")
        .expect("the passwords volume the base mounts");
    let sources = volume["projected"]["sources"].as_array().expect("projected sources");
    let mut secrets = BTreeSet::new();
    let mut items = BTreeSet::new();
    for source in sources {
        secrets.insert(source["secret"]["name"].as_str().expect("a Secret").to_owned());
        items.insert(format!("{}/{}", mounts["passwords"], source["secret"]["items"][0]["path"].as_str().unwrap()));
    }
    let toml = format!("{DIR}/{folder}/exporter.toml");
    let config = files::read(&toml);
    assert_eq!(exporter_config::password_files(&config), items, "{folder}: one mounted item per password_file");
    let settings = exporter_config::load_with_password_files(&config, &items, &toml);
    assert_eq!(settings.clusters.len(), items.len(), "{folder}: a password per cluster");
    assert!(settings.clusters.iter().all(|c| c.password.is_some() && c.username.is_some()), "{folder}");
    let clusters = settings.clusters.iter().map(|c| c.name.as_str().to_owned()).collect();
    let seed_hosts = settings.clusters.iter().flat_map(|c| c.seeds.iter().map(|s| s.addr.host().to_owned())).collect();
    Shard { folder: folder.to_owned(), suffix, clusters, seed_hosts, secrets }
}
