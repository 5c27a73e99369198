//! The wall clock in milliseconds since the Unix epoch, as the store and the other
//! relays record times. A leaf module: everything may use it, it uses nothing.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
