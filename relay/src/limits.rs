//! Protection against one client using up the relay: per-IP rate limits on room
//! creation and WebSocket connects, caps on connections (per room and in total), an
//! allowed list of browser Origins, and a body size limit on every route.
//!
//! The rate limits are token buckets keyed by the client's IP: a burst of
//! `per_minute`, refilled evenly over the minute. They live in memory, per relay
//! process; behind a load balancer each relay limits what reaches it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::state::SharedState;

/// Buckets kept before idle (full) ones are forgotten, so a flood of addresses cannot
/// grow the map without bound.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// What the router shares with the handlers that enforce limits.
pub struct Limits {
    pub room_creates: RateLimiter,
    pub connects: RateLimiter,
    /// WebSocket connections accepted and not yet ended, for `--max-connections`.
    open: AtomicUsize,
    max_connections: usize,
    trust_forwarded_for: bool,
}

impl Limits {
    pub fn new(config: &Config) -> Arc<Limits> {
        Arc::new(Limits {
            room_creates: RateLimiter::new(config.room_creates_per_minute),
            connects: RateLimiter::new(config.connects_per_minute),
            open: AtomicUsize::new(0),
            max_connections: config.max_connections,
            trust_forwarded_for: config.trust_forwarded_for,
        })
    }

    /// The client's IP: the peer address, or with `--trust-forwarded-for` the last
    /// X-Forwarded-For entry (the one the trusted proxy appended). Without connection
    /// info (a server started without it) every client shares one bucket.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        if self.trust_forwarded_for {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip())
    }

    /// Reserves a place for one more WebSocket connection, if the relay has one. The
    /// place is given back when the returned guard drops.
    pub fn reserve_connection(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot(self.clone()))
    }
}

/// One reserved connection place; dropping it frees the place.
pub struct ConnectionSlot(Arc<Limits>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Token buckets per IP address.
pub struct RateLimiter {
    /// Bucket size, and tokens added per minute. 0: no limit.
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        // The map stays consistent even if a holder panicked mid-update.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one token for `ip` at `now`. `Err(seconds)` says how long until the next
    /// token, for a Retry-After header.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.lock();
        if buckets.len() >= MAX_TRACKED_ADDRESSES && !buckets.contains_key(&ip) {
            // Forget addresses whose buckets have refilled: they behave as new anyway.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil() as u64)
        }
    }
}

/// The answer to a rate-limited request: 429 with Retry-After.
pub fn too_many_requests(what: &str, retry_after_secs: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many {what} from this address; retry in {retry_after_secs} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The peer address axum recorded, when the server was started with connection info
/// (`into_make_service_with_connect_info`); `None` otherwise.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| *addr),
        ))
    }
}

/// Runs before every route: refuses an Origin that is not allowed (403) and a body
/// whose declared length is over `--max-message-bytes` (413). Bodies without a declared
/// length are bounded where they are read (`DefaultBodyLimit`).
pub async fn guard(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let config = &state.config;
    if !config.allowed_origins.is_empty() {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .is_ok_and(|origin| origin_allowed(&config.allowed_origins, origin));
            if !allowed {
                state.metrics.origin_refused.fetch_add(1, Ordering::Relaxed);
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "origin_not_allowed",
                    "this relay does not accept requests from that web page's origin",
                )
                .into_response();
            }
        }
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared {
        let limit = config.max_message_bytes as u64;
        if length > limit {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is {length} bytes; the limit is {limit}"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Origins compare as scheme://host[:port], case-insensitively, ignoring a trailing '/'.
fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limiter = RateLimiter::new(60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        assert_eq!(limiter.check(ip, t0), Err(1));
        assert!(limiter.check(other, t0).is_ok(), "buckets are per address");
        assert!(limiter.check(ip, t0 + Duration::from_secs(1)).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..1000 {
            assert!(limiter.check(ip, Instant::now()).is_ok());
        }
    }

    #[test]
    fn origins_match_exactly_up_to_case_and_slash() {
        let allowed = vec!["https://app.example".to_owned()];
        assert!(origin_allowed(&allowed, "https://APP.example/"));
        assert!(!origin_allowed(&allowed, "https://app.example.evil"));
        assert!(!origin_allowed(&allowed, "http://app.example"));
    }
}
