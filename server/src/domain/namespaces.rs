//! The one rule for where a service lives: an environment's namespace pattern
//! with `{team}`, `{environment}` and `{service}` filled in. Pure. The deployer,
//! the portal's previews, the API's render and check previews, the wiring and
//! secrets pages and `slipway run`'s demo namespaces all resolve through here, so
//! they can never show different namespaces for one service; none of them
//! invents a namespace when the pattern gives no valid one.

use crate::error::AppError;
use crate::spec::names;
use crate::store::environments::Environment;

/// The placeholders a namespace pattern may use.
pub const PLACEHOLDERS: [&str; 3] = ["{team}", "{environment}", "{service}"];

/// Why a pattern gives no namespace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceError {
    /// The pattern is blank.
    #[error("must not be empty")]
    Empty,
    /// The pattern names a placeholder Slipway does not know.
    #[error("`{pattern}` has an unknown placeholder; use {{team}}, {{environment}}, {{service}}")]
    UnknownPlaceholder {
        /// The pattern as written.
        pattern: String,
    },
    /// Filled in, the pattern is not a DNS-1123 label (too long, bad characters).
    #[error("gives `{namespace}`, which {why}")]
    InvalidName {
        /// What the pattern gave.
        namespace: String,
        /// What is wrong with it.
        why: String,
    },
    /// Filled in, the pattern names a namespace no team may have.
    #[error("gives `{namespace}`, which is reserved ({why})")]
    Reserved {
        /// What the pattern gave.
        namespace: String,
        /// Which rule reserves it.
        why: String,
    },
}

/// Why `namespace` may not be a team's, or `None` when it may: the built-in
/// rule (`default`, `kube-*`: the cluster's own) and the reserved list (which
/// holds Slipway's own namespace and what administrators added).
pub fn reserved_reason(namespace: &str, reserved: &[String]) -> Option<String> {
    if namespace == "default" {
        return Some("the cluster's default namespace".into());
    }
    if namespace.starts_with("kube-") {
        return Some("`kube-*` namespaces belong to the cluster".into());
    }
    reserved
        .iter()
        .any(|r| r == namespace)
        .then(|| "on the reserved list".into())
}

