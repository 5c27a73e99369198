//! The REST API. Room shapes follow the original web product (`roomId`, `createdAt`,
//! `code`, `language`) so its clients keep working; documents and history are new.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pairprog_protocol::messages::Participant;
use pairprog_protocol::Operation;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::ToSchema;

use crate::access::{self, NewSecrets, Role};
use crate::api_error::{ApiError, ErrorBody};
use crate::document::{now_ms, DocCommand, DocView, ReadError};
use crate::ids;
use crate::limits::{self, Limits, PeerAddr};
use crate::room::{DispatchError, Room};
use crate::state::SharedState;
use crate::timefmt::rfc3339_ms;

const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomRequest {
    /// Text of a first document (optional).
    pub code: Option<String>,
    /// Its language id, such as `python` (default `plaintext`).
    pub language: Option<String>,
    /// Its workspace-relative path (default `main` plus the language's extension).
    pub path: Option<String>,
    /// `true` creates the room with a join secret and a read-only secret, returned once
    /// in the answer. Rooms always get them when the relay requires room secrets.
    pub secrets: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoomResponse {
    pub room_id: String,
    pub created_at: String,
    /// Full access: present it to join, edit and read. Returned only here, only once;
    /// absent for a room without secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_secret: Option<String>,
    /// Watch only: join, read and show a cursor, but no edits and no new documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentSummaryBody {
    pub path: String,
    pub language: String,
    pub revision: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantBody {
    pub id: String,
    pub name: String,
    pub color: String,
    /// Present (true) for a participant who joined with the read-only secret.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl From<Participant> for ParticipantBody {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id,
            name: p.name,
            color: p.color,
            read_only: p.read_only,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomBody {
    pub room_id: String,
    pub created_at: String,
    pub documents: Vec<DocumentSummaryBody>,
    pub participants: Vec<ParticipantBody>,
    pub participant_count: usize,
    /// Text of the room's first document ("" when it has none).
    pub code: String,
    /// Language of the room's first document.
    pub language: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentBody {
    pub path: String,
    pub language: String,
    pub text: String,
    pub revision: u64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Return operations after this revision (default 0: from the start).
    pub since: Option<u64>,
    /// At most this many (default and maximum 10,000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntryBody {
    pub revision: u64,
    /// The operation in its compact form: retain counts, negative delete counts, inserts.
    #[schema(value_type = Vec<Object>)]
    pub op: Operation,
    pub author: String,
    pub time: String,
    pub client_id: String,
    pub seq: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBody {
    pub path: String,
    pub revision: u64,
    pub operations: Vec<HistoryEntryBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    pub status: &'static str,
    pub database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn default_path(language: &str) -> String {
    let ext = match language {
        "python" => "py",
        "javascript" => "js",
        "typescript" => "ts",
        "rust" => "rs",
        "go" => "go",
        "java" => return "Main.java".to_owned(),
        "c" => "c",
        "cpp" => "cpp",
        _ => "txt",
    };
    format!("main.{ext}")
}

#[utoipa::path(post, path = "/api/rooms", request_body(content = Option<CreateRoomRequest>, description = "optional first document, and whether the room gets secrets"),
    responses((status = 201, body = CreateRoomResponse), (status = 400, body = ErrorBody, description = "`malformed_json`: the body is not JSON"), (status = 403, body = ErrorBody, description = "Origin not allowed"), (status = 413, body = ErrorBody, description = "`body_too_large` (over --max-message-bytes) or `document_too_large` (`code` over --max-document-bytes)"), (status = 422, body = ErrorBody, description = "`invalid_request`: JSON of the wrong shape (an unknown field, a field of the wrong type); `invalid_path`: `path` empty, over 1024 bytes, absolute, with `\\`, `.`/`..` or empty segments, control or invisible characters (zero-width, bidirectional controls, a byte-order mark, spaces but U+0020) or slash look-alikes (paths are stored in Unicode NFC); `invalid_text`: `code`, `language` or `path` holds U+0000. Nothing is created."), (status = 429, body = ErrorBody, description = "too many rooms created from this address"), (status = 503, body = ErrorBody, description = "`storage_unavailable`: the database did not answer; nothing was created (the room and its first document are one transaction)")))]
pub async fn create_room(
    State(state): State<SharedState>,
    Extension(limits): Extension<Arc<Limits>>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CreateRoomResponse>), Response> {
    let ip = limits.client_ip(&headers, peer);
    if let Err(retry_after) = limits.room_creates.check(ip, Instant::now()) {
        state
            .metrics
            .rate_limited_room_creates
            .fetch_add(1, Ordering::Relaxed);
        return Err(limits::too_many_requests("rooms created", retry_after));
    }
    create_room_checked(&state, &body)
        .await
        .map_err(IntoResponse::into_response)
}

async fn create_room_checked(
    state: &SharedState,
    body: &Bytes,
) -> Result<(StatusCode, Json<CreateRoomResponse>), ApiError> {
    let request: CreateRoomRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRoomRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                ApiError::invalid("invalid_request", e.to_string())
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string())
            }
        })?
    };
    let language = request.language.unwrap_or_else(|| "plaintext".to_owned());
    let path = request.path.unwrap_or_else(|| default_path(&language));
    let path = ids::validate_path(&path).map_err(|why| ApiError::invalid("invalid_path", why))?;
    if let Some(code) = &request.code {
        if code.len() > state.config.max_document_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "document_too_large",
                format!(
                    "the code is {} bytes; the limit is {}",
                    code.len(),
                    state.config.max_document_bytes
                ),
            ));
        }
    }
    // Postgres cannot store U+0000 and SQLite can: refuse it on both, before anything
    // is written.
    for (field, value) in [
        ("code", request.code.as_deref()),
        ("language", Some(language.as_str())),
        ("path", Some(path.as_str())),
    ] {
        if value.is_some_and(|v| v.contains('\0')) {
            return Err(ApiError::invalid(
                "invalid_text",
                format!("{field} must not contain the NUL character (U+0000)"),
            ));
        }
    }
    let id = ids::room_id();
    let created = now_ms();
    let secrets = (request.secrets == Some(true) || state.config.require_room_secret)
        .then(NewSecrets::generate);
    // The room and its first document are one transaction, so an error never leaves a
    // room behind that nobody was told about.
    state
        .store
        .create_room_with_document(
            &id,
            created,
            secrets.as_ref().map(|s| &s.hashes),
            request
                .code
                .as_deref()
                .map(|code| (path.as_str(), language.as_str(), code)),
        )
        .await
        .map_err(ApiError::unavailable)?;
    Ok((
        StatusCode::CREATED,
        Json(CreateRoomResponse {
            room_id: id,
            created_at: rfc3339_ms(created),
            join_secret: secrets.as_ref().map(|s| s.join.clone()),
            read_only_secret: secrets.map(|s| s.read_only),
        }),
    ))
}

