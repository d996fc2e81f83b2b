//! `ApiJson`: axum's `Json` extractor whose rejections speak the API's error
//! format, naming the field `body` and saying what is wrong with it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON request body. Unreadable JSON, a body of the wrong shape or a missing
/// `Content-Type: application/json` is a 422 with the field `body`; a body over
/// the size limit keeps its 413.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_response(rejection)),
        }
    }
}

/// The part of axum's message after its generic prefix, e.g. `expected value at line 1 column 1`.
fn detail(rejection: &JsonRejection) -> String {
    let text = rejection.body_text();
    match text.split_once(": ") {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => text,
    }
}

fn rejection_response(rejection: JsonRejection) -> Response {
    let message = match &rejection {
        JsonRejection::JsonSyntaxError(_) => format!("is not valid JSON: {}", detail(&rejection)),
        JsonRejection::JsonDataError(_) => {
            format!("does not have the expected shape: {}", detail(&rejection))
        }
        JsonRejection::MissingJsonContentType(_) => {
            "must be JSON sent with `Content-Type: application/json`".to_owned()
        }
        // Too large or unreadable: the status says it; the error middleware renders JSON.
        _ => return rejection.into_response(),
    };
    AppError::invalid("body", message).into_response()
}
