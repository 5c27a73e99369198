//! The web client's pages (`web/`, built into `web/dist/` and committed), embedded in
//! the binary so a fresh `cargo run -p pairprog-relay` serves them with no npm step:
//! `/` (create or join a room), `/r/{roomId}` (the room; its secret stays in the URL
//! fragment), `/docs` (the API, rendered from `/openapi.json`) and `/assets/*`.
//!
//! Every page response carries a strict Content-Security-Policy (scripts only from this
//! origin, no inline script, styles from this origin or with the response's nonce,
//! connections only to this origin),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//!
//! [`secret_subprotocol`] lets a browser present a room secret on the WebSocket upgrade
//! without putting it in the URL, where access logs would keep it.

use axum::extract::{Path, Request};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pairprog_protocol::messages::{SECRET_SUBPROTOCOL_PREFIX, WEB_SUBPROTOCOL};
use tower_http::set_header::SetResponseHeaderLayer;

/// Scripts and connections only from this origin, no inline script, no `eval`. Style
/// elements need the response's nonce: CodeMirror writes its rules into a `<style>`
/// element, which it tags with the nonce the page hands it (`<meta name="csp-nonce">`).
fn csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Where a page's HTML takes the response's nonce.
const NONCE_PLACEHOLDER: &str = "__CSP_NONCE__";

const HTML: &str = "text/html; charset=utf-8";

/// The built pages and assets, by name.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        HTML,
        include_bytes!("../../web/dist/index.html"),
    ),
    (
        "room.html",
        HTML,
        include_bytes!("../../web/dist/room.html"),
    ),
    (
        "docs.html",
        HTML,
        include_bytes!("../../web/dist/docs.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist/app.css"),
    ),
    (
        "home.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/home.js"),
    ),
    (
        "room.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/room.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/docs.js"),
    ),
];

/// An HTML page with a fresh nonce in its CSP and in its `csp-nonce` meta tag.
fn page(name: &str) -> Response {
    let Some((_, _, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    };
    let mut bytes = [0u8; 18];
    if getrandom::fill(&mut bytes).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a nonce",
        )
            .into_response();
    }
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    let html = String::from_utf8_lossy(body).replace(NONCE_PLACEHOLDER, &nonce);
    let Ok(policy) = HeaderValue::from_str(&csp(&nonce)) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad policy").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HTML)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::CONTENT_SECURITY_POLICY, policy),
        ],
        html,
    )
        .into_response()
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // The names are not content-hashed, so a browser revalidates each time.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The page routes, with their security headers.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page("index.html") }))
        .route(
            "/r/{room_id}",
            get(|_: Path<String>| async { page("room.html") }),
        )
        .route("/docs", get(|| async { page("docs.html") }))
        .route(
            "/assets/{name}",
            get(|Path(name): Path<String>| async move {
                // The pages themselves are served with their nonce, never as assets.
                if name.ends_with(".html") {
                    return (StatusCode::NOT_FOUND, "no such asset").into_response();
                }
                asset(&name)
            }),
        )
        // Pages set their own policy (with a nonce); this one covers the assets.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// A browser's `WebSocket` cannot set `Authorization`, and a `?secret=` query would be
/// written to access logs. The page offers two subprotocols instead:
/// `pairprog.v1, pairprog.secret.<secret>`. For `/ws/` upgrades this middleware turns
/// the second into `Authorization: Bearer <secret>` (unless the request has one), so the
/// upgrade handler checks it like any other, and answers a successful upgrade with the
/// `pairprog.v1` subprotocol, which a browser requires when it offered any.
pub async fn secret_subprotocol(mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/ws/") {
        return next.run(req).await;
    }
    let protocol = HeaderName::from_static("sec-websocket-protocol");
    let offered: Vec<String> = req
        .headers()
        .get_all(&protocol)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect();
    let speaks_web = offered.iter().any(|p| p == WEB_SUBPROTOCOL);
    let secret = offered
        .iter()
        .find_map(|p| p.strip_prefix(SECRET_SUBPROTOCOL_PREFIX))
        .filter(|s| !s.is_empty())
        .and_then(|s| HeaderValue::from_str(&format!("Bearer {s}")).ok());
    if let Some(bearer) = secret {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            req.headers_mut().insert(header::AUTHORIZATION, bearer);
        }
    }
    let mut res = next.run(req).await;
    if speaks_web && res.status() == StatusCode::SWITCHING_PROTOCOLS {
        res.headers_mut()
            .insert(protocol, HeaderValue::from_static(WEB_SUBPROTOCOL));
    }
    res
}
