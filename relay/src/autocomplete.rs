//! `POST /api/autocomplete`: the original product's contract, answered by the shared
//! engine (`pairprog-autocomplete`), plus the ranked list.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::Json;
use pairprog_autocomplete::{try_suggest, AutocompleteError, Suggestion};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutocompleteRequest {
    /// The document's text.
    pub code: String,
    /// The cursor, in Unicode scalar values from the start of `code`.
    pub cursor_position: i64,
    /// An LSP language id such as `python`; unknown ones get identifier suggestions only.
    pub language: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionBody {
    pub label: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    pub confidence: f64,
    pub description: String,
}

impl From<Suggestion> for SuggestionBody {
    fn from(s: Suggestion) -> Self {
        Self {
            label: s.label,
            text: s.text,
            snippet: s.snippet,
            confidence: s.confidence,
            description: s.description,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutocompleteResponse {
    /// The best suggestion's text ("" when there is none).
    pub suggestion: String,
    /// Its confidence in 0..1.
    pub confidence: f64,
    pub description: String,
    /// Every suggestion, best first.
    pub suggestions: Vec<SuggestionBody>,
}

#[utoipa::path(post, path = "/api/autocomplete", request_body = AutocompleteRequest,
    responses((status = 200, body = AutocompleteResponse), (status = 413, body = ErrorBody, description = "`body_too_large`: over --max-message-bytes"), (status = 422, body = ErrorBody, description = "`invalid_request`: not JSON (this route answers 422, not 400, as the original product did), JSON of the wrong shape (a missing or unknown field, a wrong type) or a language the engine refuses; `cursor_out_of_range`: `cursorPosition` negative or past the end of `code` (it counts chars)")))]
pub async fn autocomplete(
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AutocompleteResponse>, ApiError> {
    // 413 like every other route's body limit (relay/src/limits.rs refuses a declared
    // length first; this catches a body that grew past the limit without declaring it).
    let body = body.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            e.body_text(),
        )
    })?;
    let request: AutocompleteRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid("invalid_request", format!("cannot read the request: {e}"))
    })?;
    let cursor = usize::try_from(request.cursor_position).map_err(|_| {
        ApiError::invalid(
            "cursor_out_of_range",
            format!("cursorPosition {} is negative", request.cursor_position),
        )
    })?;
    // The engine is pure CPU work measured in microseconds; no need for a blocking pool.
    let suggestions =
        try_suggest(&request.code, cursor, &request.language).map_err(|e| match e {
            AutocompleteError::CursorOutOfRange { .. } => {
                ApiError::invalid("cursor_out_of_range", format!("cursorPosition: {e}"))
            }
            other => ApiError::invalid("invalid_request", other.to_string()),
        })?;
    let best = suggestions.first();
    Ok(Json(AutocompleteResponse {
        suggestion: best.map(|s| s.text.clone()).unwrap_or_default(),
        confidence: best.map(|s| s.confidence).unwrap_or(0.0),
        description: best
            .map(|s| s.description.clone())
            .unwrap_or_else(|| "no suggestion here".to_owned()),
        suggestions: suggestions.into_iter().map(Into::into).collect(),
    }))
}
