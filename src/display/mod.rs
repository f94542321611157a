//! The pairing display: `wago display` and `wago pair`.
//!
//! A separate process from the gateway. It reads the gateway's
//! `GET /display/status` over loopback HTTP with a display token (narrow
//! scope: status, pairing data, start pairing) and draws one of four screens
//! (starting, pairing, connected, problems) into a pixel buffer that a driver
//! writes to the panel:
//!
//! ```text
//!  gateway ──HTTP──▶ client ─▶ run loop ─▶ screens::render ─▶ Canvas ─▶ driver (fb, ssd1306, term, png)
//!                                  ▲
//!                         button (GPIO edges)
//! ```
//!
//! Must not import the engine (`whatsapp_rust`) or open the store: a display
//! fault can never touch WhatsApp. Only the device modules (`fb`, `ssd1306`,
//! `gpio`) use `unsafe`, for their ioctls.

pub mod button;
pub mod canvas;
pub mod cli;
pub mod client;
pub mod driver;
pub mod fb;
pub mod font;
pub mod gpio;
pub mod input;
pub mod model;
pub mod pair;
pub mod pixfmt;
pub mod png;
pub mod run;
pub mod screens;
pub mod ssd1306;
pub mod term;
pub mod text;

pub use model::{DisplayState, DisplayStatus, WebhookHealth};

/// Why the display could not start or draw.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// The configured device cannot be opened or is not what the config says.
    #[error("display device {path}: {reason}")]
    Device {
        /// The device path.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// The display token cannot be read.
    #[error("display token file {path}: {reason}")]
    Token {
        /// The token file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Talking to the gateway failed.
    #[error("gateway: {0}")]
    Gateway(String),
    /// Writing a frame failed.
    #[error("cannot draw: {0}")]
    Draw(String),
}

/// Exit code of `wago display` when the device is broken or misconfigured:
/// the unit's `RestartPreventExitStatus=` stops systemd restarting it in a loop.
pub const EXIT_DEVICE: u8 = 78;
