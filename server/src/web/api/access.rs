//! Users and API tokens over the API: administrators list users and change
//! their access (`policy::can_administer`, through `domain::accounts` like
//! the admin pages); anyone lists their own tokens, administrators everyone's,
//! and a token is revoked by its owner or an administrator
//! (`policy::can_revoke_token`).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::accounts::{self, AccessChange};
use crate::error::AppError;
use crate::store;
use crate::web::api::ApiJson;

/// A user as the API shows it.
#[derive(Debug, Serialize)]
pub struct UserOut {
    /// Row id (the path of `…/users/ID/access`).
    pub id: i64,
    /// Email.
    pub email: String,
    /// Administrator.
    pub admin: bool,
    /// Disabled.
    pub disabled: bool,
    /// Team names, sorted (left out of a change's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
}

/// `GET /api/v1/users`: every user with role, state and teams. Admins only.
pub async fn list_users(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<UserOut>>, AppError> {
    policy::can_administer(&user)?;
    let users = store::users::list(&app.db).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserOut {
                id: u.id,
                email: u.email,
                admin: u.is_admin,
                disabled: u.disabled,
                teams: Some(u.teams),
            })
            .collect(),
    ))
}

/// The body of `POST /api/v1/users/ID/access`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessBody {
    /// `disable`, `enable`, `promote` or `demote`.
    pub change: String,
}

/// `POST /api/v1/users/{id}/access`: `{"change"}` → the user; 409 when it
/// would leave no enabled administrator. Admins only; audited.
pub async fn change_access(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AccessBody>,
) -> Result<Json<UserOut>, AppError> {
    policy::can_administer(&user)?;
    let change = AccessChange::parse(&body.change)?;
    let done = accounts::change_access(&app.db, &user.actor(addr), id, change).await?;
    Ok(Json(UserOut {
        id: done.user.id,
        email: done.user.email,
        admin: done.user.is_admin,
        disabled: done.user.disabled,
        teams: None,
    }))
}

/// A token as the API shows it (never its value).
#[derive(Debug, Serialize)]
pub struct TokenOut {
    /// Row id.
    pub id: i64,
    /// Its owner's email.
    pub owner: String,
    /// Its name.
    pub name: String,
    /// `read`, `deploy`, `approve`.
    pub scopes: Vec<String>,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When last used.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl TokenOut {
    fn of(owner: String, t: store::tokens::TokenInfo) -> Self {
        Self {
            id: t.id,
            owner,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// `GET /api/v1/tokens`: the caller's own tokens, newest first.
pub async fn list_own_tokens(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<TokenOut>>, AppError> {
    policy::can_manage_own_tokens(&user)?;
    let tokens = store::tokens::list_for_user(&app.db, user.id).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenOut::of(user.email.clone(), t))
            .collect(),
    ))
}

/// `GET /api/v1/admin/tokens`: every user's tokens, newest first. Admins only.
pub async fn list_all_tokens(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<TokenOut>>, AppError> {
    policy::can_administer(&user)?;
    let tokens = store::tokens::list_all(&app.db).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenOut::of(t.owner, t.token))
            .collect(),
    ))
}

/// `POST /api/v1/tokens/{id}/revoke`: → the token, revoked from now on; its
/// owner or an administrator (403 otherwise, 404 for no such token); 409
/// when it already was. Audited.
pub async fn revoke_token(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Json<TokenOut>, AppError> {
    let revoked = accounts::revoke_any_token(&app.db, &user.actor(addr), id, |owner| {
        policy::can_revoke_token(&user, owner)
    })
    .await?
    .ok_or_else(|| AppError::Conflict("the token was already revoked".into()))?;
    let mut token = revoked.token;
    token.revoked_at = Some(OffsetDateTime::now_utc());
    Ok(Json(TokenOut::of(revoked.owner, token)))
}
