//! The `[display]` section: the pairing display process (`wago display`)
//! and the gateway's display routes.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// A driver's pixel format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 16-bit 5-6-5.
    Rgb565,
    /// 32-bit, X unused.
    Xrgb8888,
    /// 1 bit per pixel in SSD1306 page order.
    Mono,
}

impl PixelFormat {
    /// Bits per pixel.
    pub fn bits(self) -> u32 {
        match self {
            PixelFormat::Rgb565 => 16,
            PixelFormat::Xrgb8888 => 32,
            PixelFormat::Mono => 1,
        }
    }

    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb565 => "rgb565",
            PixelFormat::Xrgb8888 => "xrgb8888",
            PixelFormat::Mono => "mono",
        }
    }
}

/// Default token file name inside the data directory.
pub const DISPLAY_TOKEN_FILE: &str = "display-token";
/// Default time between status polls, ms.
pub const DEFAULT_POLL_MS: u64 = 1000;
/// Default SSD1306 I²C address.
pub const DEFAULT_I2C_ADDRESS: u16 = 0x3c;

/// Default key code of an input-device button: KEY_ENTER, as `board/*/config.txt` sets.
pub const DEFAULT_BUTTON_KEY: u16 = 28;

/// Which driver draws the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Linux framebuffer `/dev/fbN`, or a regular file with geometry from config.
    Fb,
    /// SSD1306 128×64 OLED on `/dev/i2c-N`.
    Ssd1306,
    /// Text and half-block QR on stdout.
    Term,
    /// A PNG file rewritten on every change.
    Png,
}

/// The pairing display.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    /// Which driver draws.
    pub driver: Driver,
    /// Device node or file: `/dev/fb0`, `/dev/i2c-1`, a PNG path.
    pub device: PathBuf,
    /// Panel width; 0 = ask the device (a framebuffer file or PNG needs it set).
    pub width: u32,
    /// Panel height; 0 = ask the device.
    pub height: u32,
    /// Pixel format of a framebuffer file (`rgb565`, `xrgb8888`); a real device reports its own.
    pub format: Option<PixelFormat>,
    /// Turns the picture clockwise on the panel, degrees: 0, 90, 180, 270 (for a panel
    /// mounted sideways or upside down; 90/270 swap the layout's width and height).
    pub rotation: u16,
    /// SSD1306 I²C address.
    pub i2c_address: u16,
    /// GPIO chip of the button (`/dev/gpiochip0`); none = no button.
    pub button_chip: Option<PathBuf>,
    /// GPIO line offset of the button (active low, to ground).
    pub button_line: u32,
    /// The button as an input device instead (`/dev/input/eventN`, e.g. from the `gpio-key` overlay).
    pub button_input: Option<PathBuf>,
    /// Key code the input device reports for the button (28 = KEY_ENTER).
    pub button_key: u16,
    /// Whether LAN clients (not loopback) may get the QR payload and a PNG showing it.
    pub qr_on_lan: bool,
    /// File holding the display token (default `<data_dir>/display-token`).
    pub token_file: Option<PathBuf>,
    /// Session id to show when the box has several (default: the only one).
    pub session: Option<String>,
    /// Gateway base URL the display talks to (default: `http://127.0.0.1:<listen port>`).
    pub gateway_url: Option<String>,
    /// URL shown to staff as where LAN software sends (default: from `listen`).
    pub lan_url: Option<String>,
    /// Start pairing by itself when the session was never linked or was unlinked.
    pub auto_pair: bool,
    /// Time between status polls, ms.
    pub poll_ms: u64,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            driver: Driver::Fb,
            device: PathBuf::from("/dev/fb0"),
            width: 0,
            height: 0,
            format: None,
            rotation: 0,
            i2c_address: DEFAULT_I2C_ADDRESS,
            button_chip: None,
            button_line: 0,
            button_input: None,
            button_key: DEFAULT_BUTTON_KEY,
            qr_on_lan: true,
            token_file: None,
            session: None,
            gateway_url: None,
            lan_url: None,
            auto_pair: true,
            poll_ms: DEFAULT_POLL_MS,
        }
    }
}

impl DisplayConfig {
    /// Checks values; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str, r: &str| ConfigError::Key {
            key: format!("display.{k}"),
            reason: r.into(),
        };
        if self.device.as_os_str().is_empty() {
            return Err(key("device", "must not be empty"));
        }
        if (self.width == 0) != (self.height == 0) {
            return Err(key("width", "set both width and height, or neither"));
        }
        if self.width != 0 && !(64..=4096).contains(&self.width) {
            return Err(key("width", "must be between 64 and 4096"));
        }
        if self.height != 0 && !(32..=4096).contains(&self.height) {
            return Err(key("height", "must be between 32 and 4096"));
        }
        if self.format == Some(PixelFormat::Mono) && self.driver == Driver::Fb {
            return Err(key("format", "a framebuffer is rgb565 or xrgb8888"));
        }
        if self.driver == Driver::Png && self.width == 0 {
            return Err(key("width", "the png driver needs width and height"));
        }
        if ![0, 90, 180, 270].contains(&self.rotation) {
            return Err(key("rotation", "must be 0, 90, 180 or 270"));
        }
        if !(0x03..=0x77).contains(&self.i2c_address) {
            return Err(key("i2c_address", "must be a 7-bit address (0x03-0x77)"));
        }
        if !(100..=60_000).contains(&self.poll_ms) {
            return Err(key("poll_ms", "must be between 100 and 60000"));
        }
        for (k, v) in [
            ("gateway_url", &self.gateway_url),
            ("lan_url", &self.lan_url),
        ] {
            if let Some(u) = v
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                return Err(key(k, "must be an http:// or https:// URL"));
            }
        }
        if let Some(u) = &self.gateway_url
            && u.starts_with("https://")
        {
            return Err(key(
                "gateway_url",
                "the display speaks plain HTTP to the local gateway",
            ));
        }
        if self.button_chip.is_some() && self.button_input.is_some() {
            return Err(key(
                "button_input",
                "set button_chip or button_input, not both",
            ));
        }
        if self.session.as_deref() == Some("") {
            return Err(key("session", "must not be empty when set"));
        }
        Ok(())
    }
}
