//! The process side of `wago display` and `wago pair`: runtime, signals,
//! exit codes. `main` only parses arguments and calls these.

use super::pair::{PairOptions, pair};
use super::{DisplayError, EXIT_DEVICE};
use crate::config::{Config, Secret};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arguments of `wago pair` beyond the config.
#[derive(Debug, Default, Clone)]
pub struct PairArgs {
    /// `--url`: gateway base URL.
    pub url: Option<String>,
    /// `--token`: admin, session or display token.
    pub token: Option<Secret>,
    /// `--session`: which session.
    pub session: Option<String>,
    /// `--timeout`: seconds.
    pub timeout_secs: Option<u64>,
}

/// Default `wago pair --timeout`.
pub const DEFAULT_PAIR_TIMEOUT_SECS: u64 = 300;

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("wago: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

/// `wago display`: runs until SIGTERM/SIGINT. A broken device exits with
/// [`EXIT_DEVICE`] so systemd does not restart it in a loop.
pub fn display_main(cfg: &Config) -> ExitCode {
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let result = rt.block_on(async {
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        let span = tracing::info_span!("signals");
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                use tokio::signal::unix::{SignalKind, signal};
                if let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    s.cancel();
                }
            },
            span,
        ));
        super::run::run(cfg, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ DisplayError::Device { .. }) => {
            tracing::error!(error = %e, "display device unusable");
            eprintln!("wago display: {e}\n(fix [display] in the config; not retrying)");
            ExitCode::from(EXIT_DEVICE)
        }
        Err(e) => {
            eprintln!("wago display: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The token `wago pair` uses: `--token`, else the display token file, else
/// the generated admin token (both readable only on the box, by its user).
fn pair_token(cfg: &Config, args: &PairArgs) -> Option<Secret> {
    if let Some(t) = &args.token {
        return Some(t.clone());
    }
    super::run::read_token(&cfg.display_token_file())
        .or_else(|| cfg.admin_token.clone())
        .or_else(|| super::run::read_token(&cfg.data_dir.join(crate::config::ADMIN_TOKEN_FILE)))
}

/// `wago pair`: prints the QR code and waits until the phone has scanned it.
pub fn pair_main(cfg: &Config, args: &PairArgs) -> ExitCode {
    let Some(token) = pair_token(cfg, args) else {
        eprintln!(
            "wago pair: no token: pass --token (the admin token or the session's token), or run it on the box"
        );
        return ExitCode::from(2);
    };
    let opts = PairOptions {
        url: args
            .url
            .clone()
            .unwrap_or_else(|| super::client::gateway_url(cfg)),
        token,
        session: args.session.clone().or_else(|| cfg.display.session.clone()),
        timeout: Duration::from_secs(args.timeout_secs.unwrap_or(DEFAULT_PAIR_TIMEOUT_SECS)),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let mut out = std::io::stdout();
    match rt.block_on(pair(&opts, &mut out)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wago pair: {e}");
            ExitCode::FAILURE
        }
    }
}
