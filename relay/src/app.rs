//! The HTTP router and the OpenAPI document generated from the handlers' annotations.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::rest;
use crate::state::SharedState;
use crate::ws;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pairprog-relay",
        description = "Rooms, documents, history, health and metrics of a pairprog relay. The collaboration protocol itself runs over the WebSocket /ws/{roomId}; see docs/PROTOCOL.md."
    ),
    paths(
        rest::create_room,
        rest::get_room,
        rest::get_document,
        rest::get_history,
        rest::delete_room,
        rest::health,
        rest::liveness,
        rest::metrics,
        crate::autocomplete::autocomplete,
    )
)]
pub struct ApiDoc;

pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.max_message_bytes;
    Router::new()
        .route("/api/rooms", post(rest::create_room))
        .route(
            "/api/rooms/{room_id}",
            get(rest::get_room).delete(rest::delete_room),
        )
        .route(
            "/api/rooms/{room_id}/documents/{path}",
            get(rest::get_document),
        )
        .route(
            "/api/rooms/{room_id}/documents/{path}/history",
            get(rest::get_history),
        )
        .route("/api/autocomplete", post(crate::autocomplete::autocomplete))
        .route("/ws/{room_id}", get(ws::upgrade))
        .route("/health", get(rest::health))
        .route("/liveness", get(rest::liveness))
        .route("/metrics", get(rest::metrics))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
