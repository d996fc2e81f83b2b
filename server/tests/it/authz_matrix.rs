//! The authorization matrix: every route of the router × {anonymous, member of
//! another team, member, admin} → the expected answer.
//!
//! axum cannot list a router's routes, so the routes come from the source: every
//! `.route("…", get(…).post(…))` call under `server/src/web/` (read at test
//! time). `every_route_in_the_source_has_a_decision` fails when a route has no
//! row in [`MATRIX`], so a new route cannot ship without a decision here; rows of
//! routes that no longer exist fail too.
//!
//! Seeded world: team `shop` (member ann) owns service `web`; team `billing`
//! (member olga, "another team") owns `ledger`; root is an admin. State-changing
//! portal requests carry a valid CSRF token, so the policy (not CSRF) decides.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;
use slipway::store::audit::Actor;
use sqlx::PgPool;

use crate::harness::routes::{balanced, route_call, source_routes};
use crate::harness::{
    PASSWORD, SpecBuilder, TestApp, add_freeze_window, api_token, create_service_by, create_user,
    current_user, mark_succeeded, once_window, request, with_token,
};

#[test]
fn the_route_scanner_reads_chained_methods_and_ignores_lookalikes() {
    let args = "\n \"/a/{b}\",\n get(show).post(create).put(routing::put(x)) ";
    let (path, mut methods) = route_call(args).unwrap();
    methods.sort();
    assert_eq!(path, "/a/{b}");
    assert_eq!(methods, ["GET", "POST", "PUT", "PUT"]);
    assert_eq!(
        route_call("\"/x\", post(budget_get(y))").unwrap().1,
        ["POST"]
    );
    assert_eq!(balanced("\"/x\", get(a(b)))).rest"), "\"/x\", get(a(b))");
}

// ---------------------------------------------------------------- the matrix

/// What one role should get from one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this status.
    S(u16),
    /// 303 to `/login?next=…`: an anonymous visit to the portal.
    Login,
    /// 401 with the JSON error code `unauthenticated`: an anonymous API call.
    Unauth,
    /// 403 from the policy (the CSRF token was valid).
    Forbidden,
    /// Let through the authorization, answered with exactly this status (what the
    /// route owner decided for this fixture: 200, 202, 303, 409, ...).
    Allowed(u16),
}

use Expect::{Allowed, Forbidden, Login, S, Unauth};

/// A request body; `{role}` in it is replaced by the acting role's name.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    /// No body.
    Empty,
    /// `application/x-www-form-urlencoded`.
    Form(&'static [(&'static str, &'static str)]),
    /// `application/json`.
    Json(&'static str),
}

/// One row: a route as written in `.route(…)`, the concrete request, and what
/// [anonymous, other team's member, member, admin] get.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub method: &'static str,
    pub route: &'static str,
    /// `{own_token}`: a spare API token of the actor; `{olga_id}`: the billing member's
    /// user id; `{deploy}`: a shop/web deploy awaiting approval, requested by ann;
    /// `{good}`: a shop/web staging deploy of ann's that succeeded; `{hook}`: a
    /// staging hook of shop/web; `{freeze}`, `{freeze_api}`: two freeze windows of
    /// development, far in the future (one per delete row, portal and API);
    /// `{notification}`: a notification target.
    pub path: &'static str,
    pub body: Body,
    pub expect: [Expect; 4],
}

const PORTAL_ANYONE_SIGNED_IN: [Expect; 4] = [Login, S(200), S(200), S(200)];
const PORTAL_ADMIN_PAGE: [Expect; 4] = [Login, Forbidden, Forbidden, S(200)];
const PORTAL_ADMIN_CHANGE: [Expect; 4] = [Login, Forbidden, Forbidden, S(303)];
const PORTAL_TEAM_PAGE: [Expect; 4] = [Login, Forbidden, S(200), S(200)];
/// A pod's log: the team's members only (not administrators); with no
/// cluster here the member, past the policy, finds no such pod.
const PORTAL_MEMBERS_ONLY_MISSING: [Expect; 4] = [Login, Forbidden, Allowed(404), Forbidden];
const API_TEAM_READ: [Expect; 4] = [Unauth, Forbidden, S(200), S(200)];
const API_TEAM_WRITE: [Expect; 4] = [Unauth, Forbidden, S(201), S(201)];
const API_ANYONE_WITH_TOKEN: [Expect; 4] = [Unauth, S(200), S(200), S(200)];
const PUBLIC: [Expect; 4] = [S(200), S(200), S(200), S(200)];
/// Writing a Secret value: administrators only. `web` references no Secret, so
/// the admin, past the policy, gets the validation answer (the value is never
/// written anywhere); `tests/it/wiring.rs` writes real values on the cluster.
const API_ADMIN_READ: [Expect; 4] = [Unauth, Forbidden, Forbidden, S(200)];
const API_ADMIN_SECRET_WRITE: [Expect; 4] = [Unauth, Forbidden, Forbidden, S(422)];
/// Admin-only removal of an id that does not exist: past the policy, 404.
const PORTAL_ADMIN_MISSING: [Expect; 4] = [Login, Forbidden, Forbidden, Allowed(404)];
const API_ADMIN_CREATE: [Expect; 4] = [Unauth, Forbidden, Forbidden, S(201)];
const API_ADMIN_MISSING: [Expect; 4] = [Unauth, Forbidden, Forbidden, Allowed(404)];

const EDITED_SPEC: &str = "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: web\n  team: shop\n  description: edited by {role}\nspec:\n  framework: flask\n  appModule: app:app\n  image: registry.example.com/shop/web:1.0.0\n";

