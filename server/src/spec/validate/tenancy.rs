//! Tenancy rules: what a team may claim on the shared cluster beyond what any
//! spec may say. Grants live in the database (admins keep them), so the domain
//! loads them into a [`Grants`] value and calls [`check`]; this module stays
//! pure. The rules that need no grant (forbidden annotation keys, cluster-internal
//! ExternalName targets) are [`forbidden_annotation`] and [`internal_name`], which
//! the plain validator applies to every spec. `docs/exposure.md` explains them.

use regex::Regex;

use crate::spec::FieldError;
use crate::spec::model::{ServiceSpec, ServiceType};
use crate::spec::structure::join;

/// A domain suffix granted to a team: hosts equal to it or below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGrant {
    /// The suffix, e.g. `shop.example.com` (lower case, no leading dot).
    pub suffix: String,
    /// Whether `*.` hosts at or below the suffix are allowed too.
    pub wildcard: bool,
    /// The environment it is limited to; every environment when `None`.
    pub environment: Option<String>,
}

/// An exposure type granted to a team in one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposureGrant {
    /// `NodePort` or `LoadBalancer`.
    pub service_type: ServiceType,
    /// Whether fixed `nodePort` numbers may be chosen.
    pub fixed_node_ports: bool,
    /// The environment.
    pub environment: String,
}

/// One entry of the admin-kept Ingress annotation allow-list.
#[derive(Clone, Debug)]
pub struct AnnotationRule {
    /// The key, or the key prefix when `prefix`.
    pub key: String,
    /// Whether `key` is a prefix.
    pub prefix: bool,
    /// The value pattern as the admin wrote it (unanchored text).
    pub pattern_text: String,
    pattern: Regex,
}

/// The largest compiled value pattern: admins write short patterns; the limit
/// keeps a pathological one from costing memory on every validation.
const PATTERN_SIZE_LIMIT: usize = 64 * 1024;

impl AnnotationRule {
    /// A rule; `pattern` must match the whole value (it is anchored here).
    pub fn new(key: &str, prefix: bool, pattern: &str) -> Result<Self, String> {
        let anchored = format!("^(?:{pattern})$");
        let compiled = regex::RegexBuilder::new(&anchored)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("not a valid regular expression: {e}"))?;
        Ok(AnnotationRule {
            key: key.to_owned(),
            prefix,
            pattern_text: pattern.to_owned(),
            pattern: compiled,
        })
    }

    /// Whether the rule is about `key`.
    pub fn covers(&self, key: &str) -> bool {
        if self.prefix {
            key.starts_with(&self.key)
        } else {
            key == self.key
        }
    }

    /// Whether `value` is allowed (the whole value must match).
    pub fn allows(&self, value: &str) -> bool {
        self.pattern.is_match(value)
    }
}

/// A (host, path) that another service holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The host.
    pub host: String,
    /// The path.
    pub path: String,
    /// `team/service` of the holder.
    pub owner: String,
    /// The environment it was claimed for.
    pub environment: String,
}

/// What a team may use, as the database says: host and exposure grants, the
/// annotation allow-list, internal zones, and the claims of other services.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// The team's host grants (all environments).
    pub hosts: Vec<HostGrant>,
    /// The team's exposure grants (all environments).
    pub exposure: Vec<ExposureGrant>,
    /// The annotation allow-list.
    pub annotations: Vec<AnnotationRule>,
    /// Admin-listed internal DNS zones ExternalName may not point into.
    pub internal_zones: Vec<String>,
    /// (host, path) pairs other services hold.
    pub claims: Vec<Claim>,
}

/// Which environment a check is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Saving a revision: each value must be allowed in some environment the
    /// service could deploy to (an override's hosts in that environment).
    AnyEnvironment,
    /// Requesting a deploy to this environment.
    Environment(&'a str),
}

impl Scope<'_> {
    fn applies(&self, environment: Option<&str>) -> bool {
        match (self, environment) {
            (_, None) | (Scope::AnyEnvironment, _) => true,
            (Scope::Environment(want), Some(have)) => *want == have,
        }
    }
}

