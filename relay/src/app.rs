//! The HTTP router and the OpenAPI document generated from the handlers' annotations.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::limits::{self, Limits};
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
    ),
    modifiers(&RoomSecretScheme)
)]
pub struct ApiDoc;

/// Declares the `room_secret` scheme the room routes name: a room's join or read-only
/// secret as a bearer token (or, for browsers, the `secret` query parameter).
struct RoomSecretScheme;

impl utoipa::Modify for RoomSecretScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "room_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The room's join secret (full access) or read-only secret, from POST /api/rooms. Needed for rooms created with secrets, and for every room when the relay runs with --require-room-secret.",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.max_message_bytes;
    let body_timeout = state.config.http_header_timeout;
    let limits = Limits::new(&state.config);
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
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn(crate::web::secret_subprotocol))
        .layer(DefaultBodyLimit::max(body_limit))
        // A body that stops arriving ends the request (the headers have their own
        // timeout in `serve.rs`), so a half-sent request cannot hold its connection.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::guard,
        ))
        .layer(Extension(limits))
        .with_state(state)
}