/// The room, if it exists and the request's secret lets it in with at least `need`.
/// Returns its creation time. See `access::check` for what each case answers.
async fn authorized_room(
    state: &SharedState,
    room_id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    need: Role,
) -> Result<i64, ApiError> {
    let secret = access::presented_secret(headers, query);
    let room = if ids::plausible_room_id(room_id) {
        state
            .store
            .room(room_id)
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    };
    let role = access::check(
        room.as_ref(),
        secret.as_deref(),
        state.config.require_room_secret,
        ApiError::room_not_found(),
    )
    .inspect_err(|e| {
        if e.status == StatusCode::FORBIDDEN {
            state.metrics.count_forbidden();
        }
    })?;
    if need == Role::Write && role == Role::ReadOnly {
        state.metrics.count_forbidden();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "read_only",
            "the read-only secret does not allow this; use the join secret",
        ));
    }
    // check() refuses a missing room, so here it exists.
    Ok(room.map_or(0, |r| r.created_at_ms))
}

/// Reads a document through its owner, loading it if needed.
async fn read_document(
    state: &SharedState,
    room: &Arc<Room>,
    path: &str,
) -> Result<DocView, ApiError> {
    let (reply, answer) = oneshot::channel();
    room.dispatch(path, DocCommand::Read { reply }, state)
        .map_err(|e| match e {
            DispatchError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the document is busy; try again",
            ),
            DispatchError::Gone => ApiError::room_not_found(),
        })?;
    match tokio::time::timeout(READ_TIMEOUT, answer).await {
        Ok(Ok(Ok(view))) => Ok(view),
        Ok(Ok(Err(ReadError::NotFound))) => Err(ApiError::document_not_found()),
        Ok(Ok(Err(ReadError::Storage(e)))) => Err(ApiError::unavailable(e)),
        Ok(Err(_)) | Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the document did not answer in time",
        )),
    }
}