/// The Ingress hosts a deploy in `scope` serves, with the path of the list in
/// the spec and the environment whose grants apply (`None`: any).
pub fn hosts_in<'a>(
    spec: &'a ServiceSpec,
    scope: Scope<'_>,
) -> Vec<(String, &'a [String], Option<&'a str>)> {
    let Some(ingress) = &spec.spec.ingress else {
        return Vec::new();
    };
    let base = ("spec.ingress.hosts".to_owned(), ingress.hosts.as_slice());
    match scope {
        Scope::Environment(env) => match spec.spec.environments.get_key_value(env) {
            Some((name, o)) if !o.hosts.is_empty() => vec![(
                join(&join("spec.environments", name), "hosts"),
                o.hosts.as_slice(),
                Some(name.as_str()),
            )],
            _ => vec![(base.0, base.1, None)],
        },
        Scope::AnyEnvironment => {
            let mut out = vec![(base.0, base.1, None)];
            for (name, o) in &spec.spec.environments {
                if !o.hosts.is_empty() {
                    out.push((
                        join(&join("spec.environments", name), "hosts"),
                        o.hosts.as_slice(),
                        Some(name.as_str()),
                    ));
                }
            }
            out
        }
    }
}

/// The paths an Ingress routes (`/` when none are listed).
pub fn paths_of(spec: &ServiceSpec) -> Vec<String> {
    match &spec.spec.ingress {
        Some(ingress) if !ingress.paths.is_empty() => {
            ingress.paths.iter().map(|p| p.path.clone()).collect()
        }
        Some(_) => vec!["/".to_owned()],
        None => Vec::new(),
    }
}

/// Whether `name` is `suffix` or below it.
fn under(name: &str, suffix: &str) -> bool {
    name == suffix
        || (name.len() > suffix.len()
            && name.ends_with(suffix)
            && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

/// Why `host` may not be used under `grants` in `scope` (for an override, in
/// `environment`), or `Ok`.
pub fn host_allowed(
    host: &str,
    grants: &[HostGrant],
    scope: Scope<'_>,
    environment: Option<&str>,
) -> Result<(), String> {
    let host = host.to_ascii_lowercase();
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host.as_str()),
    };
    let applicable: Vec<&HostGrant> = grants
        .iter()
        .filter(|g| scope.applies(g.environment.as_deref()))
        .filter(|g| match (environment, &g.environment) {
            (Some(env), Some(granted)) => env == granted,
            _ => true,
        })
        .collect();
    let matching: Vec<&&HostGrant> = applicable
        .iter()
        .filter(|g| under(name, &g.suffix))
        .collect();
    let where_ = match (scope, environment) {
        (Scope::Environment(env), _) | (_, Some(env)) => format!(" in {env}"),
        _ => String::new(),
    };
    if matching.is_empty() {
        let mut granted: Vec<&str> = applicable.iter().map(|g| g.suffix.as_str()).collect();
        granted.sort_unstable();
        granted.dedup();
        return Err(if granted.is_empty() {
            format!(
                "`{host}` is not under a domain granted to this team{where_}; no domains are granted (an administrator grants them under Administration → Tenancy)"
            )
        } else {
            format!(
                "`{host}` is not under a domain granted to this team{where_} (granted: {})",
                granted.join(", ")
            )
        });
    }
    if wildcard && !matching.iter().any(|g| g.wildcard) {
        return Err(format!(
            "`{host}` is a wildcard host; it needs a wildcard grant of its domain{where_}, and the grant of `{}` is not one",
            matching[0].suffix
        ));
    }
    Ok(())
}

/// Every problem of `spec` against `grants` in `scope`, at the path of the field.
pub fn check(spec: &ServiceSpec, grants: &Grants, scope: Scope<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    hosts(spec, grants, scope, &mut errors);
    annotations(spec, grants, &mut errors);
    exposure(spec, grants, scope, &mut errors);
    for (i, external) in spec.spec.external_services.iter().enumerate() {
        let name = external
            .external_name
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if let Some(zone) = grants.internal_zones.iter().find(|z| under(&name, z)) {
            errors.push(FieldError::new(
                format!("spec.externalServices[{i}].externalName"),
                format!(
                    "`{}` is inside `{zone}`, which an administrator listed as an internal zone",
                    external.external_name
                ),
            ));
        }
    }
    errors
}

fn hosts(spec: &ServiceSpec, grants: &Grants, scope: Scope<'_>, errors: &mut Vec<FieldError>) {
    let paths = paths_of(spec);
    for (at, list, environment) in hosts_in(spec, scope) {
        for (i, host) in list.iter().enumerate() {
            let path = format!("{at}[{i}]");
            if let Err(message) = host_allowed(host, &grants.hosts, scope, environment) {
                errors.push(FieldError::new(path, message));
                continue;
            }
            let host = host.to_ascii_lowercase();
            for p in &paths {
                if let Some(claim) = grants
                    .claims
                    .iter()
                    .find(|c| c.host == host && &c.path == p)
                {
                    errors.push(FieldError::new(
                        path.clone(),
                        format!(
                            "`{host}{p}` is already claimed by {} ({}); a host and path belong to one service",
                            claim.owner, claim.environment
                        ),
                    ));
                }
            }
        }
    }
}

