//! A session's state as the API, the display and webhooks see it.
//!
//! ```text
//!  disconnected ─connect─▶ connecting ─QR issued─▶ pairing ─scanned─▶ connecting ─▶ connected
//!        ▲                    │  ▲                                                 │
//!        └──── disconnect ────┘  └────────────── drop (reconnects itself) ─────────┘
//!  logged_out: the account was unlinked (keys wiped)   failed: gave up, `last_error` says why
//! ```
//!
//! `pairing` is only ever reported while a QR code or pair code is valid: a
//! session whose code expired reports `connecting` until the next one.

use super::diagnosis::Diagnosis;
use serde::Serialize;

/// The state machine's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not running.
    Disconnected,
    /// Opening the connection or logging in.
    Connecting,
    /// Waiting for the phone to scan the QR code or enter the pair code.
    Pairing,
    /// Logged in and online.
    Connected,
    /// Unlinked from the phone; pairing again is needed.
    LoggedOut,
    /// Stopped after repeated refusals; see `last_error`.
    Failed,
}

/// A code waiting to be scanned or typed, with its expiry (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// The QR payload or the 8-character pair code.
    pub code: String,
    /// When it stops being valid, Unix milliseconds.
    pub expires_at: i64,
}

/// A session's live status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    /// Current state.
    pub state: State,
    /// The account's phone JID once paired.
    pub jid: Option<String>,
    /// The account's LID once paired.
    pub lid: Option<String>,
    /// The account's push name.
    pub push_name: Option<String>,
    /// What went wrong last: a stable code, a sentence, the time.
    pub last_error: Option<Diagnosis>,
    /// The current QR code while pairing.
    pub qr: Option<Code>,
    /// The current pair code while pairing by phone number.
    pub pair_code: Option<Code>,
    /// When the last message (either way) was seen, Unix ms.
    pub last_message_at: Option<i64>,
}

impl Default for SessionStatus {
    fn default() -> Self {
        SessionStatus {
            state: State::Disconnected,
            jid: None,
            lid: None,
            push_name: None,
            last_error: None,
            qr: None,
            pair_code: None,
            last_message_at: None,
        }
    }
}

impl SessionStatus {
    /// The status as of `now`: expired codes are dropped, and `pairing`
    /// without a valid code reads `connecting`.
    pub fn at(&self, now: i64) -> SessionStatus {
        let mut s = self.clone();
        s.qr = s.qr.filter(|c| c.expires_at > now);
        s.pair_code = s.pair_code.filter(|c| c.expires_at > now);
        if s.state == State::Pairing && s.qr.is_none() && s.pair_code.is_none() {
            s.state = State::Connecting;
        }
        s
    }

    /// Whether the session is online.
    pub fn connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Whether the session has a paired account.
    pub fn logged_in(&self) -> bool {
        self.jid.is_some() && !matches!(self.state, State::LoggedOut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_is_never_reported_without_a_valid_code() {
        let mut s = SessionStatus {
            state: State::Pairing,
            qr: Some(Code {
                code: "q".into(),
                expires_at: 100,
            }),
            ..SessionStatus::default()
        };
        assert_eq!(s.at(99).state, State::Pairing);
        assert_eq!(s.at(100).state, State::Connecting);
        assert!(s.at(100).qr.is_none());
        s.pair_code = Some(Code {
            code: "ABCD1234".into(),
            expires_at: 200,
        });
        assert_eq!(s.at(150).state, State::Pairing);
        assert_eq!(s.at(150).pair_code.map(|c| c.code), Some("ABCD1234".into()));
    }
}
