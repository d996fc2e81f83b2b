//! Authentication extractors: a session for the portal, a bearer token for the API.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use sqlx::PgPool;
use tower_sessions::Session;

use crate::error::AppError;
use crate::store;

/// Session key holding the signed-in user's id.
pub const SESSION_USER_ID: &str = store::sessions::USER_ID_KEY;
/// Session key holding the user's session epoch at sign-in: once the user's
/// epoch moves on (password changed, account disabled), the session is refused.
pub const SESSION_EPOCH: &str = "epoch";
/// Session key of a session started through single sign-on: when (Unix
/// seconds) it ends, so the person signs in through the provider again and
/// their groups apply afresh (`SLIPWAY_OIDC_SESSION_HOURS`).
pub const SESSION_SSO_UNTIL: &str = "sso_until";

/// A signed-in person, with what the policy needs to decide.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// User id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
    /// Names of the teams the user is a member of.
    pub teams: Vec<String>,
    /// Environments a provider group makes the user an approver of (single
    /// sign-on; applied at each sign-in).
    pub approves: Vec<String>,
}

impl CurrentUser {
    /// The user as the audit log records them, acting from `addr`.
    pub fn actor(&self, addr: ClientAddr) -> crate::store::audit::Actor {
        crate::store::audit::Actor {
            user_id: Some(self.id),
            name: self.email.clone(),
            client_addr: Some(addr.0),
        }
    }

    /// True when the user is a member of `team`.
    pub fn is_member_of(&self, team: &str) -> bool {
        self.teams.iter().any(|t| t == team)
    }

    /// The user as stored (id, email, admin flag).
    pub fn as_user(&self) -> store::users::User {
        store::users::User {
            id: self.id,
            email: self.email.clone(),
            is_admin: self.is_admin,
        }
    }

    /// Loads what the policy needs about user `user_id`; `None` when there is
    /// no such user or it is disabled.
    pub async fn load(db: &PgPool, user_id: i64) -> Result<Option<Self>, AppError> {
        Ok(store::users::find_signed(db, user_id)
            .await?
            .map(Self::from))
    }

    /// [`CurrentUser::load`] for a session signed in under `epoch`: `None`
    /// also when the user's sessions were ended since. One round trip.
    pub async fn load_session(
        db: &PgPool,
        user_id: i64,
        epoch: i32,
    ) -> Result<Option<Self>, AppError> {
        Ok(store::users::find_signed_session(db, user_id, epoch)
            .await?
            .map(Self::from))
    }
}

impl From<store::users::Signed> for CurrentUser {
    fn from(user: store::users::Signed) -> Self {
        Self {
            id: user.id,
            email: user.email,
            is_admin: user.is_admin,
            teams: user.teams,
            approves: user.approves,
        }
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    PgPool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        MaybeUser::from_request_parts(parts, state)
            .await?
            .0
            .ok_or(AppError::Unauthenticated)
    }
}

/// The signed-in user, if any (the login page, the error pages).
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl<S> FromRequestParts<S> for MaybeUser
where
    PgPool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(Self(Some(user.clone())));
        }
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Ok(Self(None));
        };
        let user_id: Option<i64> = session.get(SESSION_USER_ID).await?;
        // Sessions from before epochs existed carry none: the users' first epoch.
        let epoch: i32 = session.get(SESSION_EPOCH).await?.unwrap_or(0);
        let sso_until: Option<i64> = session.get(SESSION_SSO_UNTIL).await?;
        if sso_until.is_some_and(|until| time::OffsetDateTime::now_utc().unix_timestamp() >= until)
        {
            // Signed out: the next page sends them through the provider again.
            return Ok(Self(None));
        }
        // The session store read the person with the session (one round
        // trip, the database's answer now); a session saved before sessions
        // recorded their user has none yet and is read the old way.
        let person: Option<Option<store::sessions::Person>> =
            session.get(store::sessions::PERSON_KEY).await?;
        let user = match (user_id, person) {
            (Some(id), Some(Some(person))) if person.id == id => (person.session_epoch == epoch)
                .then_some(CurrentUser {
                    id: person.id,
                    email: person.email,
                    is_admin: person.is_admin,
                    teams: person.teams,
                    approves: person.approves,
                }),
            // Gone or disabled.
            (Some(_), Some(None)) => None,
            (Some(id), _) => CurrentUser::load_session(&PgPool::from_ref(state), id, epoch).await?,
            (None, _) => None,
        };
        if let Some(user) = &user {
            // Cache for later extractors of the same request.
            parts.extensions.insert(user.clone());
        }
        Ok(Self(user))
    }
}

/// An API caller authenticated by `Authorization: Bearer TOKEN`: a live
/// token (not revoked, not expired) of an enabled user, whose scopes cover
/// the call (`policy::required_scope` of the routed path, `policy::token_allows`).
#[derive(Clone, Debug)]
pub struct ApiUser(pub CurrentUser);

impl<S> FromRequestParts<S> for ApiUser
where
    PgPool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AppError::Unauthenticated)?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        let db = PgPool::from_ref(state);
        let presented = store::tokens::authenticate(&db, &super::tokens::hash(token))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if presented.owner_disabled {
            return Err(AppError::TokenRefused(
                "this token's owner is disabled; an administrator can re-enable the account",
            ));
        }
        if presented.expired {
            return Err(AppError::TokenRefused(
                "this token has expired; create a new one on your account page",
            ));
        }
        let user = CurrentUser::load(&db, presented.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        let needed = super::policy::required_scope(&parts.method, &route);
        super::policy::token_allows(&super::tokens::parse_scopes(&presented.scopes), needed)?;
        Ok(Self(user))
    }
}

/// The client's address: as `auth::client::resolve` worked it out (the TCP peer,
/// or a trusted proxy's `X-Forwarded-For`), else the socket's peer, else
/// `unknown` (not served over TCP, e.g. in unit tests).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(resolved) = parts.extensions.get::<ClientAddr>() {
            return Ok(resolved.clone());
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}
