//! What the gateway tells the display: the wire form of `GET /display/status`.
//!
//! Shared by the gateway (which fills it) and the display process (which
//! draws it). Plain data: no engine or store types, so the display never
//! links against either.

use serde::{Deserialize, Serialize};

/// The session's state as the display sees it (the engine's states plus the
/// one screen-only state: no session at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayState {
    /// No WhatsApp account is set up on the box.
    NoSession,
    /// Not running.
    Disconnected,
    /// Opening the connection or logging in.
    Connecting,
    /// A QR code or pair code is waiting to be scanned or typed.
    Pairing,
    /// Logged in and online.
    Connected,
    /// Unlinked from the phone.
    LoggedOut,
    /// Gave up after repeated refusals.
    Failed,
}

/// Webhook delivery health of the shown session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookHealth {
    /// Jobs waiting for delivery (first try or retry).
    #[serde(rename = "Pending")]
    pub pending: u64,
    /// Age of the oldest pending job, ms.
    #[serde(rename = "OldestPendingAgeMs")]
    pub oldest_pending_age_ms: Option<i64>,
    /// Jobs that gave up (dead letters).
    #[serde(rename = "Dead")]
    pub dead: u64,
    /// Subscriptions the session has.
    #[serde(rename = "Subscriptions")]
    pub subscriptions: u64,
}

/// Everything a screen may show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayStatus {
    /// The shown session's state.
    #[serde(rename = "State")]
    pub state: DisplayState,
    /// The shown session's id, if there is one.
    #[serde(rename = "SessionId")]
    pub session_id: Option<String>,
    /// The shown session's name.
    #[serde(rename = "SessionName")]
    pub session_name: Option<String>,
    /// The account's phone number (digits) once paired.
    #[serde(rename = "Phone")]
    pub phone: Option<String>,
    /// The account's WhatsApp name.
    #[serde(rename = "PushName")]
    pub push_name: Option<String>,
    /// The pairing QR payload; absent when not pairing or when withheld from this caller.
    #[serde(rename = "QRCode")]
    pub qr_code: Option<String>,
    /// When the QR code rotates, Unix ms.
    #[serde(rename = "QRExpiresAt")]
    pub qr_expires_at: Option<i64>,
    /// True when a QR exists but this caller may not see it (`display.qr_on_lan = false`).
    #[serde(rename = "QRWithheld", default)]
    pub qr_withheld: bool,
    /// The 8-character pair code while pairing by phone number.
    #[serde(rename = "PairCode")]
    pub pair_code: Option<String>,
    /// Where LAN software sends its requests.
    #[serde(rename = "LanUrl")]
    pub lan_url: String,
    /// Webhook delivery health.
    #[serde(rename = "Webhooks")]
    pub webhooks: WebhookHealth,
    /// When the last message (either way) was seen, Unix ms.
    #[serde(rename = "LastMessageAt")]
    pub last_message_at: Option<i64>,
    /// What went wrong last, in the engine's words.
    #[serde(rename = "LastError")]
    pub last_error: Option<String>,
    /// The stable code of `last_error` (`dns_failure`, `tls_failure`, …).
    #[serde(rename = "LastErrorCode", default)]
    pub last_error_code: Option<String>,
    /// When `last_error` happened, Unix ms.
    #[serde(rename = "LastErrorAt", default)]
    pub last_error_at: Option<i64>,
    /// The disk under the data directory is full (writes refused).
    #[serde(rename = "StoreFull")]
    pub store_full: bool,
    /// The gateway's clock, Unix ms (countdowns use it, not the display's).
    #[serde(rename = "Now")]
    pub now: i64,
}

impl DisplayStatus {
    /// A status with nothing in it, in `state`.
    pub fn empty(state: DisplayState, now: i64) -> DisplayStatus {
        DisplayStatus {
            state,
            session_id: None,
            session_name: None,
            phone: None,
            push_name: None,
            qr_code: None,
            qr_expires_at: None,
            qr_withheld: false,
            pair_code: None,
            lan_url: String::new(),
            webhooks: WebhookHealth::default(),
            last_message_at: None,
            last_error: None,
            last_error_code: None,
            last_error_at: None,
            store_full: false,
            now,
        }
    }
}
