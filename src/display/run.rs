//! `wago display`: the loop that polls the gateway, draws, and handles the button.
//!
//! It never gives up on the gateway: while it does not answer (stopped,
//! restarting, token file not written yet) the screen says "starting" and
//! the loop keeps polling. Only a broken device ends it.

use super::DisplayError;
use super::button::{Action, ButtonState, Edge};
use super::canvas::Canvas;
use super::client::{ClientError, GatewayClient, gateway_url};
use super::driver::{self, Panel};
use super::model::{DisplayState, DisplayStatus};
use super::screens::{COLOUR, MONO, render};
use crate::config::{Config, Secret};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Least time between two automatic pairing starts.
pub const AUTO_PAIR_EVERY: Duration = Duration::from_secs(30);

/// Reads the display token file; `None` while it is missing or empty.
pub fn read_token(path: &Path) -> Option<Secret> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(Secret::new)
}

/// The loop's state between polls.
struct Loop {
    panel: Box<dyn Panel>,
    client: Option<GatewayClient>,
    token_file: std::path::PathBuf,
    base: String,
    session: Option<String>,
    auto_pair: bool,
    rotation: u16,
    last_auto_pair: Option<Instant>,
    button: ButtonState,
    last_frame: Option<Canvas>,
    last_text: String,
    last_state: Option<Option<DisplayState>>,
}

impl Loop {
    async fn poll(&mut self) -> Option<DisplayStatus> {
        if self.client.is_none() {
            let token = read_token(&self.token_file)?;
            self.client = Some(GatewayClient::new(&self.base, token, self.session.clone()));
        }
        let client = self.client.as_ref()?;
        match client.status().await {
            Ok(s) => Some(s),
            Err(ClientError::Refused(code)) => {
                // The gateway made a new token: read the file again next time.
                tracing::warn!(
                    code,
                    "the gateway refused the display token; rereading the token file"
                );
                self.client = None;
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "no status");
                None
            }
        }
    }

    async fn maybe_auto_pair(&mut self, s: &DisplayStatus) -> Option<DisplayStatus> {
        let unlinked = matches!(
            s.state,
            DisplayState::Disconnected | DisplayState::LoggedOut
        ) && s.phone.is_none();
        let due = self
            .last_auto_pair
            .is_none_or(|t| t.elapsed() >= AUTO_PAIR_EVERY);
        if !(self.auto_pair && unlinked && due) {
            return None;
        }
        self.last_auto_pair = Some(Instant::now());
        tracing::info!("the account is not linked: starting pairing");
        self.pair().await
    }

    async fn pair(&mut self) -> Option<DisplayStatus> {
        match self.client.as_ref()?.pair().await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start pairing");
                None
            }
        }
    }

    fn draw(&mut self, status: Option<&DisplayStatus>) -> Result<(), DisplayError> {
        let state = status.map(|s| s.state);
        if self.last_state != Some(state) {
            tracing::info!(state = ?state, "screen");
            self.last_state = Some(state);
        }
        let now = status.map(|s| s.now).unwrap_or_else(crate::event::now_ms);
        if self.panel.is_term() {
            let text = super::term::render(status, None);
            if text != self.last_text {
                println!("{text}");
                self.last_text = text;
            }
            return Ok(());
        }
        let (pw, ph) = self.panel.size();
        // Draw upright for the viewer, then turn to the panel's own orientation.
        let (w, h) = match self.rotation {
            90 | 270 => (ph, pw),
            _ => (pw, ph),
        };
        let theme = if self.panel.mono() { &MONO } else { &COLOUR };
        let screen = self.button.choice.current(status, now);
        let frame = render(screen, status, w, h, theme, now).rotated(self.rotation);
        if self.last_frame.as_ref() != Some(&frame) {
            self.panel.draw(&frame)?;
            self.last_frame = Some(frame);
        }
        Ok(())
    }

    async fn edge(&mut self, e: Edge, status: Option<&DisplayStatus>) -> Option<DisplayStatus> {
        let now = status.map(|s| s.now).unwrap_or_else(crate::event::now_ms);
        match self.button.on_edge(e, status, now) {
            Some(Action::StartPairing) => {
                tracing::info!("button: start pairing");
                self.pair().await
            }
            _ => None,
        }
    }
}

/// Runs the display until `shutdown`. Errors only for a broken device.
pub async fn run(cfg: &Config, shutdown: CancellationToken) -> Result<(), DisplayError> {
    let d = &cfg.display;
    let panel = driver::open(d)?;
    let (w, h) = panel.size();
    tracing::info!(driver = ?d.driver, device = %d.device.display(), width = w, height = h, "display open");
    let (tx, mut presses) = tokio::sync::mpsc::channel::<Edge>(16);
    let buttons_open = match (&d.button_chip, &d.button_input) {
        (Some(chip), _) => super::gpio::watch(chip, d.button_line, tx).map(|()| true)?,
        (None, Some(input)) => super::input::watch(input, d.button_key, tx).map(|()| true)?,
        (None, None) => false,
    };
    let mut lp = Loop {
        panel,
        client: None,
        token_file: cfg.display_token_file(),
        base: gateway_url(cfg),
        session: d.session.clone(),
        auto_pair: d.auto_pair,
        rotation: d.rotation,
        last_auto_pair: None,
        button: ButtonState::default(),
        last_frame: None,
        last_text: String::new(),
        last_state: None,
    };
    let poll = Duration::from_millis(d.poll_ms);
    let mut buttons_open = buttons_open;
    loop {
        let mut status = lp.poll().await;
        if let Some(s) = &status
            && let Some(after) = lp.maybe_auto_pair(s).await
        {
            status = Some(after);
        }
        lp.draw(status.as_ref())?;
        let deadline = tokio::time::Instant::now() + poll;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(deadline) => break,
                e = presses.recv(), if buttons_open => match e {
                    Some(e) => {
                        if let Some(after) = lp.edge(e, status.as_ref()).await {
                            status = Some(after);
                        }
                        lp.draw(status.as_ref())?;
                    }
                    None => {
                        tracing::warn!("the button thread stopped");
                        buttons_open = false;
                    }
                },
            }
        }
    }
}
