//! Tenancy attacks on the local control plane, each of which must fail:
//! reserved and colliding namespace patterns, a foreign (unlabelled)
//! namespace, a service named after someone else's ServiceAccount (and the
//! plan of that deploy), an ExternalName taking a rendered name, a Secret
//! write onto a TLS Secret, a privileged pod in a namespace Slipway created;
//! and Slipway's own ServiceAccount: what `kubectl auth can-i --as` says it
//! may and may not do, and what the API server does when it tries.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{
    Container, Namespace, Pod, PodSpec, Secret, SecurityContext, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use slipway::cluster::apply::{self, Target};
use slipway::cluster::retry::RetryPolicy;
use slipway::cluster::wiring::{SecretKeyTarget, write_secret_key};
use slipway::deployer::DeployState;
use slipway::domain::environments::{PolicyInput, update_environment};
use slipway::plan::{DryRun, ObjectChange};
use slipway::secret::SecretString;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, SLIPWAY_USER, SpecBuilder, actor, apply_rbac, create_user, current_user,
    kube_client, managed_namespace, slipway_client, unique_team,
};

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

async fn admin_actor(pool: &PgPool) -> slipway::store::audit::Actor {
    create_user(pool, "root@example.com", true, &[]).await;
    actor(&current_user(pool, "root@example.com").await)
}

fn pattern(p: &str) -> PolicyInput {
    PolicyInput {
        namespace_pattern: p.into(),
        ..PolicyInput::default()
    }
}