#[utoipa::path(get, path = "/api/rooms/{roomId}", params(("roomId" = String, Path), ("secret" = Option<String>, Query, description = "the room's join or read-only secret, for clients that cannot send `Authorization: Bearer <secret>` (browsers); the header is preferred because query strings end up in logs")),
    security((), ("room_secret" = [])),
    responses((status = 200, body = RoomBody), (status = 403, body = ErrorBody, description = "wrong or missing room secret (also for unknown rooms when secrets are required)"), (status = 404, body = ErrorBody)))]
pub async fn get_room(
    State(state): State<SharedState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<RoomBody>, ApiError> {
    let created =
        authorized_room(&state, &room_id, &headers, query.as_deref(), Role::ReadOnly).await?;
    let documents = state
        .store
        .documents(&room_id)
        .await
        .map_err(ApiError::unavailable)?;
    // Pinned while this request uses it; dropping the pin on any return releases it.
    let room = state.rooms.pin(&room_id, &state);
    if let Some(cluster) = &state.cluster {
        // Count the participants connected to other relays too.
        if let Err(e) = cluster.load_roster(&room, &state).await {
            return Err(ApiError::unavailable(e));
        }
    }
    let participants = room.participants();
    let (code, language) = match documents.first() {
        Some(first) => {
            let view = read_document(&state, &room, &first.path).await?;
            (view.text, view.language)
        }
        None => (String::new(), "plaintext".to_owned()),
    };
    drop(room);
    Ok(Json(RoomBody {
        room_id,
        created_at: rfc3339_ms(created),
        participant_count: participants.len(),
        participants: participants.into_iter().map(Into::into).collect(),
        documents: documents
            .into_iter()
            .map(|d| DocumentSummaryBody {
                path: d.path,
                language: d.language,
                revision: d.revision,
            })
            .collect(),
        code,
        language,
    }))
}

#[utoipa::path(get, path = "/api/rooms/{roomId}/documents/{path}",
    params(("roomId" = String, Path), ("path" = String, Path, description = "workspace-relative path, percent-encoded (src%2Fmain.rs)"), ("secret" = Option<String>, Query, description = "the room's join or read-only secret, for clients that cannot send `Authorization: Bearer <secret>` (browsers); the header is preferred because query strings end up in logs")),
    security((), ("room_secret" = [])),
    responses((status = 200, body = DocumentBody), (status = 403, body = ErrorBody, description = "wrong or missing room secret"), (status = 404, body = ErrorBody)))]