fn annotations(spec: &ServiceSpec, grants: &Grants, errors: &mut Vec<FieldError>) {
    let Some(ingress) = &spec.spec.ingress else {
        return;
    };
    for (key, value) in &ingress.annotations {
        // The plain validator refuses these whatever the allow-list says.
        if forbidden_annotation(key).is_some() {
            continue;
        }
        let path = join("spec.ingress.annotations", key);
        let rule = grants
            .annotations
            .iter()
            .filter(|r| r.covers(key))
            // An exact rule wins over prefixes; a longer prefix over a shorter one.
            .max_by_key(|r| (!r.prefix, r.key.len()));
        match rule {
            None => errors.push(FieldError::new(
                path,
                format!(
                    "`{key}` is not on the Ingress annotation allow-list (an administrator adds keys under Administration → Tenancy)"
                ),
            )),
            Some(rule) if !rule.allows(value) => errors.push(FieldError::new(
                path,
                format!(
                    "`{value}` is not an allowed value of `{key}` (allowed: `{}`)",
                    rule.pattern_text
                ),
            )),
            Some(_) => {}
        }
    }
}

fn exposure(spec: &ServiceSpec, grants: &Grants, scope: Scope<'_>, errors: &mut Vec<FieldError>) {
    let Some(service) = &spec.spec.service else {
        return;
    };
    let kind = service.type_.unwrap_or(ServiceType::ClusterIP);
    if kind == ServiceType::ClusterIP {
        return;
    }
    let granted: Vec<&ExposureGrant> = grants
        .exposure
        .iter()
        .filter(|g| g.service_type == kind && scope.applies(Some(&g.environment)))
        .collect();
    let where_ = match scope {
        Scope::Environment(env) => format!("in {env}"),
        Scope::AnyEnvironment => "in any environment".to_owned(),
    };
    if granted.is_empty() {
        errors.push(FieldError::new(
            "spec.service.type",
            format!(
                "`{}` exposes the service outside the cluster and needs an administrator's exposure grant for this team {where_}; use ClusterIP with an Ingress",
                kind.as_str()
            ),
        ));
        return;
    }
    if !granted.iter().any(|g| g.fixed_node_ports) {
        for (i, port) in service.ports.iter().enumerate() {
            if port.node_port.is_some() {
                errors.push(FieldError::new(
                    format!("spec.service.ports[{i}].nodePort"),
                    format!(
                        "a fixed node port needs an exposure grant with fixed node ports {where_}; leave it out and Kubernetes picks one"
                    ),
                ));
            }
        }
    }
}

/// Why an Ingress annotation key may never come from a spec, or `None`. Keys
/// are compared in lower case; the name is the part after the last `/`.
pub fn forbidden_annotation(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (prefix, name),
        None => ("", key.as_str()),
    };
    let in_domain = |domain: &str| prefix == domain || prefix.ends_with(&format!(".{domain}"));
    if in_domain("cert-manager.io") {
        return Some("cert-manager annotations come from spec.ingress.tls only");
    }
    if in_domain("slipway.dev") {
        return Some("slipway.dev annotations are Slipway's own");
    }
    if key.contains("snippet") {
        return Some("snippet annotations inject configuration into the shared ingress controller");
    }
    if key.contains("auth-") || name.contains("global-auth") || name.ends_with("-auth") {
        return Some(
            "authentication annotations (auth-url, auth-signin, …) make the ingress controller call other addresses",
        );
    }
    if name.starts_with("group.") || name == "scheme" || name.ends_with("-scheme") {
        return Some(
            "load balancer group and scheme annotations change listeners other teams share",
        );
    }
    if name == "server-alias" || name.starts_with("mirror-") {
        return Some(
            "server-alias and mirror annotations route hosts or traffic outside the granted hosts",
        );
    }
    None
}