// ---------------------------------------------------------------- patterns

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_namespace_pattern_naming_kube_system_or_a_reserved_namespace_is_refused(pool: PgPool) {
    let admin = admin_actor(&pool).await;
    for bad in ["kube-system", "kube-{team}", "default", "slipway"] {
        let err = update_environment(&pool, &admin, "staging", &pattern(bad))
            .await
            .unwrap_err();
        assert!(
            err.public_message().contains("namespace_pattern:")
                && err.public_message().contains("reserved"),
            "{bad}: {}",
            err.public_message()
        );
    }
    slipway::domain::tenancy::reserve(&pool, &admin, "monitoring", "the platform team's")
        .await
        .unwrap();
    let err = update_environment(&pool, &admin, "staging", &pattern("monitoring"))
        .await
        .unwrap_err();
    assert!(
        err.public_message()
            .contains("`monitoring`, which is reserved"),
        "{}",
        err.public_message()
    );
    let stored = slipway::store::environments::find_by_name(&pool, "staging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.namespace_pattern, "{team}-{environment}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn colliding_patterns_and_teams_are_refused_naming_the_other_pair(pool: PgPool) {
    let admin = admin_actor(&pool).await;
    let team = unique_team();
    create_user(&pool, "a@example.com", false, &[&team]).await;
    // A constant pattern gives every team the same namespace.
    let err = {
        create_user(&pool, "b@example.com", false, &[&unique_team()]).await;
        update_environment(&pool, &admin, "staging", &pattern("apps"))
            .await
            .unwrap_err()
    };
    assert!(
        err.public_message().contains("collides") && err.public_message().contains("`apps`"),
        "{}",
        err.public_message()
    );
    // shop + pre-production and shop-pre + production: the same name.
    slipway::domain::environments::create_environment(
        &pool,
        &admin,
        "pre-production",
        &pattern("{team}-{environment}"),
    )
    .await
    .unwrap();
    let err = slipway::domain::accounts::create_team(
        &pool,
        &admin,
        &slipway::domain::accounts::TeamInput {
            name: format!("{team}-pre"),
            display_name: String::new(),
        },
    )
    .await
    .unwrap_err();
    let message = err.public_message();
    assert!(
        message.contains(&format!("namespace `{team}-pre-production`"))
            && message.contains(&format!("team `{team}` in `pre-production`")),
        "{message}"
    );
    assert!(
        slipway::store::teams::find_by_name(&pool, &format!("{team}-pre"))
            .await
            .unwrap()
            .is_none()
    );
}

// ---------------------------------------------------------------- namespaces

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deploying_into_an_existing_unlabelled_namespace_is_refused(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let admin = kube_client().await;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    labels: Some(BTreeMap::from([("owner".into(), "platform".into())])),
                    ..meta(&t.ns(), None)
                },
                ..Namespace::default()
            },
        )
        .await
        .unwrap();
    let service = t.service(SpecBuilder::web("web")).await;
    let deploy = t.deploy(&service, "nginx:1.27").await;
    assert_eq!(deploy.state, DeployState::Failed, "{}", deploy.reason);
    assert!(
        deploy
            .reason
            .contains(&format!("namespace {} exists", t.ns()))
            && deploy.reason.contains("owner=platform"),
        "{}",
        deploy.reason
    );
    let deployments = Api::<Deployment>::namespaced(admin, &t.ns())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(deployments.items.is_empty());
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn created_namespaces_enforce_pod_security_restricted(pool: PgPool) {
    let team = unique_team();
    let ns = format!("{team}-staging");
    create_user(&pool, &format!("dev@{team}.io"), false, &[&team]).await;
    managed_namespace(&ns, &team, "staging").await;
    let admin = kube_client().await;
    let labels = Api::<Namespace>::all(admin.clone())
        .get(&ns)
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    for mode in ["enforce", "warn", "audit"] {
        assert_eq!(
            labels
                .get(&format!("pod-security.kubernetes.io/{mode}"))
                .map(String::as_str),
            Some("restricted"),
            "{labels:?}"
        );
    }
    assert_eq!(labels.get("slipway.dev/team"), Some(&team));
    let privileged = Pod {
        metadata: meta("root", Some(&ns)),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                security_context: Some(SecurityContext {
                    privileged: Some(true),
                    ..SecurityContext::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    let err = Api::<Pod>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &privileged)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("violates PodSecurity \"restricted"),
        "{err}"
    );
    let _ = Api::<Namespace>::all(admin)
        .delete(&ns, &Default::default())
        .await;
}

// ---------------------------------------------------------------- objects

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_service_named_after_a_foreign_service_account_is_refused_and_the_account_untouched(
    pool: PgPool,
) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    managed_namespace(&t.ns(), &t.team, "staging").await;
    let admin = kube_client().await;
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), &t.ns());
    let foreign = ServiceAccount {
        metadata: ObjectMeta {
            annotations: Some(BTreeMap::from([(
                "eks.amazonaws.com/role-arn".into(),
                "arn:aws:iam::1:role/ci-deployer-secret-role".into(),
            )])),
            ..meta("ci-deployer", Some(&t.ns()))
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    let before = accounts.get("ci-deployer").await.unwrap();

    let service = t.service(SpecBuilder::web("ci-deployer")).await;

    // The plan of such a deploy: the object is refused, nothing of it shown.
    let manifests = apply::parse_manifests(
        &slipway::render::render(
            &slipway::spec::parse(&SpecBuilder::web("ci-deployer").team(&t.team).to_yaml())
                .unwrap(),
            &slipway::render::RenderContext::new("staging", &t.ns(), &t.team),
        )
        .unwrap()
        .to_yaml(),
        &t.ns(),
    )
    .unwrap();
    let target = Target {
        deploy_id: 0,
        team: t.team.clone(),
        service: "ci-deployer".into(),
        environment: "staging".into(),
        namespace: t.ns(),
    };
    let plan = slipway::cluster::plan::dry_run(
        &slipway_client().await,
        &target,
        &manifests,
        RetryPolicy::default(),
    )
    .await
    .unwrap();
    let DryRun::Done { objects, .. } = &plan else {
        panic!("no plan: {plan:?}")
    };
    let sa = objects.iter().find(|o| o.kind == "ServiceAccount").unwrap();
    assert_eq!(sa.change, ObjectChange::Error);
    assert!(sa.diff.is_empty());
    assert!(
        sa.error
            .as_deref()
            .unwrap_or_default()
            .contains("is not Slipway's"),
        "{sa:?}"
    );
    let shown = format!("{plan:?}");
    assert!(!shown.contains("ci-deployer-secret-role"), "{shown}");

    let deploy = t.deploy(&service, "nginx:1.27").await;
    assert_eq!(deploy.state, DeployState::Failed, "{}", deploy.reason);
    assert!(
        deploy
            .reason
            .contains("ServiceAccount/ci-deployer exists and is not Slipway's"),
        "{}",
        deploy.reason
    );
    let after = accounts.get("ci-deployer").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.metadata.labels, before.metadata.labels);
    let stored: Option<String> = sqlx::query_scalar("select diff from deploys where id = $1")
        .bind(deploy.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        !stored
            .unwrap_or_default()
            .contains("ci-deployer-secret-role"),
        "the stored diff shows the foreign object"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn another_services_object_is_refused_and_field_managers_are_per_service(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let web = t.service(SpecBuilder::web("web")).await;
    let first = t.deploy_ok(&web, "nginx:1.27").await;
    let admin = kube_client().await;
    let deployment = Api::<Deployment>::namespaced(admin.clone(), &t.ns())
        .get("web")
        .await
        .unwrap();
    let managers: Vec<String> = deployment
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&format!("slipway/{}/web", t.team)),
        "{managers:?} (deploy #{})",
        first.id
    );
    // A sibling whose ExternalName takes web's Service name: refused at apply.
    let spec = format!(
        "{}  externalServices:\n    - name: web\n      externalName: evil.example.com\n",
        SpecBuilder::worker("api").team(&t.team).to_yaml()
    );
    let sibling = t.service_yaml(&spec).await;
    let deploy = t.deploy(&sibling, "nginx:1.27").await;
    assert_eq!(deploy.state, DeployState::Failed, "{}", deploy.reason);
    assert!(
        deploy.reason.contains(&format!(
            "Service/web exists and belongs to another Slipway service ({}/web)",
            t.team
        )),
        "{}",
        deploy.reason
    );
    let service = Api::<k8s_openapi::api::core::v1::Service>::namespaced(admin, &t.ns())
        .get("web")
        .await
        .unwrap();
    assert_ne!(
        service.spec.and_then(|s| s.type_).as_deref(),
        Some("ExternalName")
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn objects_applied_by_the_old_shared_manager_are_adopted_without_conflict(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let service = t.service(SpecBuilder::web("web")).await;
    // As a Slipway before per-service managers would have applied it.
    let manifests = apply::parse_manifests(
        &slipway::render::render(
            &slipway::spec::parse(&SpecBuilder::web("web").team(&t.team).to_yaml()).unwrap(),
            &slipway::render::RenderContext::new("staging", &t.ns(), &t.team),
        )
        .unwrap()
        .to_yaml(),
        &t.ns(),
    )
    .unwrap();
    managed_namespace(&t.ns(), &t.team, "staging").await;
    let sa = slipway_client().await;
    for m in &manifests {
        apply::apply_one(&sa, &t.ns(), m, "slipway", false, RetryPolicy::default())
            .await
            .unwrap();
    }
    let deploy = t.deploy_ok(&service, "nginx:1.28").await;
    let deployment = Api::<Deployment>::namespaced(kube_client().await, &t.ns())
        .get("web")
        .await
        .unwrap();
    let managers: Vec<String> = deployment
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.operation.as_deref() == Some("Apply"))
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(
        managers,
        [format!("slipway/{}/web", t.team)],
        "deploy #{}",
        deploy.id
    );
    t.finish().await;
}

// ---------------------------------------------------------------- secrets

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_secret_write_onto_a_foreign_tls_secret_is_refused(pool: PgPool) {
    let team = unique_team();
    let ns = format!("{team}-staging");
    create_user(&pool, &format!("dev@{team}.io"), false, &[&team]).await;
    managed_namespace(&ns, &team, "staging").await;
    let admin = kube_client().await;
    let secrets = Api::<Secret>::namespaced(admin.clone(), &ns);
    let tls = Secret {
        metadata: meta("web-tls", Some(&ns)),
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".into(), ByteString(b"cert".to_vec())),
            ("tls.key".into(), ByteString(b"key".to_vec())),
        ])),
        ..Secret::default()
    };
    secrets.create(&PostParams::default(), &tls).await.unwrap();
    let client = slipway_client().await;
    let value = SecretString::new("attacker");
    let target = |secret| SecretKeyTarget {
        namespace: &ns,
        team: &team,
        environment: "staging",
        secret,
        key: "tls.key",
    };
    let err = write_secret_key(&client, &target("web-tls"), &value, RetryPolicy::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("type kubernetes.io/tls")
            && err.to_string().contains("not written by Slipway"),
        "{err}"
    );
    let after = secrets.get("web-tls").await.unwrap();
    assert_eq!(
        after.data.unwrap()["tls.key"],
        ByteString(b"key".to_vec()),
        "the foreign Secret was changed"
    );
    // A new Secret is Slipway's, and Slipway may write it again.
    write_secret_key(&client, &target("db"), &value, RetryPolicy::none())
        .await
        .unwrap();
    write_secret_key(&client, &target("db"), &value, RetryPolicy::none())
        .await
        .unwrap();
    let _ = Api::<Namespace>::all(admin)
        .delete(&ns, &Default::default())
        .await;
}

