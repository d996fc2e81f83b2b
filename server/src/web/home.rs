//! The landing page for signed-in users.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::web::layout::Layout;

/// Home routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(show_home))
}

/// The home page.
#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    layout: Layout,
    teams: Vec<String>,
}

/// `GET /`: signed-in users only.
async fn show_home(user: CurrentUser, layout: Layout) -> HomePage {
    HomePage {
        layout,
        teams: user.teams,
    }
}
