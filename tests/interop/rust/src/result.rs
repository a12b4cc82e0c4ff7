//! The one JSON line every interop client prints (schema "hopd-interop/1", docs/INTEROP.md).

use serde::Serialize;

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LimitResult {
    pub duration_s: Option<u64>,
    pub data_bytes: Option<u64>,
}

/// The limit a relay client event carried (libp2p-relay does not export the type's name).
#[macro_export]
macro_rules! limit_result {
    ($limit:expr) => {
        $limit.as_ref().map(|l| $crate::result::LimitResult {
            duration_s: l.duration().map(|d| d.as_secs()),
            data_bytes: l.data_in_bytes(),
        })
    };
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationResult {
    pub ms: f64,
    /// rust-libp2p's relay client does not report the reservation's expiry.
    pub expires_at: Option<u64>,
    pub limit: Option<LimitResult>,
    pub addrs: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectResult {
    pub ms: f64,
    pub relayed: bool,
    pub remote_addr: String,
    pub limit: Option<LimitResult>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EchoResult {
    pub bytes: usize,
    pub sent: usize,
    pub received: usize,
    pub intact: bool,
    pub ms: f64,
    pub via: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HolepunchResult {
    pub direct: bool,
    pub direct_after_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_addr: Option<String>,
    pub events: Vec<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClosedResult {
    pub after_ms: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientResult {
    pub schema: &'static str,
    pub r#impl: &'static str,
    pub version: String,
    pub role: &'static str,
    pub peer_id: String,
    pub relay: String,
    pub ok: bool,
    pub errors: Vec<String>,
    pub relay_ping_ms: Option<f64>,
    pub reservation: Option<ReservationResult>,
    pub connect: Option<ConnectResult>,
    pub echo: Option<EchoResult>,
    pub holepunch: Option<HolepunchResult>,
    pub closed: Option<ClosedResult>,
    pub observed_addrs: Vec<String>,
    pub listen_addrs: Vec<String>,
    pub total_ms: f64,
}