/// Every route's decision. Keep `POST /logout` last: it ends the session.
pub const MATRIX: &[Case] = &[
    // probes and metrics: open
    Case {
        method: "GET",
        route: "/healthz",
        path: "/healthz",
        body: Body::Empty,
        expect: PUBLIC,
    },
    Case {
        method: "GET",
        route: "/readyz",
        path: "/readyz",
        body: Body::Empty,
        expect: PUBLIC,
    },
    Case {
        method: "GET",
        route: "/favicon.ico",
        path: "/favicon.ico",
        body: Body::Empty,
        expect: [S(308), S(308), S(308), S(308)],
    },
    Case {
        method: "GET",
        route: "/metrics",
        path: "/metrics",
        body: Body::Empty,
        expect: PUBLIC,
    },
    // sign-in
    Case {
        method: "GET",
        route: "/login",
        path: "/login",
        body: Body::Empty,
        expect: [S(200), S(303), S(303), S(303)],
    },
    Case {
        method: "POST",
        route: "/login",
        path: "/login",
        body: Body::Form(&[
            ("email", "nobody@example.com"),
            ("password", "not-the-password"),
        ]),
        expect: [S(422), S(422), S(422), S(422)],
    },
    // Single sign-on is off in the matrix's app, so both answer 404 to anyone;
    // tests/it/sso.rs runs them against a real Dex (anyone may start a
    // sign-in; the callback signs in only with the browser's own state).
    Case {
        method: "GET",
        route: "/auth/oidc/start",
        path: "/auth/oidc/start",
        body: Body::Empty,
        expect: [S(404), S(404), S(404), S(404)],
    },
    Case {
        method: "GET",
        route: "/auth/oidc/callback",
        path: "/auth/oidc/callback?code=c&state=s",
        body: Body::Empty,
        expect: [S(404), S(404), S(404), S(404)],
    },
    // the catalog and the service pages (the lead's)
    Case {
        method: "GET",
        route: "/",
        path: "/",
        body: Body::Empty,
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    Case {
        method: "GET",
        route: "/services/new",
        path: "/services/new",
        body: Body::Empty,
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    Case {
        method: "POST",
        route: "/services/new",
        path: "/services/new",
        body: Body::Form(&[
            ("team", "shop"),
            ("name", "new-{role}"),
            ("framework", "django"),
        ]),
        expect: [Login, Forbidden, S(303), S(303)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}",
        path: "/services/shop/web",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}",
        path: "/services/shop/no-such-service",
        body: Body::Empty,
        expect: [Login, Forbidden, S(404), S(404)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/edit",
        path: "/services/shop/web/edit",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/edit/check",
        path: "/services/shop/web/edit/check",
        body: Body::Form(&[("spec", EDITED_SPEC)]),
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/edit",
        path: "/services/shop/web/edit",
        body: Body::Form(&[
            ("spec", EDITED_SPEC),
            ("message", "matrix"),
            ("base_revision", "1"),
        ]),
        expect: [Login, Forbidden, Allowed(303), Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/revisions",
        path: "/services/shop/web/revisions",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/revisions/{number}",
        path: "/services/shop/web/revisions/1",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/diff",
        path: "/services/shop/web/diff?from=1&to=1",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/manifests",
        path: "/services/shop/web/manifests?env=production",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/wiring",
        path: "/services/shop/web/wiring?env=production",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/status",
        path: "/services/shop/web/status?env=production",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        // Nothing deployed in the matrix's database: the page says so (200)
        // before any cluster read.
        method: "GET",
        route: "/services/{team}/{service}/drift",
        path: "/services/shop/web/drift?env=production",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/admin/cluster",
        path: "/admin/cluster",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    // the cluster registry: administrators only. Past the policy, the
    // matrix's database has only the configured cluster, which cannot be
    // changed or removed here (409), and an in-cluster registration fails its
    // connection test outside a pod (422).
    Case {
        method: "GET",
        route: "/admin/clusters",
        path: "/admin/clusters",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/clusters",
        path: "/admin/clusters",
        body: Body::Form(&[("name", "matrix"), ("source", "in_cluster")]),
        expect: [Login, Forbidden, Forbidden, Allowed(422)],
    },
    Case {
        method: "GET",
        route: "/admin/clusters/{name}",
        path: "/admin/clusters/default",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/clusters/{name}",
        path: "/admin/clusters/default",
        body: Body::Form(&[("source", "in_cluster")]),
        expect: [Login, Forbidden, Forbidden, Allowed(409)],
    },
    Case {
        method: "POST",
        route: "/admin/clusters/{name}/remove",
        path: "/admin/clusters/default/remove",
        body: Body::Form(&[]),
        // The refusal is a flash on the cluster's page.
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/api/v1/clusters",
        path: "/api/v1/clusters",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "POST",
        route: "/api/v1/clusters",
        path: "/api/v1/clusters",
        body: Body::Json(r#"{"name": "matrix", "source": "in_cluster"}"#),
        expect: [Unauth, Forbidden, Forbidden, Allowed(422)],
    },
    Case {
        method: "GET",
        route: "/api/v1/clusters/{name}",
        path: "/api/v1/clusters/default",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "PUT",
        route: "/api/v1/clusters/{name}",
        path: "/api/v1/clusters/default",
        body: Body::Json(r#"{"source": "in_cluster"}"#),
        expect: [Unauth, Forbidden, Forbidden, Allowed(409)],
    },
    Case {
        method: "DELETE",
        route: "/api/v1/clusters/{name}",
        path: "/api/v1/clusters/default",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, Allowed(409)],
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/scale",
        path: "/services/shop/web/scale",
        body: Body::Form(&[
            ("env", "production"),
            ("mode", "replicas"),
            ("replicas", "3"),
        ]),
        // Past the policy, `web` was never deployed to production: back to
        // the service with that said (nothing saved).
        expect: [Login, Forbidden, Allowed(303), Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/logs",
        path: "/services/shop/web/logs?env=production&pod=web-1",
        body: Body::Empty,
        expect: PORTAL_MEMBERS_ONLY_MISSING,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/logs/follow",
        path: "/services/shop/web/logs/follow?env=production&pod=web-1",
        body: Body::Empty,
        expect: PORTAL_MEMBERS_ONLY_MISSING,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/wiring",
        path: "/services/shop/web/wiring",
        body: Body::Form(&[
            ("env", "production"),
            ("secret", "web-db"),
            ("key", "url"),
            ("value", "not-written"),
        ]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    // webhooks: the delivery endpoint is authenticated by its signature alone,
    // so an unsigned post is 401 whoever sends it; `{hook}` is a staging hook of
    // shop/web. Creating and rotating show the secret once (200).
    Case {
        method: "POST",
        route: "/hooks/{id}",
        path: "/hooks/{hook}",
        body: Body::Json(r#"{"ref": "refs/heads/main"}"#),
        expect: [S(401), S(401), S(401), S(401)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/hooks",
        path: "/services/shop/web/hooks",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/hooks",
        path: "/services/shop/web/hooks",
        body: Body::Form(&[
            ("environment", "staging"),
            ("ref", "refs/heads/main"),
            ("image", "registry.example.com/shop/web:{sha}"),
        ]),
        expect: [Login, Forbidden, S(200), S(200)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/hooks/{id}",
        path: "/services/shop/web/hooks/{hook}",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/hooks/{id}/rotate",
        path: "/services/shop/web/hooks/{hook}/rotate",
        body: Body::Empty,
        expect: [Login, Forbidden, S(200), S(200)],
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/hooks",
        path: "/api/v1/teams/shop/services/web/hooks",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/teams/{team}/services/{service}/hooks",
        path: "/api/v1/teams/shop/services/web/hooks",
        body: Body::Json(
            r#"{"environment": "staging", "ref": "refs/tags/v*", "image": "registry.example.com/shop/web:{tag}"}"#,
        ),
        expect: API_TEAM_WRITE,
    },
    Case {
        method: "GET",
        route: "/api/v1/hooks/{id}/deliveries",
        path: "/api/v1/hooks/{hook}/deliveries",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    // administration
    Case {
        method: "GET",
        route: "/admin",
        path: "/admin",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "GET",
        route: "/admin/users",
        path: "/admin/users",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/users",
        path: "/admin/users",
        body: Body::Form(&[
            ("email", "made-by-{role}@example.com"),
            ("password", "tidal-orbit-47-lantern"),
            ("teams", "shop"),
            ("is_admin", "on"),
        ]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/admin/teams",
        path: "/admin/teams",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/teams",
        path: "/admin/teams",
        body: Body::Form(&[("name", "team-{role}"), ("display_name", "made by {role}")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/admin/teams/{team}",
        path: "/admin/teams/shop",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/teams/{team}/members",
        path: "/admin/teams/billing/members",
        body: Body::Form(&[("email", "ann@example.com")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/teams/{team}/members/{user_id}/remove",
        path: "/admin/teams/billing/members/{olga_id}/remove",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/users/{id}/access",
        path: "/admin/users/{olga_id}/access",
        body: Body::Form(&[("change", "enable")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/admin/tokens",
        path: "/admin/tokens",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/tokens/{id}/revoke",
        path: "/admin/tokens/{own_token}/revoke",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/api/v1/users",
        path: "/api/v1/users",
        body: Body::Empty,
        expect: API_ADMIN_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/users/{id}/access",
        path: "/api/v1/users/{olga_id}/access",
        body: Body::Json(r#"{"change": "enable"}"#),
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "GET",
        route: "/api/v1/tokens",
        path: "/api/v1/tokens",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "GET",
        route: "/api/v1/admin/tokens",
        path: "/api/v1/admin/tokens",
        body: Body::Empty,
        expect: API_ADMIN_READ,
    },
    // notification targets: administrators only, members of any team refused.
    // Creating shows the secret once (200); `{notification}` is an enabled target.
    Case {
        method: "GET",
        route: "/admin/notifications",
        path: "/admin/notifications",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/notifications",
        path: "/admin/notifications",
        body: Body::Form(&[
            ("name", "made by {role}"),
            ("url", "https://hooks.example.com/{role}"),
            ("format", "slack"),
            ("environment", "production"),
            ("events", "succeeded"),
            ("events", "failed"),
        ]),
        expect: [Login, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "GET",
        route: "/admin/notifications/{id}",
        path: "/admin/notifications/{notification}",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/notifications/{id}/test",
        path: "/admin/notifications/{notification}/test",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/notifications/{id}/disable",
        path: "/admin/notifications/{notification}/disable",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/notifications/{id}/enable",
        path: "/admin/notifications/{notification}/enable",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/api/v1/notifications",
        path: "/api/v1/notifications",
        body: Body::Empty,
        expect: API_ADMIN_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/notifications",
        path: "/api/v1/notifications",
        body: Body::Json(
            r#"{"name": "api {role}", "url": "https://hooks.example.com/api-{role}", "format": "json", "events": ["awaiting_approval"]}"#,
        ),
        expect: [Unauth, Forbidden, Forbidden, S(201)],
    },
    Case {
        method: "GET",
        route: "/api/v1/notifications/{id}/messages",
        path: "/api/v1/notifications/{notification}/messages",
        body: Body::Empty,
        expect: API_ADMIN_READ,
    },
    // tenancy grants: administrators only. Removing an id that does not exist
    // gets the admin past the policy to a 404; tests/it/tenancy.rs removes real ones.
    Case {
        method: "GET",
        route: "/admin/tenancy",
        path: "/admin/tenancy",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/hosts",
        path: "/admin/tenancy/hosts",
        body: Body::Form(&[("team", "shop"), ("suffix", "{role}.example.org")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/hosts/{id}/remove",
        path: "/admin/tenancy/hosts/0/remove",
        body: Body::Empty,
        expect: PORTAL_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/exposure",
        path: "/admin/tenancy/exposure",
        body: Body::Form(&[
            ("team", "shop"),
            ("environment", "development"),
            ("service_type", "LoadBalancer"),
        ]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/exposure/{id}/remove",
        path: "/admin/tenancy/exposure/0/remove",
        body: Body::Empty,
        expect: PORTAL_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/annotations",
        path: "/admin/tenancy/annotations",
        body: Body::Form(&[("key", "example.org/{role}"), ("value_pattern", "[a-z]+")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/annotations/{id}/remove",
        path: "/admin/tenancy/annotations/0/remove",
        body: Body::Empty,
        expect: PORTAL_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/zones",
        path: "/admin/tenancy/zones",
        body: Body::Form(&[("zone", "{role}.corp.example.org")]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/tenancy/zones/{id}/remove",
        path: "/admin/tenancy/zones/0/remove",
        body: Body::Empty,
        expect: PORTAL_ADMIN_MISSING,
    },
    Case {
        method: "GET",
        route: "/admin/audit",
        path: "/admin/audit?action=team.",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    // one's own account and tokens
    Case {
        method: "GET",
        route: "/account",
        path: "/account",
        body: Body::Empty,
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    Case {
        method: "POST",
        route: "/account/tokens",
        path: "/account/tokens",
        body: Body::Form(&[
            ("name", "made-in-matrix"),
            ("current_password", "correct-horse-battery-42"),
            ("expires_in_days", "30"),
            ("scopes", "read"),
            ("scopes", "deploy"),
        ]),
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    Case {
        method: "POST",
        route: "/account/tokens/{id}/revoke",
        path: "/account/tokens/{own_token}/revoke",
        body: Body::Empty,
        expect: [Login, S(303), S(303), S(303)],
    },
    // Past the policy, a mismatched new password is the form's 422 (a real
    // change would work too, but leave the other rows' session alone).
    Case {
        method: "POST",
        route: "/account/password",
        path: "/account/password",
        body: Body::Form(&[
            ("current_password", "correct-horse-battery-42"),
            ("password", "tidal-orbit-47-lantern"),
            ("password_again", "tidal-orbit-47-lanterN"),
        ]),
        expect: [Login, S(422), S(422), S(422)],
    },
    // Revoked on the account page just above: past the policy, a 409.
    Case {
        method: "POST",
        route: "/api/v1/tokens/{id}/revoke",
        path: "/api/v1/tokens/{own_token}/revoke",
        body: Body::Empty,
        expect: [Unauth, S(409), S(409), S(409)],
    },
    // the JSON API
    Case {
        method: "GET",
        route: "/api/v1/schema",
        path: "/api/v1/schema",
        body: Body::Empty,
        expect: PUBLIC,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams",
        path: "/api/v1/teams",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "GET",
        route: "/api/v1/services",
        path: "/api/v1/services",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "POST",
        route: "/api/v1/teams/{team}/services",
        path: "/api/v1/teams/shop/services",
        body: Body::Json(
            r#"{"spec": {"apiVersion": "slipway.dev/v1", "kind": "Service", "metadata": {"name": "api-{role}"}, "spec": {"framework": "fastapi", "appModule": "app.main:app", "image": "registry.example.com/shop/api:1.0.0"}}}"#,
        ),
        expect: API_TEAM_WRITE,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}",
        path: "/api/v1/teams/shop/services/web",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}",
        path: "/api/v1/teams/shop/services/no-such-service",
        body: Body::Empty,
        expect: [Unauth, Forbidden, S(404), S(404)],
    },
    Case {
        method: "PUT",
        route: "/api/v1/teams/{team}/services/{service}",
        path: "/api/v1/teams/shop/services/web",
        body: Body::Json(
            r#"{"message": "matrix", "spec": {"apiVersion": "slipway.dev/v1", "kind": "Service", "metadata": {"name": "web", "description": "put by {role}"}, "spec": {"framework": "flask", "appModule": "app:app", "image": "registry.example.com/shop/web:1.0.0"}}}"#,
        ),
        expect: API_TEAM_WRITE,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/revisions",
        path: "/api/v1/teams/shop/services/web/revisions",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/revisions/{number}",
        path: "/api/v1/teams/shop/services/web/revisions/1",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/render",
        path: "/api/v1/teams/shop/services/web/render?environment=production",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/check",
        path: "/api/v1/teams/shop/services/web/check?environment=production",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/wiring",
        path: "/api/v1/teams/shop/services/web/wiring?environment=production",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/status",
        path: "/api/v1/teams/shop/services/web/status?environment=production",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "PUT",
        route: "/api/v1/teams/{team}/services/{service}/secrets/{secret}/{key}",
        path: "/api/v1/teams/shop/services/web/secrets/web-db/url?environment=production",
        body: Body::Json(r#"{"value": "not-written"}"#),
        expect: API_ADMIN_SECRET_WRITE,
    },
    // deploys and environments (the deploy engineer's); `{deploy}` awaits approval in
    // production, requested by ann, so the admin (not the requester) may decide on it:
    // the portal approval goes through (303), so every later decision on it is a
    // conflict (409: one decision per approver). `{good}` succeeded in staging, so
    // a rollback to it is accepted (portal 303, API 202).
    Case {
        method: "POST",
        route: "/services/{team}/{service}/deploys",
        path: "/services/shop/web/deploys",
        body: Body::Form(&[
            ("environment", "staging"),
            ("image", "registry.example.com/shop/web:1.0.2"),
        ]),
        expect: [Login, Forbidden, Allowed(303), Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/deploy-panel",
        path: "/services/shop/web/deploy-panel",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "GET",
        route: "/services/{team}/{service}/history",
        path: "/services/shop/web/history",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    Case {
        method: "POST",
        route: "/services/{team}/{service}/environments/{environment}/unpin",
        path: "/services/shop/web/environments/staging/unpin",
        body: Body::Empty,
        expect: [Login, Forbidden, Allowed(303), Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/deploys",
        path: "/deploys",
        body: Body::Empty,
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    Case {
        method: "GET",
        route: "/deploys/{id}",
        path: "/deploys/{deploy}",
        body: Body::Empty,
        expect: PORTAL_TEAM_PAGE,
    },
    // An id that names no deploy: refused like another team's to non-admins,
    // so ids cannot be probed for which exist.
    Case {
        method: "GET",
        route: "/deploys/{id}",
        path: "/deploys/987654",
        body: Body::Empty,
        expect: [Login, Forbidden, Forbidden, S(404)],
    },
    Case {
        method: "POST",
        route: "/deploys/{id}/approve",
        path: "/deploys/{deploy}/approve",
        body: Body::Form(&[("comment", "matrix")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "POST",
        route: "/deploys/{id}/reject",
        path: "/deploys/{deploy}/reject",
        body: Body::Form(&[("comment", "matrix")]),
        expect: [Login, Forbidden, Forbidden, Allowed(409)],
    },
    // Releasing a held deploy early: administrators; {deploy} is not held, so
    // the admin, past the policy, gets the conflict.
    Case {
        method: "POST",
        route: "/deploys/{id}/release",
        path: "/deploys/{deploy}/release",
        body: Body::Form(&[("reason", "matrix")]),
        expect: [Login, Forbidden, Forbidden, S(409)],
    },
    Case {
        method: "POST",
        route: "/api/v1/deploys/{id}/release",
        path: "/api/v1/deploys/{deploy}/release",
        body: Body::Json(r#"{"reason": "matrix"}"#),
        expect: [Unauth, Forbidden, Forbidden, S(409)],
    },
    Case {
        method: "POST",
        route: "/deploys/{id}/rollback",
        path: "/deploys/{good}/rollback",
        body: Body::Empty,
        expect: [Login, Forbidden, Allowed(303), Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/admin/environments",
        path: "/admin/environments",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/environments",
        path: "/admin/environments",
        body: Body::Form(&[("name", "qa-{role}"), ("namespace_pattern", "{team}-qa")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/admin/environments/{name}",
        path: "/admin/environments/staging",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/environments/{name}",
        path: "/admin/environments/staging",
        body: Body::Form(&[("namespace_pattern", "{team}-staging")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/api/v1/teams/{team}/services/{service}/deploys",
        path: "/api/v1/teams/shop/services/web/deploys",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/teams/{team}/services/{service}/deploys",
        path: "/api/v1/teams/shop/services/web/deploys",
        body: Body::Json(
            r#"{"environment": "staging", "image": "registry.example.com/shop/web:1.0.3"}"#,
        ),
        expect: [Unauth, Forbidden, S(202), S(202)],
    },
    Case {
        method: "POST",
        route: "/api/v1/teams/{team}/services/{service}/environments/{environment}/unpin",
        path: "/api/v1/teams/shop/services/web/environments/staging/unpin",
        body: Body::Json("{}"),
        expect: [Unauth, Forbidden, Allowed(200), Allowed(200)],
    },
    Case {
        method: "GET",
        route: "/api/v1/deploys",
        path: "/api/v1/deploys",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "GET",
        route: "/api/v1/deploys/{id}",
        path: "/api/v1/deploys/{deploy}",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/deploys/{id}",
        path: "/api/v1/deploys/987654",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(404)],
    },
    Case {
        method: "GET",
        route: "/api/v1/deploys/{id}/events",
        path: "/api/v1/deploys/{deploy}/events",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "GET",
        route: "/api/v1/deploys/{id}/cluster-events",
        path: "/api/v1/deploys/{deploy}/cluster-events",
        body: Body::Empty,
        expect: API_TEAM_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/deploys/{id}/approve",
        path: "/api/v1/deploys/{deploy}/approve",
        body: Body::Json(r#"{"comment": "matrix"}"#),
        expect: [Unauth, Forbidden, Forbidden, Allowed(409)],
    },
    Case {
        method: "POST",
        route: "/api/v1/deploys/{id}/reject",
        path: "/api/v1/deploys/{deploy}/reject",
        body: Body::Json(r#"{"comment": "matrix"}"#),
        expect: [Unauth, Forbidden, Forbidden, Allowed(409)],
    },
    Case {
        method: "POST",
        route: "/api/v1/deploys/{id}/rollback",
        path: "/api/v1/deploys/{good}/rollback",
        body: Body::Json("{}"),
        expect: [Unauth, Forbidden, Allowed(202), Allowed(202)],
    },
    Case {
        method: "GET",
        route: "/api/v1/environments",
        path: "/api/v1/environments",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "PUT",
        route: "/api/v1/environments/{name}",
        path: "/api/v1/environments/staging",
        body: Body::Json(r#"{"approval_ttl_hours": 48}"#),
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    // an environment's quota: administrators only
    Case {
        method: "GET",
        route: "/admin/environments/{name}/quota",
        path: "/admin/environments/staging/quota",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/environments/{name}/quota",
        path: "/admin/environments/staging/quota",
        body: Body::Form(&[("pods", "50")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/api/v1/environments/{name}/quota",
        path: "/api/v1/environments/staging/quota",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "PUT",
        route: "/api/v1/environments/{name}/quota",
        path: "/api/v1/environments/staging/quota",
        body: Body::Json(r#"{"pods": "50"}"#),
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    // namespaces: the registry and the reserved list, administrators only
    Case {
        method: "GET",
        route: "/admin/namespaces",
        path: "/admin/namespaces",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/namespaces/reserved",
        path: "/admin/namespaces/reserved",
        body: Body::Form(&[("name", "reserved-{role}"), ("reason", "matrix")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "POST",
        route: "/admin/namespaces/reserved/{name}/delete",
        path: "/admin/namespaces/reserved/slipway/delete",
        body: Body::Empty,
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "GET",
        route: "/admin/sso",
        path: "/admin/sso",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/sso/mappings",
        path: "/admin/sso/mappings",
        body: Body::Form(&[("group", "group-{role}"), ("team", "shop")]),
        expect: [Login, Forbidden, Forbidden, Allowed(303)],
    },
    Case {
        method: "POST",
        route: "/admin/sso/mappings/{id}/delete",
        path: "/admin/sso/mappings/999999/delete",
        body: Body::Empty,
        expect: PORTAL_ADMIN_MISSING,
    },
    Case {
        method: "GET",
        route: "/api/v1/namespaces",
        path: "/api/v1/namespaces",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "PUT",
        route: "/api/v1/namespaces/reserved/{name}",
        path: "/api/v1/namespaces/reserved/platform",
        body: Body::Json(r#"{"reason": "matrix"}"#),
        expect: [Unauth, Forbidden, Forbidden, S(204)],
    },
    Case {
        method: "DELETE",
        route: "/api/v1/namespaces/reserved/{name}",
        path: "/api/v1/namespaces/reserved/platform",
        body: Body::Json("{}"),
        expect: [Unauth, Forbidden, Forbidden, S(204)],
    },
    // the approvals queue: anyone signed in; it lists only what they may decide
    Case {
        method: "GET",
        route: "/api/v1/approvals",
        path: "/api/v1/approvals",
        body: Body::Empty,
        expect: API_ANYONE_WITH_TOKEN,
    },
    Case {
        method: "GET",
        route: "/approvals",
        path: "/approvals",
        body: Body::Empty,
        expect: PORTAL_ANYONE_SIGNED_IN,
    },
    // Each selected deploy is decided by `domain::deploys::decide`, which
    // checks the approver; a deploy that does not exist is reported, not decided.
    Case {
        method: "POST",
        route: "/approvals/decide",
        path: "/approvals/decide",
        body: Body::Form(&[("select", "999999"), ("decision", "reject")]),
        expect: [Login, S(303), S(303), S(303)],
    },
    // freeze windows of an environment: administrators only. They go on
    // development, where no row deploys, so no deploy of the matrix is held.
    Case {
        method: "GET",
        route: "/admin/environments/{name}/freeze",
        path: "/admin/environments/development/freeze",
        body: Body::Empty,
        expect: PORTAL_ADMIN_PAGE,
    },
    Case {
        method: "POST",
        route: "/admin/environments/{name}/freeze",
        path: "/admin/environments/development/freeze",
        body: Body::Form(&[
            ("kind", "once"),
            ("starts_at", "2099-12-24T00:00"),
            ("ends_at", "2099-12-27T08:00"),
            ("time_zone", "Europe/Berlin"),
            ("reason", "matrix {role}"),
        ]),
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/admin/environments/{name}/freeze/{id}/delete",
        path: "/admin/environments/development/freeze/{freeze}/delete",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "GET",
        route: "/api/v1/environments/{name}/freeze-windows",
        path: "/api/v1/environments/development/freeze-windows",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(200)],
    },
    Case {
        method: "POST",
        route: "/api/v1/environments/{name}/freeze-windows",
        path: "/api/v1/environments/development/freeze-windows",
        body: Body::Json(
            r#"{"kind": "weekly", "start_day": "sat", "start_time": "00:00", "end_day": "sat", "end_time": "00:01", "time_zone": "Pacific/Kiritimati", "reason": "matrix {role}"}"#,
        ),
        expect: [Unauth, Forbidden, Forbidden, S(201)],
    },
    Case {
        method: "DELETE",
        route: "/api/v1/environments/{name}/freeze-windows/{id}",
        path: "/api/v1/environments/development/freeze-windows/{freeze_api}",
        body: Body::Empty,
        expect: [Unauth, Forbidden, Forbidden, S(204)],
    },
    // tenancy grants over the API: administrators only
    Case {
        method: "GET",
        route: "/api/v1/admin/tenancy",
        path: "/api/v1/admin/tenancy",
        body: Body::Empty,
        expect: API_ADMIN_READ,
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/host-grants",
        path: "/api/v1/admin/host-grants",
        body: Body::Json(r#"{"team": "shop", "suffix": "api-{role}.example.org"}"#),
        expect: API_ADMIN_CREATE,
    },
    Case {
        method: "DELETE",
        route: "/api/v1/admin/host-grants/{id}",
        path: "/api/v1/admin/host-grants/0",
        body: Body::Empty,
        expect: API_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/exposure-grants",
        path: "/api/v1/admin/exposure-grants",
        body: Body::Json(
            r#"{"team": "shop", "environment": "staging", "service_type": "NodePort"}"#,
        ),
        expect: API_ADMIN_CREATE,
    },
    Case {
        method: "DELETE",
        route: "/api/v1/admin/exposure-grants/{id}",
        path: "/api/v1/admin/exposure-grants/0",
        body: Body::Empty,
        expect: API_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/annotation-rules",
        path: "/api/v1/admin/annotation-rules",
        body: Body::Json(r#"{"key": "example.org/api-{role}", "value_pattern": "x"}"#),
        expect: API_ADMIN_CREATE,
    },
    Case {
        method: "DELETE",
        route: "/api/v1/admin/annotation-rules/{id}",
        path: "/api/v1/admin/annotation-rules/0",
        body: Body::Empty,
        expect: API_ADMIN_MISSING,
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/internal-zones",
        path: "/api/v1/admin/internal-zones",
        body: Body::Json(r#"{"zone": "api-{role}.corp.example.org"}"#),
        expect: API_ADMIN_CREATE,
    },
    Case {
        method: "DELETE",
        route: "/api/v1/admin/internal-zones/{id}",
        path: "/api/v1/admin/internal-zones/0",
        body: Body::Empty,
        expect: API_ADMIN_MISSING,
    },
    // last: it ends the session
    // redelivering a stored push: administrators only
    Case {
        method: "POST",
        route: "/services/{team}/{service}/hooks/{id}/deliveries/{delivery}/redeliver",
        path: "/services/shop/web/hooks/{hook}/deliveries/{delivery}/redeliver",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    // after every row that uses `{hook}`
    Case {
        method: "POST",
        route: "/services/{team}/{service}/hooks/{id}/delete",
        path: "/services/shop/web/hooks/{hook}/delete",
        body: Body::Empty,
        expect: [Login, Forbidden, S(303), S(303)],
    },
    // after every row that uses `{notification}`
    Case {
        method: "POST",
        route: "/admin/notifications/{id}/delete",
        path: "/admin/notifications/{notification}/delete",
        body: Body::Empty,
        expect: PORTAL_ADMIN_CHANGE,
    },
    Case {
        method: "POST",
        route: "/logout",
        path: "/logout",
        body: Body::Empty,
        expect: [S(303), S(303), S(303), S(303)],
    },
];

#[test]
fn every_route_in_the_source_has_a_decision() {
    let in_source = source_routes();
    let in_matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|c| (c.method.to_owned(), c.route.to_owned()))
        .collect();
    let missing: Vec<_> = in_source.difference(&in_matrix).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in tests/it/authz_matrix.rs MATRIX (decide who may call them): {missing:?}"
    );
    let stale: Vec<_> = in_matrix.difference(&in_source).collect();
    assert!(
        stale.is_empty(),
        "MATRIX rows for routes that no longer exist: {stale:?}"
    );
}

// ---------------------------------------------------------------- running it

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Anonymous,
    OtherTeam,
    Member,
    Admin,
}

impl Role {
    fn column(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::OtherTeam => "other",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

/// Creates `team/name` at revision 1 (the minimal spec), authored by the admin
/// `author` and recorded as the system's.
pub async fn seed_service(
    pool: &PgPool,
    author: &slipway::store::users::User,
    team: &str,
    name: &str,
) -> slipway::store::services::Service {
    let root = current_user(pool, &author.email).await;
    let yaml = SpecBuilder::minimal(name)
        .team(team)
        .production_ready()
        .to_yaml();
    create_service_by(pool, &root, &Actor::system(), team, &yaml, "seed").await
}

/// ann deploys shop/web to staging and it succeeds (no cluster: the state is set),
/// so that a rollback to it is possible.
async fn seed_succeeded_deploy(pool: &PgPool, web: &slipway::store::services::Service) -> i64 {
    let good = request(
        pool,
        "ann@example.com",
        web,
        "staging",
        "registry.example.com/shop/web:1.0.0",
    )
    .await;
    mark_succeeded(pool, good.id).await;
    good.id
}

struct World {
    app: TestApp,
    token: Option<String>,
    csrf: String,
    own_token: i64,
    olga_id: i64,
    deploy: i64,
    good: i64,
    hook: String,
    delivery: i64,
    freeze: i64,
    freeze_api: i64,
    notification: String,
}

/// ann requests a production deploy of shop/web through the API; it awaits approval.
async fn seed_deploy(app: &TestApp, pool: &PgPool, ann: &slipway::store::users::User) -> i64 {
    let token = api_token(pool, ann.id, "seed-deploy").await;
    let body = serde_json::json!({"environment": "production", "image": "registry.example.com/shop/web:1.0.1"});
    let res = with_token(
        app.client
            .post(app.url("/api/v1/teams/shop/services/web/deploys")),
        &token,
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    assert_eq!(
        res.status(),
        202,
        "seeding a deploy: {}",
        res.text().await.unwrap()
    );
    let deploy: Value = res.json().await.unwrap();
    assert_eq!(deploy["state"], "awaiting_approval", "{deploy}");
    deploy["id"].as_i64().unwrap()
}

async fn world(pool: &PgPool, role: Role) -> World {
    let ann = create_user(pool, "ann@example.com", false, &["shop"]).await;
    let olga = create_user(pool, "olga@example.com", false, &["billing"]).await;
    let root = create_user(pool, "root@example.com", true, &[]).await;
    // The services are written by another administrator: the author of a
    // revision may not approve its deploys, and root's approval rows are about
    // the policy of the route, not separation of duties.
    let author = create_user(pool, "author@example.com", true, &[]).await;
    let web = seed_service(pool, &author, "shop", "web").await;
    seed_service(pool, &author, "billing", "ledger").await;
    let (user, email) = match role {
        Role::Anonymous | Role::Member => (&ann, "ann@example.com"),
        Role::OtherTeam => (&olga, "olga@example.com"),
        Role::Admin => (&root, "root@example.com"),
    };
    let token = api_token(pool, user.id, "matrix").await;
    api_token(pool, user.id, "spare").await;
    let own_token: i64 =
        sqlx::query_scalar("select id from api_tokens where user_id = $1 and name = 'spare'")
            .bind(user.id)
            .fetch_one(pool)
            .await
            .unwrap();
    let app = TestApp::spawn(pool.clone()).await;
    let good = seed_succeeded_deploy(pool, &web).await;
    let deploy = seed_deploy(&app, pool, &ann).await;
    let (hook, delivery) = seed_hook(pool, &web).await;
    let freeze = seed_freeze_window(pool).await;
    let freeze_api = seed_freeze_window(pool).await;
    let notification = seed_notification(pool).await;
    if role != Role::Anonymous {
        app.login_as(email, PASSWORD).await;
    }
    let csrf = app.csrf_token().await;
    World {
        app,
        token: (role != Role::Anonymous).then_some(token),
        csrf,
        own_token,
        olga_id: olga.id,
        deploy,
        good,
        hook,
        delivery,
        freeze,
        freeze_api,
        notification,
    }
}

/// A one-off freeze window of development in 2099 (never in force during a test run).
async fn seed_freeze_window(pool: &PgPool) -> i64 {
    let input = once_window("2099-06-01T00:00", "2099-06-02T00:00", "UTC", "seeded");
    add_freeze_window(pool, "development", &input).await.id
}

/// An enabled notification target of every environment's successes, made with
/// the key the test config carries. Its URL is never called: no sender runs.
async fn seed_notification(pool: &PgPool) -> String {
    let key = slipway::secret::SecretKey([7; 32]);
    let input = slipway::domain::notifications::TargetInput {
        name: "matrix".into(),
        url: "http://127.0.0.1:9/never-called".into(),
        format: "json".into(),
        environment: None,
        events: vec!["succeeded".into()],
    };
    let made =
        slipway::domain::notifications::create_target(pool, Some(&key), &Actor::system(), &input)
            .await
            .unwrap();
    made.id.to_string()
}

/// A staging hook of shop/web, made with the key the test config carries, and
/// one stored push delivery of it: `(hook id, delivery row id)`.
async fn seed_hook(pool: &PgPool, web: &slipway::store::services::Service) -> (String, i64) {
    let key = slipway::secret::SecretKey([7; 32]);
    let input = slipway::domain::hooks::HookInput {
        environment: "staging".into(),
        ref_pattern: "refs/heads/main".into(),
        image: "registry.example.com/shop/web:{short_sha}".into(),
        paths: Vec::new(),
    };
    let hook = slipway::domain::hooks::create_hook(pool, Some(&key), &Actor::system(), web, &input)
        .await
        .unwrap();
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let payload = serde_json::json!({"ref": "refs/heads/main", "after": sha,
                                     "pusher": {"name": "ann"}, "head_commit": {"id": sha}});
    let delivery: i64 = sqlx::query_scalar(
        "insert into hook_deliveries (hook_id, provider, delivery_id, event, ref, sha, result, payload)
         values ($1, 'github', 'seed-1', 'push', 'refs/heads/main', $2, 'ignored', $3) returning id",
    )
    .bind(hook.id)
    .bind(sha)
    .bind(serde_json::to_vec(&payload).unwrap())
    .fetch_one(pool)
    .await
    .unwrap();
    (hook.id.to_string(), delivery)
}

async fn send(world: &World, role: Role, case: &Case) -> reqwest::Response {
    let path = case
        .path
        .replace("{own_token}", &world.own_token.to_string())
        .replace("{olga_id}", &world.olga_id.to_string())
        .replace("{deploy}", &world.deploy.to_string())
        .replace("{good}", &world.good.to_string())
        .replace("{hook}", &world.hook)
        .replace("{delivery}", &world.delivery.to_string())
        .replace("{freeze_api}", &world.freeze_api.to_string())
        .replace("{freeze}", &world.freeze.to_string())
        .replace("{notification}", &world.notification);
    let method = Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut req = world
        .app
        .client
        .request(method.clone(), world.app.url(&path));
    if path.starts_with("/api/") {
        if let Some(token) = &world.token {
            req = with_token(req, token);
        }
    } else if method != Method::GET {
        req = req.header("x-csrf-token", &world.csrf);
    }
    let fill = |s: &str| s.replace("{role}", role.name());
    req = match case.body {
        Body::Empty if method == Method::GET => req,
        Body::Empty => req.form(&[("noop", "1")]),
        Body::Form(fields) => {
            let fields: Vec<(String, String)> =
                fields.iter().map(|(k, v)| (fill(k), fill(v))).collect();
            req.form(&fields)
        }
        Body::Json(json) => req.json(&serde_json::from_str::<Value>(&fill(json)).unwrap()),
    };
    req.send().await.unwrap()
}

async fn check(role: Role, case: &Case, res: reqwest::Response) -> Option<String> {
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res.text().await.unwrap_or_default();
    let expected = case.expect[role.column()];
    let ok = match expected {
        S(code) => status == code,
        Login => status == 303 && location.starts_with("/login?next="),
        Unauth => {
            status == 401
                && serde_json::from_str::<Value>(&body)
                    .is_ok_and(|v| v["error"]["code"] == "unauthenticated")
        }
        Forbidden => status == 403 && !body.contains("CSRF token is required"),
        Allowed(code) => status == code,
    };
    (!ok).then(|| {
        let snippet: String = body.chars().take(300).collect();
        format!(
            "{:?} {} {}: expected {expected:?}, got {status} {location} {snippet}",
            role, case.method, case.path
        )
    })
}

async fn run_matrix(pool: PgPool, role: Role) {
    let world = world(&pool, role).await;
    let mut failures = Vec::new();
    for case in MATRIX {
        let res = send(&world, role, case).await;
        if let Some(failure) = check(role, case, res).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests decided wrongly:\n{}",
        failures.len(),
        MATRIX.len(),
        failures.join("\n")
    );
    // Whatever the role did, nothing of billing's changed but by an admin (none of the rows touch it).
    let ledger: i32 = sqlx::query_scalar(
        "select s.current_revision from services s join teams t on t.id = s.team_id where t.name = 'billing' and s.name = 'ledger'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ledger, 1);
    // Refused roles left the shop's service untouched.
    let web: i32 = sqlx::query_scalar(
        "select s.current_revision from services s join teams t on t.id = s.team_id where t.name = 'shop' and s.name = 'web'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (deploys, undecided): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where state = 'awaiting_approval') from deploys",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let rollbacks: i64 = sqlx::query_scalar(
        "select count(*) from deploys where trigger = 'rollback' and rollback_of = $1",
    )
    .bind(world.good)
    .fetch_one(&pool)
    .await
    .unwrap();
    let expected_rollbacks = match role {
        Role::Anonymous | Role::OtherTeam => 0,
        Role::Member | Role::Admin => 2,
    };
    assert_eq!(
        rollbacks, expected_rollbacks,
        "{role:?}: rollbacks to the good deploy"
    );
    match role {
        Role::Anonymous | Role::OtherTeam => {
            assert_eq!(web, 1, "{role:?} changed shop/web");
            assert_eq!(
                (deploys, undecided),
                (2, 1),
                "{role:?} requested or decided a deploy"
            );
        }
        Role::Member | Role::Admin => assert!(web > 1, "{role:?} could not change shop/web"),
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn matrix_anonymous(pool: PgPool) {
    run_matrix(pool, Role::Anonymous).await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn matrix_member_of_another_team(pool: PgPool) {
    run_matrix(pool, Role::OtherTeam).await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn matrix_member(pool: PgPool) {
    run_matrix(pool, Role::Member).await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn matrix_admin(pool: PgPool) {
    run_matrix(pool, Role::Admin).await;
}