/// [`reserved_reason`] as an error.
pub fn check_not_reserved(namespace: &str, reserved: &[String]) -> Result<(), NamespaceError> {
    match reserved_reason(namespace, reserved) {
        Some(why) => Err(NamespaceError::Reserved {
            namespace: namespace.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// The service name used when checking a pattern with `{service}` for
/// collisions: pairs are compared for one service name, and deploys of other
/// services are held to the registry when they first resolve their namespace.
pub const SAMPLE_SERVICE: &str = "web";

/// Two (team, environment) pairs that would share a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collision {
    /// The namespace both would get.
    pub namespace: String,
    /// The pair being saved (team, environment).
    pub pair: (String, String),
    /// The pair that has or would get it already (team, environment).
    pub other: (String, String),
    /// True when `other` owns it in the registry (it was deployed to).
    pub registered: bool,
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "team `{}` in `{}` would get namespace `{}`, which {} team `{}` in `{}`",
            self.pair.0,
            self.pair.1,
            self.namespace,
            if self.registered {
                "already belongs to"
            } else {
                "is also what the patterns give"
            },
            self.other.0,
            self.other.1
        )
    }
}

/// The first collision between the namespaces that `environments` (name,
/// pattern) give `teams`, and against `registry` (namespace, team,
/// environment). Only collisions involving a pair in `changed` (a new or
/// edited environment, a new team) are reported, so an old collision does not
/// block unrelated edits — it cannot exist anyway once every save is checked.
/// Pure.
pub fn find_collision(
    environments: &[(String, String)],
    teams: &[String],
    registry: &[(String, String, String)],
    changed: impl Fn(&str, &str) -> bool,
) -> Option<Collision> {
    let mut seen: std::collections::BTreeMap<String, (String, String)> = registry
        .iter()
        .map(|(ns, t, e)| (ns.clone(), (t.clone(), e.clone())))
        .collect();
    let registered: std::collections::BTreeSet<String> =
        registry.iter().map(|(ns, _, _)| ns.clone()).collect();
    // Changed pairs last, so a collision is reported from their side.
    let mut pairs: Vec<(&str, &str, &str)> = Vec::new();
    for (environment, pattern) in environments {
        for team in teams {
            pairs.push((team, environment, pattern));
        }
    }
    pairs.sort_by_key(|(t, e, _)| changed(t, e));
    for (team, environment, pattern) in pairs {
        let Ok(namespace) = namespace_for(pattern, team, environment, SAMPLE_SERVICE) else {
            continue;
        };
        let pair = (team.to_owned(), environment.to_owned());
        match seen.get(&namespace) {
            Some(other) if *other != pair => {
                if changed(team, environment) || changed(&other.0, &other.1) {
                    return Some(Collision {
                        registered: registered.contains(&namespace),
                        namespace,
                        pair,
                        other: other.clone(),
                    });
                }
            }
            Some(_) => {}
            None => {
                seen.insert(namespace, pair);
            }
        }
    }
    None
}

/// The namespace `pattern` gives for `service` of `team` in `environment`.
pub fn namespace_for(
    pattern: &str,
    team: &str,
    environment: &str,
    service: &str,
) -> Result<String, NamespaceError> {
    if pattern.trim().is_empty() {
        return Err(NamespaceError::Empty);
    }
    let namespace = pattern
        .replace("{team}", team)
        .replace("{environment}", environment)
        .replace("{service}", service);
    if namespace.contains(['{', '}']) {
        return Err(NamespaceError::UnknownPlaceholder {
            pattern: pattern.to_owned(),
        });
    }
    names::dns_label(&namespace).map_err(|why| NamespaceError::InvalidName {
        namespace: namespace.clone(),
        why,
    })?;
    Ok(namespace)
}

/// Checks a pattern an administrator types: known placeholders only, and a
/// DNS-1123 label for ordinary names (a service whose names make it too long
/// is refused when it deploys, with the same message).
pub fn check_pattern(pattern: &str) -> Result<(), NamespaceError> {
    namespace_for(pattern, "shop", "staging", "web").map(|_| ())
}

/// The namespace of a service in one environment.
pub fn namespace_in(
    environment: &Environment,
    team: &str,
    service: &str,
) -> Result<String, NamespaceError> {
    namespace_for(
        &environment.namespace_pattern,
        team,
        &environment.name,
        service,
    )
}

/// One environment a service can be shown or deployed in, with its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Environment name.
    pub environment: String,
    /// Whether the environment applies production rules to the checklist.
    pub production_rules: bool,
    /// The cluster the environment targets.
    pub cluster: String,
    /// The namespace, or why the pattern gives none for this service.
    pub namespace: Result<String, NamespaceError>,
}

impl Target {
    /// The namespace, or a field error on `environment` saying why there is none.
    pub fn namespace(&self) -> Result<&str, AppError> {
        self.namespace.as_deref().map_err(|why| {
            AppError::invalid(
                "environment",
                format!("the namespace pattern of {} {why}", self.environment),
            )
        })
    }
}

/// Every environment of a service, in the environments' listing order.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    list: Vec<Target>,
}

impl Targets {
    /// The targets of `team/service` over `environments` (pure).
    pub fn of(environments: &[Environment], team: &str, service: &str) -> Self {
        let list = environments
            .iter()
            .map(|e| Target {
                environment: e.name.clone(),
                production_rules: e.production_rules,
                cluster: e.cluster.clone(),
                namespace: namespace_in(e, team, service),
            })
            .collect();
        Self { list }
    }

