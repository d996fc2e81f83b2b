//! Tests of the renderer: golden YAML for every example and environment, and
//! one test per rendering rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::spec::{DEFAULT_ENVIRONMENTS, ServiceSpec};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    manifest_dir().join("tests/golden")
}

/// Every example as (file stem, parsed spec), sorted by name.
fn examples() -> Vec<(String, ServiceSpec)> {
    let dir = manifest_dir().join("../examples");
    let mut out: Vec<(String, ServiceSpec)> = std::fs::read_dir(&dir)
        .expect("examples folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).expect("readable example");
            let spec = crate::spec::parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            (name, spec)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn example(name: &str) -> ServiceSpec {
    examples()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .expect("example exists")
}

/// The context goldens are rendered with: the CLI's, plus a revision and deploy id.
fn golden_context(spec: &ServiceSpec, environment: &str) -> RenderContext {
    RenderContext {
        revision: Some(7),
        deploy_id: Some("d-golden".into()),
        ..RenderContext::for_cli(spec, environment, None)
    }
}

/// Compare `actual` with `tests/golden/<name>.yaml`; with `SLIPWAY_UPDATE_GOLDEN=1`
/// rewrite it instead. Returns a failure description, if any.
fn assert_golden(name: &str, actual: &str) -> Option<String> {
    let path = golden_dir().join(format!("{name}.yaml"));
    if std::env::var("SLIPWAY_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).expect("golden folder");
        std::fs::write(&path, actual).expect("write golden");
        return None;
    }
    match std::fs::read_to_string(&path) {
        Err(_) => Some(format!(
            "{name}: no golden file {}; run with SLIPWAY_UPDATE_GOLDEN=1 and review it",
            path.display()
        )),
        Ok(expected) if expected == actual => None,
        Ok(expected) => {
            let diff = similar::TextDiff::from_lines(&expected, actual)
                .unified_diff()
                .context_radius(3)
                .header(&format!("golden/{name}.yaml"), "rendered")
                .to_string();
            Some(format!(
                "{name}: rendered YAML differs from its golden file:\n{diff}"
            ))
        }
    }
}

#[test]
fn every_example_in_every_environment_matches_its_golden_yaml() {
    let mut failures = Vec::new();
    let mut expected = BTreeSet::new();
    for (name, spec) in examples() {
        for environment in DEFAULT_ENVIRONMENTS {
            let case = format!("{name}-{environment}");
            let manifests = render(&spec, &golden_context(&spec, environment))
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            failures.extend(assert_golden(&case, &manifests.to_yaml()));
            expected.insert(format!("{case}.yaml"));
        }
    }
    // A golden file no test renders any more is stale: fail (or delete when updating).
    let updating = std::env::var("SLIPWAY_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for entry in std::fs::read_dir(golden_dir())
        .expect("golden folder")
        .filter_map(Result::ok)
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !expected.contains(&file) {
            if updating {
                std::fs::remove_file(entry.path()).expect("remove stale golden");
            } else {
                failures.push(format!(
                    "{file}: golden file is not rendered by any example; delete it"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rendering_twice_gives_byte_identical_yaml() {
    for (name, spec) in examples() {
        let ctx = golden_context(&spec, "production");
        let first = render(&spec, &ctx).expect("renders").to_yaml();
        let again = crate::spec::parse(&spec.to_yaml()).expect("canonical YAML reads back");
        assert_eq!(
            first,
            render(&again, &ctx).expect("renders").to_yaml(),
            "{name}"
        );
    }
}

#[test]
fn every_object_carries_the_slipway_labels_namespace_and_deploy_annotations() {
    for (name, spec) in examples() {
        let ctx = golden_context(&spec, "staging");
        for object in render(&spec, &ctx).expect("renders").objects() {
            let meta = &object["metadata"];
            let labels = &meta["labels"];
            let what = format!("{name}: {} {}", object["kind"], meta["name"]);
            assert_eq!(
                labels["app.kubernetes.io/name"],
                spec.metadata.name.as_str(),
                "{what}"
            );
            assert_eq!(labels["app.kubernetes.io/managed-by"], "slipway", "{what}");
            assert!(labels["app.kubernetes.io/instance"].is_string(), "{what}");
            assert!(labels["app.kubernetes.io/part-of"].is_string(), "{what}");
            assert_eq!(labels["slipway.dev/team"], ctx.team.as_str(), "{what}");
            assert_eq!(labels["slipway.dev/environment"], "staging", "{what}");
            assert_eq!(meta["namespace"], ctx.namespace.as_str(), "{what}");
            assert_eq!(meta["annotations"]["slipway.dev/revision"], "7", "{what}");
            assert_eq!(
                meta["annotations"]["slipway.dev/deploy-id"], "d-golden",
                "{what}"
            );
            assert!(
                object["apiVersion"].is_string() && object["kind"].is_string(),
                "{what}"
            );
        }
    }
}

#[test]
fn objects_come_in_apply_order() {
    let order = [
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
    ];
    for (name, spec) in examples() {
        let kinds: Vec<&str> = render(&spec, &golden_context(&spec, "production"))
            .expect("renders")
            .kinds_and_names()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let ranks: Vec<usize> = kinds
            .iter()
            .map(|k| order.iter().position(|o| o == k).expect("known kind"))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{name}: {kinds:?}");
        assert_eq!(kinds[0], "ServiceAccount", "{name}");
    }
}

#[test]
fn no_secret_object_or_value_is_ever_rendered() {
    for (name, spec) in examples() {
        for environment in DEFAULT_ENVIRONMENTS {
            let manifests = render(&spec, &golden_context(&spec, environment)).expect("renders");
            assert!(manifests.iter().all(|o| o.kind() != "Secret"), "{name}");
            let yaml = manifests.to_yaml();
            for var in &spec.spec.env {
                if let Some(secret) = &var.secret {
                    assert!(
                        yaml.contains(&format!("name: {}", secret.name)),
                        "{name}: reference to {} missing",
                        secret.name
                    );
                }
            }
        }
    }
}

#[test]
fn the_django_example_renders_what_the_article_shows() {
    let spec = example("django");
    let manifests = render(
        &spec,
        &RenderContext::for_cli(
            &spec,
            "production",
            Some("registry.example.com/shop/web:1.4.2".into()),
        ),
    )
    .expect("renders");
    let kinds = manifests.kinds_and_names();
    let expected: Vec<(&str, &str)> = vec![
        ("ServiceAccount", "shop-web"),
        ("ConfigMap", "shop-web-config"),
        ("Service", "shop-web"),
        ("Deployment", "shop-web"),
        ("HorizontalPodAutoscaler", "shop-web"),
        ("PodDisruptionBudget", "shop-web"),
        ("NetworkPolicy", "shop-web"),
        ("Ingress", "shop-web"),
    ];
    assert_eq!(
        kinds
            .iter()
            .map(|(k, n)| (*k, n.as_str()))
            .collect::<Vec<_>>(),
        expected
    );
    let objects = manifests.objects();
    let deployment = &objects[3];
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        deployment["spec"]["replicas"].is_null(),
        "the autoscaler owns replicas"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        pod["topologySpreadConstraints"][0]["topologyKey"],
        "topology.kubernetes.io/zone"
    );
    let app = &pod["containers"][0];
    assert_eq!(app["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(app["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(app["lifecycle"]["preStop"]["sleep"]["seconds"], 5);
    let init = pod["initContainers"].as_array().expect("init containers");
    assert_eq!(init[0]["name"], "fluent-bit");
    assert_eq!(init[0]["restartPolicy"], "Always", "native sidecar");
    assert_eq!(init[1]["name"], "migrate");
    assert_eq!(
        init[1]["image"], "registry.example.com/shop/web:1.4.2",
        "migrations run the deployed image"
    );
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert!(
        annotations["checksum/config"]
            .as_str()
            .is_some_and(|c| c.len() == 64)
    );
    let ingress = &objects[7];
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-production"
    );
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "shop-web-tls");
}

#[test]
fn a_changed_config_file_changes_the_pod_template_checksum() {
    let spec = example("django");
    let checksum = |spec: &ServiceSpec| {
        render(spec, &RenderContext::for_cli(spec, "production", None))
            .expect("renders")
            .objects()[3]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            .clone()
    };
    let mut changed = spec.clone();
    if let Some(files) = changed.spec.config_files.as_mut() {
        files
            .files
            .insert("gunicorn.conf.py".into(), "threads = 8\n".into());
    }
    assert_ne!(checksum(&spec), checksum(&changed));
}

#[test]
fn development_overrides_replicas_hosts_and_environment_values() {
    let spec = example("django");
    let objects = render(&spec, &RenderContext::for_cli(&spec, "development", None))
        .expect("renders")
        .objects();
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert!(
        !kinds.contains(&"HorizontalPodAutoscaler"),
        "replicas turn autoscaling off: {kinds:?}"
    );
    assert!(
        !kinds.contains(&"PodDisruptionBudget"),
        "one pod gets no budget: {kinds:?}"
    );
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env");
    let debug = env.iter().find(|e| e["name"] == "DEBUG").expect("DEBUG");
    assert_eq!(debug["value"], "True");
    let ingress = objects
        .iter()
        .find(|o| o["kind"] == "Ingress")
        .expect("ingress");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "shop.dev.example.com");
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        "shop.dev.example.com"
    );
}

#[test]
fn a_worker_gets_no_service_and_an_exec_liveness_probe() {
    let spec = example("celery-worker");
    let manifests =
        render(&spec, &RenderContext::for_cli(&spec, "production", None)).expect("renders");
    assert!(
        manifests
            .iter()
            .all(|o| o.kind() != "Service" && o.kind() != "Ingress")
    );
    let objects = manifests.objects();
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("deployment");
    let app = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(app["command"][0], "celery");
    assert!(app["livenessProbe"]["exec"]["command"].is_array());
    let policy = objects
        .iter()
        .find(|o| o["kind"] == "NetworkPolicy")
        .expect("policy");
    assert_eq!(
        policy["spec"]["ingress"],
        serde_json::json!([]),
        "nothing may connect to a worker"
    );
}

#[test]
fn a_cron_job_never_overlaps_and_its_pods_do_not_restart_in_place() {
    let spec = example("cron");
    let objects = render(&spec, &RenderContext::for_cli(&spec, "production", None))
        .expect("renders")
        .objects();
    let cron = objects
        .iter()
        .find(|o| o["kind"] == "CronJob")
        .expect("cron job");
    assert_eq!(cron["spec"]["schedule"], "30 2 * * *");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(cron["spec"]["timeZone"], "Europe/Berlin");
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );
    assert!(
        objects
            .iter()
            .all(|o| o["kind"] != "PodDisruptionBudget" && o["kind"] != "HorizontalPodAutoscaler")
    );
}

#[test]
fn a_stateful_service_gets_a_headless_service_and_claim_templates() {
    let spec = example("postgres-statefulset");
    let objects = render(&spec, &RenderContext::for_cli(&spec, "production", None))
        .expect("renders")
        .objects();
    let service = objects
        .iter()
        .find(|o| o["kind"] == "Service")
        .expect("service");
    assert_eq!(service["spec"]["clusterIP"], "None");
    let set = objects
        .iter()
        .find(|o| o["kind"] == "StatefulSet")
        .expect("statefulset");
    assert_eq!(set["spec"]["serviceName"], "shop-postgres");
    assert_eq!(
        set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "10Gi"
    );
    assert_eq!(set["spec"]["replicas"], 1);
}

#[test]
fn an_external_database_is_an_external_name_service() {
    let spec = example("external-database");
    let objects = render(&spec, &RenderContext::for_cli(&spec, "production", None))
        .expect("renders")
        .objects();
    let external = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "orders-db")
        .expect("external service");
    assert_eq!(external["spec"]["type"], "ExternalName");
    assert_eq!(
        external["spec"]["externalName"],
        "orders.c9akciq32.eu-west-1.rds.amazonaws.com"
    );
}

#[test]
fn an_external_name_that_takes_a_rendered_name_is_refused() {
    let mut spec = example("external-database");
    spec.spec.external_services[0].name = "orders-api".into();
    let err = render(&spec, &RenderContext::for_cli(&spec, "production", None)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("spec.externalServices[0].name: `orders-api` is also the name of this service's rendered"),
        "{text}"
    );
}

#[test]
fn blue_green_renders_two_colours_and_the_service_selects_the_active_one() {
    let spec = example("blue-green");
    let ctx = RenderContext::for_cli(
        &spec,
        "production",
        Some("registry.example.com/shop/checkout:5.3.0".into()),
    );
    let objects = render(&spec, &ctx).expect("renders").objects();
    let deployments: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0]["metadata"]["name"], "checkout-blue");
    assert_eq!(deployments[1]["metadata"]["name"], "checkout-green");
    let image =
        |d: &serde_json::Value| d["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(
        image(deployments[0]),
        "registry.example.com/shop/checkout:5.1.4",
        "blue is pinned"
    );
    assert_eq!(
        image(deployments[1]),
        "registry.example.com/shop/checkout:5.3.0",
        "green runs the deploy"
    );
    assert_eq!(deployments[1]["spec"]["replicas"], 2, "idle replicas");
    let service = objects
        .iter()
        .find(|o| o["kind"] == "Service")
        .expect("service");
    assert_eq!(service["spec"]["selector"]["slipway.dev/color"], "blue");
    // Each colour that runs two pods or more has a budget: the idle one too.
    let budgets: Vec<(String, String)> = objects
        .iter()
        .filter(|o| o["kind"] == "PodDisruptionBudget")
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o["spec"]["selector"]["matchLabels"]["slipway.dev/color"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        budgets,
        [
            ("checkout".to_owned(), "blue".to_owned()),
            ("checkout-idle".to_owned(), "green".to_owned())
        ]
    );
}

/// The app container of the first workload `spec` renders in production.
fn app_container(spec: &ServiceSpec) -> serde_json::Value {
    let ctx = RenderContext::for_cli(spec, "production", None);
    let objects = render(spec, &ctx).expect("renders").objects();
    let workload = objects
        .iter()
        .find(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        .expect("a workload");
    workload["spec"]["template"]["spec"]["containers"][0].clone()
}

#[test]
fn every_container_gets_ephemeral_storage_and_the_app_room_for_its_emptydirs() {
    let mut spec = example("flask");
    spec.spec.volumes.push(crate::spec::SharedVolume {
        name: "scratch".into(),
        mount_path: Some("/scratch".into()),
        size_limit: Some(crate::spec::Quantity::from("2Gi")),
        in_memory: None,
        config_map: None,
        secret: None,
    });
    spec.spec.volumes.push(crate::spec::SharedVolume {
        name: "fast".into(),
        mount_path: Some("/fast".into()),
        size_limit: Some(crate::spec::Quantity::from("1Gi")),
        in_memory: Some(true),
        config_map: None,
        secret: None,
    });
    let app = app_container(&spec);
    assert_eq!(app["resources"]["requests"]["ephemeral-storage"], "128Mi");
    // 512Mi of its own + /tmp's 256Mi + scratch's 2Gi; the in-memory volume is RAM.
    assert_eq!(app["resources"]["limits"]["ephemeral-storage"], "2816Mi");
    let django = example("django");
    let ctx = RenderContext::for_cli(&django, "production", None);
    let objects = render(&django, &ctx).expect("renders").objects();
    let pod = &objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("deployment")["spec"]["template"]["spec"];
    for c in pod["initContainers"].as_array().expect("init containers") {
        assert_eq!(
            c["resources"]["requests"]["ephemeral-storage"], "64Mi",
            "{c}"
        );
        assert_eq!(
            c["resources"]["limits"]["ephemeral-storage"], "256Mi",
            "{c}"
        );
    }
}

#[test]
fn ephemeral_storage_given_in_part_is_completed_without_a_limit_below_the_request() {
    let quantity = |s: &str| Some(crate::spec::Quantity::from(s));
    let mut spec = example("flask");
    let resources = spec.spec.resources.get_or_insert_with(Default::default);
    resources
        .requests
        .get_or_insert_with(Default::default)
        .ephemeral_storage = quantity("5Gi");
    let app = app_container(&spec);
    assert_eq!(app["resources"]["requests"]["ephemeral-storage"], "5Gi");
    assert_eq!(app["resources"]["limits"]["ephemeral-storage"], "5Gi");
    let mut spec = example("flask");
    let resources = spec.spec.resources.get_or_insert_with(Default::default);
    resources
        .limits
        .get_or_insert_with(Default::default)
        .ephemeral_storage = quantity("100Mi");
    let app = app_container(&spec);
    assert_eq!(app["resources"]["requests"]["ephemeral-storage"], "100Mi");
    assert_eq!(app["resources"]["limits"]["ephemeral-storage"], "100Mi");
}

#[test]
fn images_are_pulled_if_not_present_unless_the_spec_says_always() {
    let mut spec = example("django");
    assert_eq!(app_container(&spec)["imagePullPolicy"], "IfNotPresent");
    spec.spec.image_pull_policy = Some(crate::spec::PullPolicy::Always);
    let ctx = RenderContext::for_cli(&spec, "production", None);
    let objects = render(&spec, &ctx).expect("renders").objects();
    let pod = &objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("deployment")["spec"]["template"]["spec"];
    let containers = pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod["initContainers"].as_array())
        .flatten();
    for c in containers {
        assert_eq!(c["imagePullPolicy"], "Always", "{}", c["name"]);
    }
}

#[test]
fn a_cron_job_without_a_starting_deadline_gets_one() {
    let mut spec = example("cron");
    if let Some(cron) = spec.spec.cron.as_mut() {
        cron.starting_deadline_seconds = None;
    }
    let ctx = RenderContext::for_cli(&spec, "production", None);
    let objects = render(&spec, &ctx).expect("renders").objects();
    let job = objects
        .iter()
        .find(|o| o["kind"] == "CronJob")
        .expect("cron job");
    assert_eq!(
        job["spec"]["startingDeadlineSeconds"],
        crate::spec::defaults::CRON_STARTING_DEADLINE_SECONDS
    );
}

#[test]
fn the_deploy_image_replaces_the_spec_image_but_not_pinned_sidecars() {
    let spec = example("django");
    let ctx = RenderContext::for_cli(&spec, "staging", Some("registry.example.com/shop/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into()));
    let yaml = render(&spec, &ctx).expect("renders").to_yaml();
    assert!(!yaml.contains("registry.example.com/shop/web:1.4.2"));
    assert!(yaml.contains("fluent/fluent-bit:3.1.9"));
}

#[test]
fn placement_renders_the_node_selector_and_tolerations_as_written() {
    let text = format!(
        "{}\n  placement:\n    nodeSelector: {{slipway.dev/node: real}}\n    tolerations:\n      - {{key: slipway.dev/node, value: real, effect: NoSchedule}}\n      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 60}}\n",
        include_str!("../../../examples/flask.yaml").trim_end()
    );
    let spec = crate::spec::parse(&text).expect("valid spec");
    let objects = render(&spec, &golden_context(&spec, "development")).expect("renders");
    let yaml = objects.to_yaml();
    let deployment = yaml
        .split("\n---\n")
        .find(|doc| doc.contains("kind: Deployment"))
        .expect("a Deployment");
    for line in [
        "slipway.dev/node: real",
        "      tolerations:\n      - effect: NoSchedule\n        key: slipway.dev/node\n        value: real\n",
        "      - effect: NoExecute\n        key: node.kubernetes.io/unreachable\n        operator: Exists\n        tolerationSeconds: 60\n",
    ] {
        assert!(
            deployment.contains(line),
            "missing {line:?} in\n{deployment}"
        );
    }
}

#[test]
fn an_invalid_context_is_refused() {
    let spec = example("flask");
    for ctx in [
        RenderContext::new("Prod", "shop-prod", "shop"),
        RenderContext::new("production", "shop_prod", "shop"),
        RenderContext::new("production", "shop-prod", ""),
        RenderContext {
            image: Some("bad image".into()),
            ..RenderContext::new("production", "shop-prod", "shop")
        },
    ] {
        assert!(
            matches!(render(&spec, &ctx), Err(RenderError::InvalidContext(_))),
            "{ctx:?}"
        );
    }
}

#[test]
fn an_invalid_spec_built_in_code_is_refused_not_rendered() {
    let mut spec = example("flask");
    spec.spec.autoscaling = Some(crate::spec::Autoscaling {
        min_replicas: 5,
        max_replicas: 2,
        cpu: Some(70),
        memory: None,
        pods: Vec::new(),
        external: Vec::new(),
        scale_down: None,
    });
    assert!(matches!(
        render(
            &spec,
            &RenderContext::new("production", "shop-production", "shop")
        ),
        Err(RenderError::InvalidSpec(_))
    ));
}

#[test]
fn an_environment_the_spec_does_not_know_renders_the_base_spec() {
    let spec = example("flask");
    let manifests = render(&spec, &RenderContext::new("qa", "shop-qa", "shop")).expect("renders");
    assert!(
        manifests
            .iter()
            .any(|o| o.kind() == "HorizontalPodAutoscaler")
    );
}

#[test]
fn pods_and_external_metrics_render_as_hpa_v2_metrics() {
    let spec = crate::spec::parse(
        "apiVersion: slipway.dev/v1
kind: Service
metadata: {name: worker, team: shop}
spec:
  framework: celery
  appModule: shop
  image: registry.example.com/shop/web:1
  resources: {requests: {cpu: 100m, memory: 64Mi}}
  terminationGracePeriodSeconds: 300
  autoscaling:
    minReplicas: 2
    maxReplicas: 30
    pods: [{metric: tasks_in_progress, averageValue: \"4\"}]
    external:
      - {metric: celery_queue_length, selector: {queue: default}, averageValue: \"30\"}
      - {metric: backlog_seconds, value: \"120\"}
",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let manifests = render(
        &spec,
        &RenderContext::new("production", "shop-production", "shop"),
    )
    .unwrap();
    let objects = manifests.objects();
    let hpa = objects
        .iter()
        .find(|o| o["kind"] == "HorizontalPodAutoscaler")
        .expect("an autoscaler");
    let metrics = &hpa["spec"]["metrics"];
    assert_eq!(metrics[0]["type"], "Pods");
    assert_eq!(metrics[0]["pods"]["metric"]["name"], "tasks_in_progress");
    assert_eq!(
        metrics[0]["pods"]["target"],
        serde_json::json!({"type": "AverageValue", "averageValue": "4"})
    );
    assert_eq!(metrics[1]["type"], "External");
    assert_eq!(
        metrics[1]["external"]["metric"]["selector"]["matchLabels"]["queue"],
        "default"
    );
    assert_eq!(
        metrics[1]["external"]["target"],
        serde_json::json!({"type": "AverageValue", "averageValue": "30"})
    );
    assert_eq!(
        metrics[2]["external"]["target"],
        serde_json::json!({"type": "Value", "value": "120"})
    );
}
