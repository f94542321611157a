//! `wago pair`: pairing from a laptop or over SSH. Starts pairing through
//! the display routes, prints each QR code in the terminal as it rotates,
//! and returns the number once the phone has scanned it. While WhatsApp
//! cannot be reached it prints the gateway's diagnosis as it changes, and
//! gives up with it (not with "timed out") when no code was ever shown.

use super::DisplayError;
use super::client::{ClientError, GatewayClient};
use super::model::DisplayState;
use super::screens::pretty_code;
use crate::config::Secret;
use std::io::Write;
use std::time::{Duration, Instant};

/// How long the gateway may stay unreachable before `wago pair` gives up.
pub const UNREACHABLE_LIMIT: Duration = Duration::from_secs(30);

/// What `wago pair` needs.
#[derive(Debug, Clone)]
pub struct PairOptions {
    /// Gateway base URL.
    pub url: String,
    /// A display, admin or session token.
    pub token: Secret,
    /// Session to pair (admin/display token with several sessions).
    pub session: Option<String>,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Pairs, writing QR codes and messages to `out`; returns the linked number.
pub async fn pair(opts: &PairOptions, out: &mut impl Write) -> Result<String, DisplayError> {
    let client = GatewayClient::new(&opts.url, opts.token.clone(), opts.session.clone());
    let io = |e: std::io::Error| DisplayError::Draw(e.to_string());
    let started = Instant::now();
    let mut shown_qr: Option<String> = None;
    let mut shown_code: Option<String> = None;
    let mut shown_error: Option<String> = None;
    let mut last_diagnosis: Option<String> = None;
    let mut last_ok = Instant::now();
    let mut first = true;
    loop {
        let r = if first {
            client.pair().await
        } else {
            client.status().await
        };
        match r {
            Ok(s) => {
                first = false;
                last_ok = Instant::now();
                match s.state {
                    DisplayState::Connected if s.phone.is_some() => {
                        let phone = s.phone.unwrap_or_default();
                        writeln!(out, "\nLinked: +{phone}").map_err(io)?;
                        return Ok(phone);
                    }
                    DisplayState::NoSession => {
                        return Err(DisplayError::Gateway(
                            "no WhatsApp account is set up; create one with POST /session/init"
                                .into(),
                        ));
                    }
                    _ if s.qr_withheld => {
                        return Err(DisplayError::Gateway(
                            "the gateway shows the QR code only on the box (display.qr_on_lan = false): run wago pair on the box itself".into(),
                        ));
                    }
                    _ => {}
                }
                last_diagnosis = diagnosis_line(&s);
                if let Some(line) = &last_diagnosis
                    && shown_error.as_ref() != Some(line)
                {
                    writeln!(out, "{line}; still trying...").map_err(io)?;
                    out.flush().map_err(io)?;
                    shown_error = Some(line.clone());
                }
                if let Some(q) = &s.qr_code
                    && shown_qr.as_ref() != Some(q)
                {
                    let lines = super::term::qr_lines(q).map_err(DisplayError::Draw)?;
                    writeln!(
                        out,
                        "\nScan with WhatsApp > Settings > Linked devices > Link a device:\n"
                    )
                    .map_err(io)?;
                    for l in lines {
                        writeln!(out, "{l}").map_err(io)?;
                    }
                    if let Some(at) = s.qr_expires_at {
                        writeln!(
                            out,
                            "\n(a new code follows in {} s)",
                            ((at - s.now).max(0)) / 1000
                        )
                        .map_err(io)?;
                    }
                    out.flush().map_err(io)?;
                    shown_qr = Some(q.clone());
                }
                if let Some(c) = &s.pair_code
                    && shown_code.as_ref() != Some(c)
                {
                    writeln!(out, "Pair code: {}", pretty_code(c)).map_err(io)?;
                    shown_code = Some(c.clone());
                }
                if matches!(
                    s.state,
                    DisplayState::Disconnected | DisplayState::LoggedOut | DisplayState::Failed
                ) && shown_qr.is_some()
                {
                    return Err(DisplayError::Gateway(format!(
                        "pairing stopped ({:?}){}",
                        s.state,
                        s.last_error.map(|e| format!(": {e}")).unwrap_or_default()
                    )));
                }
            }
            Err(ClientError::Refused(code)) => {
                return Err(DisplayError::Gateway(format!(
                    "the gateway refused the token ({code}); pass --token with the admin or a session token"
                )));
            }
            Err(e) if last_ok.elapsed() > UNREACHABLE_LIMIT => {
                return Err(DisplayError::Gateway(e.to_string()));
            }
            Err(_) => {}
        }
        if started.elapsed() > opts.timeout {
            let never_shown = shown_qr.is_none() && shown_code.is_none();
            return Err(DisplayError::Gateway(match last_diagnosis {
                Some(line) if never_shown => format!("no code to scan: {line}"),
                _ if never_shown => {
                    "timed out: the gateway never got a code from WhatsApp (still connecting)"
                        .into()
                }
                _ => "timed out waiting for the phone to scan".into(),
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// "WhatsApp cannot be reached (code): sentence" while the status carries a
/// connection diagnosis and no code to scan.
fn diagnosis_line(s: &super::model::DisplayStatus) -> Option<String> {
    let code = s.last_error_code.as_deref()?;
    if code == "connection_lost"
        || s.qr_code.is_some()
        || s.pair_code.is_some()
        || s.state != DisplayState::Connecting
    {
        return None;
    }
    let said = s.last_error.as_deref().unwrap_or("");
    Some(format!("WhatsApp cannot be reached ({code}): {said}"))
}
