//! The Kubernetes overlay for basic auth (deploy/kubernetes-basic-auth): its JSON
//! patches, applied here to the base as kustomize would (no kustomize on these
//! machines), give probes that need no credentials, a web config mounted from a
//! Secret, and a ServiceMonitor that scrapes with credentials from a Secret.

use crate::deploy_kit::kubernetes_objects;
use crate::monitoring_support::files;
use serde_json::Value;

const DIR: &str = "deploy/kubernetes-basic-auth";

/// Applies an RFC 6902 patch of `add` and `replace` operations, the only ones the
/// overlay uses; panics, naming the path, on anything else or on a path the base does
/// not have (kustomize would refuse it too).
fn apply(target: &mut Value, operations: &Value, file: &str) {
    for operation in operations.as_array().unwrap_or_else(|| panic!("{file}: a list of operations")) {
        let op = operation["op"].as_str().expect("op");
        let path = operation["path"].as_str().expect("path");
        let value = operation["value"].clone();
        let (parent, last) = path.rsplit_once('/').unwrap_or_else(|| panic!("{file}: path {path}"));
        let parent = target.pointer_mut(parent).unwrap_or_else(|| panic!("{file}: the base has no {parent}"));
        match (op, parent) {
            ("add", Value::Array(items)) if last == "-" => items.push(value),
            ("add", Value::Object(fields)) => {
                fields.insert(last.to_owned(), value);
            }
            ("replace", Value::Object(fields)) if fields.contains_key(last) => {
                fields.insert(last.to_owned(), value);
            }
            (op, _) => panic!("{file}: `{op}` of {path} is not something the base allows"),
        }
    }
}

/// The base's objects with the overlay's patches applied, and the kustomization.
fn patched() -> (std::collections::BTreeMap<String, Value>, Value) {
    let kustomization = files::yaml_as_json(&format!("{DIR}/kustomization.yaml"));
    assert_eq!(kustomization["resources"], serde_json::json!(["../kubernetes"]));
    let mut objects = kubernetes_objects();
    let patches = kustomization["patches"].as_array().expect("patches");
    assert_eq!(patches.len(), 2, "the Deployment and the ServiceMonitor");
    for patch in patches {
        let (kind, name) = (patch["target"]["kind"].as_str().expect("kind"), &patch["target"]["name"]);
        let object = objects.get_mut(kind).unwrap_or_else(|| panic!("the base has no {kind}"));
        assert_eq!(&object["metadata"]["name"], name, "{kind}");
        let file = format!("{DIR}/{}", patch["path"].as_str().expect("path"));
        apply(object, &files::yaml_as_json(&file), &file);
    }
    (objects, kustomization)
}

#[test]
fn kubernetes_overlay_for_basic_auth_probes_without_credentials_and_scrapes_with_them() {
    let base = kubernetes_objects();
    let (objects, _) = patched();
    let instructions = files::read(&format!("{DIR}/kustomization.yaml"));
    let container = &objects["Deployment"]["spec"]["template"]["spec"]["containers"][0];
    let pod = &objects["Deployment"]["spec"]["template"]["spec"];

    // Both probes only connect: every HTTP path, /healthz included, needs credentials.
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["tcpSocket"]["port"], "metrics", "{probe}");
        assert!(container[probe]["httpGet"].is_null() && container[probe]["exec"].is_null(), "{probe}");
    }
    assert_eq!(container["ports"][0]["name"], "metrics");

    // The base's arguments stay, followed by the web config, mounted from a Secret.
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let base_args = base["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap();
    assert_eq!(args.len(), base_args.len() + 1);
    assert!(base_args.iter().zip(&args).all(|(a, b)| a.as_str() == Some(b)), "{args:?}");
    let web_config = args.iter().find_map(|a| a.strip_prefix("--web-config-file=")).expect("--web-config-file");
    let (folder, file) = web_config.rsplit_once('/').expect("a path");
    let mounts = container["volumeMounts"].as_array().expect("volumeMounts");
    let mount = mounts.iter().find(|m| m["mountPath"] == folder).expect("the web config's folder is mounted");
    assert_eq!(mount["readOnly"], true);
    for other in mounts.iter().filter(|m| m["name"] != mount["name"]) {
        let other = other["mountPath"].as_str().unwrap();
        assert!(!folder.starts_with(&format!("{other}/")), "{folder} is inside {other}: give it a folder of its own");
    }
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = volumes.iter().find(|v| v["name"] == mount["name"]).expect("the mounted volume");
    let secret = volume["secret"]["secretName"].as_str().expect("the web config comes from a Secret");
    let key = volume["secret"]["items"][0]["key"].as_str().expect("an item");
    assert_eq!(volume["secret"]["items"][0]["path"], file);
    assert!(instructions.contains(&format!("create secret generic {secret} --from-file={key}=")), "{secret}");

    // Prometheus scrapes with the user and password of a Secret the instructions create.
    let endpoint = &objects["ServiceMonitor"]["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let auth = &endpoint["basicAuth"];
    let scrape_secret = auth["username"]["name"].as_str().expect("username from a Secret");
    assert_eq!(auth["password"]["name"], scrape_secret);
    assert_eq!((&auth["username"]["key"], &auth["password"]["key"]), (&"username".into(), &"password".into()));
    let create = format!("create secret generic {scrape_secret}");
    let at = instructions.find(&create).unwrap_or_else(|| panic!("the instructions create {scrape_secret}"));
    let command = &instructions[at..instructions[at..].find("kubectl apply").map_or(instructions.len(), |e| at + e)];
    assert!(command.contains("--from-literal=username=") && command.contains("--from-file=password="), "{command}");
}