pub async fn get_document(
    State(state): State<SharedState>,
    Path((room_id, path)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<DocumentBody>, ApiError> {
    authorized_room(
        &state,
        &room_id,
        &headers,
        raw_query.as_deref(),
        Role::ReadOnly,
    )
    .await?;
    let path = ids::validate_path(&path).map_err(|_| ApiError::document_not_found())?;
    let room = state.rooms.pin(&room_id, &state);
    let view = read_document(&state, &room, &path).await?;
    Ok(Json(DocumentBody {
        path: view.path,
        language: view.language,
        text: view.text,
        revision: view.revision,
    }))
}

#[utoipa::path(get, path = "/api/rooms/{roomId}/documents/{path}/history",
    params(("roomId" = String, Path), ("path" = String, Path), HistoryQuery, ("secret" = Option<String>, Query, description = "the room's join or read-only secret, for clients that cannot send `Authorization: Bearer <secret>` (browsers); the header is preferred because query strings end up in logs")),
    security((), ("room_secret" = [])),
    responses((status = 200, body = HistoryBody), (status = 403, body = ErrorBody, description = "wrong or missing room secret"), (status = 404, body = ErrorBody)))]
pub async fn get_history(
    State(state): State<SharedState>,
    Path((room_id, path)): Path<(String, String)>,
    Query(query): Query<HistoryQuery>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<HistoryBody>, ApiError> {
    authorized_room(
        &state,
        &room_id,
        &headers,
        raw_query.as_deref(),
        Role::ReadOnly,
    )
    .await?;
    let path = ids::validate_path(&path).map_err(|_| ApiError::document_not_found())?;
    let room = state.rooms.pin(&room_id, &state);
    let view = read_document(&state, &room, &path).await?;
    let since = query.since.unwrap_or(0);
    if since > view.revision {
        return Err(ApiError::invalid(
            "future_revision",
            format!(
                "since={since} is ahead of the document's revision {}",
                view.revision
            ),
        ));
    }
    let limit = query.limit.unwrap_or(10_000).clamp(1, 10_000);
    let logged = state
        .store
        .operations_since(view.document_id, since, limit)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(HistoryBody {
        path: view.path,
        revision: view.revision,
        operations: logged
            .into_iter()
            .map(|l| HistoryEntryBody {
                revision: l.revision,
                op: l.operation,
                author: l.author,
                time: rfc3339_ms(l.committed_at_ms),
                client_id: l.client_id,
                seq: l.client_seq,
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/rooms/{roomId}", params(("roomId" = String, Path), ("secret" = Option<String>, Query, description = "the room's join or read-only secret, for clients that cannot send `Authorization: Bearer <secret>` (browsers); the header is preferred because query strings end up in logs")),
    security((), ("room_secret" = [])),
    responses((status = 204), (status = 403, body = ErrorBody, description = "wrong or missing room secret, or the read-only secret (`read_only`)"), (status = 404, body = ErrorBody)))]
pub async fn delete_room(
    State(state): State<SharedState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    authorized_room(&state, &room_id, &headers, query.as_deref(), Role::Write).await?;
    if let Some(room) = state.rooms.remove(&room_id, &state) {
        room.delete();
    }
    match state.store.delete_room(&room_id).await {
        Ok(true) => {
            if let Some(cluster) = &state.cluster {
                cluster.publish(
                    &pairprog_protocol::bus::BusMessage::RoomDeleted {
                        relay: cluster.relay_id.clone(),
                        room: room_id,
                    },
                    &state,
                );
            }
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => Err(ApiError::room_not_found()),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

#[utoipa::path(get, path = "/health", responses((status = 200, body = HealthBody), (status = 503, body = HealthBody)))]
pub async fn health(State(state): State<SharedState>) -> Response {
    let database = state.store.backend();
    match tokio::time::timeout(Duration::from_secs(3), state.store.ping()).await {
        Ok(Ok(())) => Json(HealthBody {
            status: "ok",
            database,
            error: None,
        })
        .into_response(),
        Ok(Err(e)) => unhealthy(database, e.to_string()),
        Err(_) => unhealthy(
            database,
            "the database did not answer within 3 s".to_owned(),
        ),
    }
}

fn unhealthy(database: &'static str, error: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(HealthBody {
            status: "unavailable",
            database,
            error: Some(error),
        }),
    )
        .into_response()
}

#[utoipa::path(get, path = "/liveness", responses((status = 200, description = "the process is up")))]
pub async fn liveness() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "alive" }))
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