    /// Environment names, in order.
    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|t| t.environment.clone()).collect()
    }

    /// What a page shows when nothing (or an unknown name) is asked for: the
    /// asked-for environment, else the first with production rules, else the
    /// first. `None` only when there are no environments at all.
    pub fn pick(&self, asked: Option<&str>) -> Option<&Target> {
        asked
            .and_then(|name| self.list.iter().find(|t| t.environment == name))
            .or_else(|| self.list.iter().find(|t| t.production_rules))
            .or_else(|| self.list.first())
    }

    /// Like [`Self::pick`], for callers that act on the answer (the API, the
    /// wiring and secrets pages): an asked-for environment that does not exist is
    /// a field error on `environment`, and so is having none to pick.
    pub fn resolve(&self, asked: Option<&str>) -> Result<&Target, AppError> {
        if let Some(asked) = asked
            && !self.list.iter().any(|t| t.environment == asked)
        {
            return Err(AppError::invalid(
                "environment",
                format!("unknown environment `{asked}`"),
            ));
        }
        self.pick(asked)
            .ok_or_else(|| AppError::invalid("environment", "no environments are configured"))
    }

    /// [`Self::resolve`] of a required environment, with its namespace.
    pub fn require(&self, asked: Option<&str>) -> Result<(&Target, &str), AppError> {
        let asked = asked
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| AppError::invalid("environment", "required"))?;
        let target = self.resolve(Some(asked))?;
        Ok((target, target.namespace()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(name: &str, pattern: &str, production_rules: bool) -> Environment {
        Environment {
            id: 1,
            name: name.into(),
            position: 0,
            namespace_pattern: pattern.into(),
            approvals_required: 0,
            approver_teams: Vec::new(),
            approval_ttl_hours: 72,
            require_image_digest: false,
            checklist_must_pass: false,
            freeze_action: "hold".into(),
            block_on_missing_secrets: false,
            production_rules,
            webhook_refs: Vec::new(),
            cluster: "default".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn cluster_and_listed_namespaces_are_reserved() {
        let listed = s(&["slipway", "monitoring"]);
        assert!(check_not_reserved("kube-system", &listed).is_err());
        assert!(check_not_reserved("kube-public", &listed).is_err());
        assert!(check_not_reserved("default", &listed).is_err());
        let err = check_not_reserved("monitoring", &listed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gives `monitoring`, which is reserved (on the reserved list)"
        );
        assert!(check_not_reserved("shop-staging", &listed).is_ok());
        assert!(check_not_reserved("kubeflow", &listed).is_ok());
    }

    #[test]
    fn hyphen_ambiguity_between_two_pairs_is_a_collision() {
        let envs = vec![
            (
                "pre-production".to_owned(),
                "{team}-{environment}".to_owned(),
            ),
            ("production".to_owned(), "{team}-{environment}".to_owned()),
        ];
        let teams = s(&["shop", "shop-pre"]);
        let c = find_collision(&envs, &teams, &[], |t, _| t == "shop-pre").unwrap();
        assert_eq!(c.namespace, "shop-pre-production");
        assert_eq!(c.pair, ("shop-pre".into(), "production".into()));
        assert_eq!(c.other, ("shop".into(), "pre-production".into()));
        assert!(
            c.to_string().contains("team `shop` in `pre-production`"),
            "{c}"
        );
    }

    #[test]
    fn a_constant_pattern_collides_once_there_are_two_teams() {
        let envs = vec![("staging".to_owned(), "apps".to_owned())];
        assert_eq!(find_collision(&envs, &s(&["shop"]), &[], |_, _| true), None);
        assert!(find_collision(&envs, &s(&["shop", "blog"]), &[], |_, _| true).is_some());
    }

    #[test]
    fn a_pattern_giving_a_registered_namespace_of_another_pair_collides() {
        let envs = vec![("qa".to_owned(), "{team}-staging".to_owned())];
        let registry = vec![("shop-staging".into(), "shop".into(), "staging".into())];
        let c = find_collision(&envs, &s(&["shop"]), &registry, |_, e| e == "qa").unwrap();
        assert!(c.registered);
        assert!(
            c.to_string()
                .contains("already belongs to team `shop` in `staging`"),
            "{c}"
        );
        // Its own registered namespace is no collision.
        let own = vec![("shop-qa".into(), "shop".into(), "qa".into())];
        let envs = vec![("qa".to_owned(), "{team}-{environment}".to_owned())];
        assert_eq!(
            find_collision(&envs, &s(&["shop"]), &own, |_, _| true),
            None
        );
    }

    #[test]
    fn distinct_pairs_with_distinct_namespaces_do_not_collide() {
        let envs = vec![
            ("staging".to_owned(), "{team}-{environment}".to_owned()),
            ("production".to_owned(), "{team}-{environment}".to_owned()),
        ];
        assert_eq!(
            find_collision(&envs, &s(&["shop", "blog"]), &[], |_, _| true),
            None
        );
    }

    #[test]
    fn the_default_pattern_gives_team_dash_environment() {
        assert_eq!(
            namespace_for("{team}-{environment}", "shop", "staging", "web").unwrap(),
            "shop-staging"
        );
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let err = namespace_for("{team}-{env}", "shop", "staging", "web").unwrap_err();
        assert!(err.to_string().contains("unknown placeholder"), "{err}");
    }

    #[test]
    fn a_pattern_giving_an_invalid_name_is_refused() {
        assert!(check_pattern("{team}_{environment}").is_err());
        assert_eq!(check_pattern(""), Err(NamespaceError::Empty));
        assert!(check_pattern("{team}-{environment}").is_ok());
        assert!(check_pattern("apps").is_ok());
    }

    #[test]
    fn a_service_whose_names_make_the_namespace_too_long_gets_no_namespace() {
        let envs = [environment(
            "staging",
            "{team}-{environment}-{service}",
            false,
        )];
        let targets = Targets::of(&envs, "shop", &"a".repeat(60));
        let target = targets.resolve(Some("staging")).unwrap();
        assert!(matches!(
            target.namespace,
            Err(NamespaceError::InvalidName { .. })
        ));
        let err = target.namespace().unwrap_err();
        assert!(
            err.public_message()
                .starts_with("environment: the namespace pattern of staging gives")
        );
    }

    #[test]
    fn pages_fall_back_to_the_production_rules_environment_then_the_first() {
        let envs = [
            environment("development", "{team}-{environment}", false),
            environment("live", "{team}-live", true),
        ];
        let targets = Targets::of(&envs, "shop", "web");
        assert_eq!(targets.pick(None).unwrap().environment, "live");
        assert_eq!(targets.pick(Some("nope")).unwrap().environment, "live");
        assert_eq!(
            targets.pick(Some("development")).unwrap().environment,
            "development"
        );
        let plain = Targets::of(&envs[..1], "shop", "web");
        assert_eq!(plain.pick(None).unwrap().environment, "development");
        assert!(Targets::default().pick(None).is_none());
    }

    #[test]
    fn acting_on_an_unknown_or_missing_environment_is_a_field_error() {
        let envs = [environment("staging", "{team}-{environment}", false)];
        let targets = Targets::of(&envs, "shop", "web");
        let err = targets.resolve(Some("prod")).unwrap_err();
        assert_eq!(
            err.public_message(),
            "environment: unknown environment `prod`"
        );
        let err = targets.require(None).unwrap_err();
        assert_eq!(err.public_message(), "environment: required");
        let (target, namespace) = targets.require(Some("staging")).unwrap();
        assert_eq!(
            (target.environment.as_str(), namespace),
            ("staging", "shop-staging")
        );
        let err = Targets::default().resolve(None).unwrap_err();
        assert_eq!(
            err.public_message(),
            "environment: no environments are configured"
        );
    }
}