/// Why `name` (an ExternalName target) points inside the cluster or its host,
/// or `None`. Admin-listed zones are checked by [`check`].
pub fn internal_name(name: &str) -> Option<String> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower.parse::<std::net::IpAddr>().is_ok() {
        return Some("an IP address".to_owned());
    }
    for zone in [
        "svc",
        "cluster.local",
        "local",
        "localhost",
        "localdomain",
        "internal",
    ] {
        if under(&lower, zone) {
            return Some(format!(
                "inside `{zone}`, which is cluster- or host-internal"
            ));
        }
    }
    let last = lower.rsplit('.').next().unwrap_or_default();
    // No public top-level domain has a digit or a dash (punycode `xn--` aside);
    // a last label like `shop-production` is a namespace, which the cluster's
    // DNS search path would resolve as `…​.shop-production.svc.cluster.local`.
    let tld_like = last.starts_with("xn--")
        || (!last.is_empty() && last.chars().all(|c| c.is_ascii_lowercase()));
    if !tld_like {
        return Some(format!(
            "`{last}` is not a public top-level domain; the cluster's DNS search path could resolve it to a Service"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_spec: &str) -> ServiceSpec {
        crate::spec::parse(&format!(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {{name: api, team: shop}}\nspec:\n  image: registry.example.com/api:1.0\n  ports: [{{name: http, port: 8000}}]\n{yaml_spec}"
        ))
        .expect("valid spec")
    }

    fn grant(suffix: &str, wildcard: bool, environment: Option<&str>) -> HostGrant {
        HostGrant {
            suffix: suffix.into(),
            wildcard,
            environment: environment.map(Into::into),
        }
    }

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn a_host_under_a_granted_suffix_is_allowed() {
        let grants = [grant("shop.example.com", false, None)];
        for host in ["shop.example.com", "api.shop.example.com"] {
            assert_eq!(
                host_allowed(host, &grants, Scope::AnyEnvironment, None),
                Ok(())
            );
        }
    }

    #[test]
    fn a_host_outside_the_grant_is_refused_naming_the_grants() {
        let grants = [grant("shop.example.com", false, None)];
        for host in [
            "evilshop.example.com",
            "example.com",
            "shop.example.com.evil.io",
        ] {
            let why = host_allowed(host, &grants, Scope::AnyEnvironment, None).unwrap_err();
            assert!(why.contains("granted: shop.example.com"), "{why}");
        }
    }

    #[test]
    fn a_wildcard_host_needs_a_wildcard_grant() {
        let plain = [grant("example.com", false, None)];
        assert!(host_allowed("*.example.com", &plain, Scope::AnyEnvironment, None).is_err());
        let wild = [grant("example.com", true, None)];
        assert_eq!(
            host_allowed("*.example.com", &wild, Scope::AnyEnvironment, None),
            Ok(())
        );
    }

    #[test]
    fn a_grant_for_one_environment_allows_nothing_in_another() {
        let grants = [grant("shop.example.com", false, Some("production"))];
        let env = Scope::Environment("development");
        assert!(host_allowed("shop.example.com", &grants, env, None).is_err());
        let prod = Scope::Environment("production");
        assert_eq!(
            host_allowed("shop.example.com", &grants, prod, None),
            Ok(())
        );
        // Saving: allowed, because production could serve it.
        assert_eq!(
            host_allowed("shop.example.com", &grants, Scope::AnyEnvironment, None),
            Ok(())
        );
    }

    #[test]
    fn an_override_host_is_checked_against_its_environment_grants() {
        let s = spec(
            "  ingress: {hosts: [shop.example.com]}\n  environments:\n    development: {hosts: [shop.dev.example.com]}\n",
        );
        let grants = Grants {
            hosts: vec![grant("example.com", false, Some("production"))],
            ..Grants::default()
        };
        let errors = check(&s, &grants, Scope::AnyEnvironment);
        assert_eq!(paths(&errors), ["spec.environments.development.hosts[0]"]);
        let errors = check(&s, &grants, Scope::Environment("production"));
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_host_and_path_another_service_claims_is_refused_naming_the_owner() {
        let s = spec("  ingress: {hosts: [shop.example.com], paths: [{path: /login}]}\n");
        let grants = Grants {
            hosts: vec![grant("example.com", false, None)],
            claims: vec![Claim {
                host: "shop.example.com".into(),
                path: "/login".into(),
                owner: "shop/web".into(),
                environment: "production".into(),
            }],
            ..Grants::default()
        };
        let errors = check(&s, &grants, Scope::Environment("development"));
        assert_eq!(paths(&errors), ["spec.ingress.hosts[0]"]);
        assert!(errors[0].message.contains("shop/web"), "{errors:?}");
    }

    #[test]
    fn forbidden_annotations_are_recognised() {
        for key in [
            "cert-manager.io/cluster-issuer",
            "acme.cert-manager.io/http01-edit-in-place",
            "slipway.dev/revision",
            "nginx.ingress.kubernetes.io/configuration-snippet",
            "nginx.ingress.kubernetes.io/server-snippet",
            "nginx.ingress.kubernetes.io/auth-url",
            "nginx.ingress.kubernetes.io/auth-signin",
            "nginx.ingress.kubernetes.io/enable-global-auth",
            "alb.ingress.kubernetes.io/auth-type",
            "alb.ingress.kubernetes.io/group.name",
            "alb.ingress.kubernetes.io/group.order",
            "alb.ingress.kubernetes.io/scheme",
            "nginx.ingress.kubernetes.io/server-alias",
            "nginx.ingress.kubernetes.io/mirror-target",
        ] {
            assert!(forbidden_annotation(key).is_some(), "{key}");
        }
        for key in [
            "nginx.ingress.kubernetes.io/proxy-body-size",
            "nginx.ingress.kubernetes.io/ssl-redirect",
            "alb.ingress.kubernetes.io/target-type",
        ] {
            assert_eq!(forbidden_annotation(key), None, "{key}");
        }
    }

    #[test]
    fn annotations_follow_the_allow_list_with_anchored_values() {
        let s = spec(
            "  ingress:\n    hosts: [shop.example.com]\n    annotations:\n      nginx.ingress.kubernetes.io/proxy-body-size: 8m\n      nginx.ingress.kubernetes.io/ssl-redirect: 'true; evil'\n      example.com/unknown: x\n",
        );
        let grants = Grants {
            hosts: vec![grant("example.com", false, None)],
            annotations: vec![
                AnnotationRule::new(
                    "nginx.ingress.kubernetes.io/proxy-body-size",
                    false,
                    "[0-9]+m",
                )
                .unwrap(),
                AnnotationRule::new("nginx.ingress.kubernetes.io/", true, "true|false").unwrap(),
            ],
            ..Grants::default()
        };
        let errors = check(&s, &grants, Scope::AnyEnvironment);
        assert_eq!(
            paths(&errors),
            [
                "spec.ingress.annotations[\"example.com/unknown\"]",
                "spec.ingress.annotations[\"nginx.ingress.kubernetes.io/ssl-redirect\"]",
            ]
        );
    }

    #[test]
    fn load_balancer_and_fixed_node_ports_need_grants() {
        let s = spec(
            "  service: {type: LoadBalancer, ports: [{port: 80, targetPort: http, nodePort: 30080}]}\n",
        );
        let none = Grants::default();
        assert_eq!(
            paths(&check(&s, &none, Scope::Environment("development"))),
            ["spec.service.type"]
        );
        let granted = Grants {
            exposure: vec![ExposureGrant {
                service_type: ServiceType::LoadBalancer,
                fixed_node_ports: false,
                environment: "development".into(),
            }],
            ..Grants::default()
        };
        assert_eq!(
            paths(&check(&s, &granted, Scope::Environment("development"))),
            ["spec.service.ports[0].nodePort"]
        );
        assert_eq!(
            paths(&check(&s, &granted, Scope::Environment("production"))),
            ["spec.service.type"]
        );
    }

    #[test]
    fn cluster_internal_external_names_are_recognised() {
        for name in [
            "kubernetes.default.svc.cluster.local",
            "kubernetes.default.svc",
            "admin.teamb-production",
            "db-0.db.shop-production",
            "metadata.google.internal",
            "ip-10-0-0-1.ec2.internal",
            "localhost",
            "printer.local",
            "127.0.0.1",
            "0x7f.0.0.1",
        ] {
            assert!(internal_name(name).is_some(), "{name}");
        }
        for name in [
            "orders.abc123.eu-west-1.rds.amazonaws.com",
            "api.stripe.com",
        ] {
            assert_eq!(internal_name(name), None, "{name}");
        }
    }

    #[test]
    fn admin_listed_internal_zones_are_refused() {
        let s =
            spec("  externalServices: [{name: billing, externalName: billing.corp.example.com}]\n");
        let grants = Grants {
            internal_zones: vec!["corp.example.com".into()],
            ..Grants::default()
        };
        assert_eq!(
            paths(&check(&s, &grants, Scope::AnyEnvironment)),
            ["spec.externalServices[0].externalName"]
        );
    }
}