// ---------------------------------------------------------------- Slipway's own rights

/// One `kubectl auth can-i` row: verb, group, resource, namespace, name, allowed.
type CanI<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

async fn can_i(
    admin: &kube::Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(SLIPWAY_USER.into()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:slipway".into(),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Api::<SubjectAccessReview>::all(admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .is_some_and(|s| s.allowed)
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn slipways_service_account_may_do_only_what_rbac_yaml_documents(pool: PgPool) {
    let admin = kube_client().await;
    apply_rbac(&admin).await;
    let team = unique_team();
    let managed = format!("{team}-staging");
    create_user(&pool, &format!("dev@{team}.io"), false, &[&team]).await;
    managed_namespace(&managed, &team, "staging").await;
    let m = Some(managed.as_str());
    // (verb, group, resource, namespace, name, allowed): `kubectl auth can-i --as`.
    let rows: [CanI<'_>; 30] = [
        ("list", "", "secrets", None, None, false),
        ("watch", "", "secrets", None, None, false),
        ("get", "", "secrets", Some("kube-system"), None, false),
        ("list", "", "secrets", m, None, false),
        ("get", "", "secrets", m, None, true),
        ("patch", "", "secrets", m, None, true),
        (
            "create",
            "apps",
            "deployments",
            Some("kube-system"),
            None,
            false,
        ),
        (
            "create",
            "apps",
            "deployments",
            Some("default"),
            None,
            false,
        ),
        ("create", "apps", "deployments", m, None, true),
        ("patch", "apps", "deployments", m, None, true),
        ("delete", "", "configmaps", m, None, true),
        (
            "create",
            "",
            "serviceaccounts",
            Some("kube-system"),
            None,
            false,
        ),
        ("patch", "", "namespaces", None, None, false),
        ("delete", "", "namespaces", None, None, false),
        ("create", "", "namespaces", None, None, true),
        ("list", "", "pods", None, None, true),
        ("watch", "policy", "poddisruptionbudgets", None, None, true),
        ("watch", "", "nodes", None, None, true),
        ("watch", "", "events", None, None, true),
        ("watch", "apps", "replicasets", None, None, true),
        ("watch", "batch", "jobs", None, None, true),
        ("create", "batch", "jobs", m, None, false),
        ("create", "", "events", m, None, false),
        ("patch", "", "nodes", None, None, false),
        ("get", "", "pods/log", m, None, true),
        ("get", "", "pods/log", Some("kube-system"), None, false),
        ("create", "", "pods", m, None, false),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            None,
            Some("slipway-tenant"),
            true,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            None,
            Some("cluster-admin"),
            false,
        ),
        (
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
            None,
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (verb, group, resource, namespace, name, allowed) in rows {
        let got = can_i(&admin, verb, group, resource, namespace, name).await;
        if got != allowed {
            wrong.push(format!(
                "{verb} {group}/{resource} in {namespace:?} {name:?}: allowed {got}, expected {allowed}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Real attempts as the ServiceAccount.
    let sa = slipway_client().await;
    let err = Api::<Secret>::all(sa.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forbidden"), "{err}");
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pwn", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let err = Api::<Deployment>::namespaced(sa.clone(), "kube-system")
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forbidden"), "{err}");
    let err = Api::<Namespace>::all(sa.clone())
        .patch(
            &managed,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "privileged"}}})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forbidden"), "{err}");
    // The admission backstop: an unlabelled namespace, and a binding in kube-system.
    let err = Api::<Namespace>::all(sa.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(&format!("{team}-unlabelled"), None),
                ..Namespace::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("slipway-managed-namespaces-only"),
        "{err}"
    );
    let binding: k8s_openapi::api::rbac::v1::RoleBinding =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "slipway-tenant", "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "slipway-tenant"},
            "subjects": [{"kind": "ServiceAccount", "name": "slipway", "namespace": "slipway"}]
        }))
        .unwrap();
    let err = Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(sa, "kube-system")
        .create(&PostParams::default(), &binding)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("slipway-managed-namespaces-only"),
        "{err}"
    );
    let _ = Api::<Namespace>::all(admin)
        .delete(&managed, &Default::default())
        .await;
}

// ---------------------------------------------------------------- quota

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_environments_quota_is_kept_in_its_namespaces_and_checked_at_request_time(pool: PgPool) {
    use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
    let admin = admin_actor(&pool).await;
    slipway::domain::quotas::set_quota(
        &pool,
        &admin,
        "staging",
        &slipway::domain::quotas::QuotaInput {
            requests_cpu: "2".into(),
            pods: "10".into(),
            max_cpu: "500m".into(),
            max_memory: "1Gi".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let greedy = t.service(SpecBuilder::web("greedy").cpu("2")).await;
    let user = current_user(&pool, &t.email).await;
    let err = crate::harness::try_request(
        &pool,
        &greedy,
        &actor(&user),
        slipway::deploy_model::Trigger::User,
        "staging",
        "nginx:1.27",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.public_message(),
        "spec.resources.requests.cpu: 2 is over staging's maximum of 500m per container"
    );
    let web = t.service(SpecBuilder::web("web")).await;
    t.deploy_ok(&web, "nginx:1.27").await;
    let kube = kube_client().await;
    let quota = Api::<ResourceQuota>::namespaced(kube.clone(), &t.ns())
        .get("slipway")
        .await
        .unwrap();
    let hard = quota.spec.unwrap().hard.unwrap();
    assert_eq!(hard["pods"].0, "10");
    assert_eq!(hard["requests.cpu"].0, "2");
    let limits = Api::<LimitRange>::namespaced(kube, &t.ns())
        .get("slipway")
        .await
        .unwrap();
    assert_eq!(
        limits.spec.unwrap().limits[0].max.as_ref().unwrap()["cpu"].0,
        "500m"
    );
    t.finish().await;
}
