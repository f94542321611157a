//! The `wago` command: `wago [serve] [--config PATH]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use wago::config::Config;

const USAGE: &str = "\
usage: wago [serve] [--config PATH]

commands:
  serve        run the gateway (the default)

options:
  --config PATH   TOML config file (default: /etc/wago/wago.toml when it exists)
  -h, --help      show this help
  -V, --version   show the version

Every config key can also be set by a WAGO_* environment variable (see README).";

enum Command {
    Serve { config: Option<PathBuf> },
    Help,
    Version,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut config = std::env::var_os("WAGO_CONFIG").map(PathBuf::from);
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "serve" => {}
            "-h" | "--help" | "help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--config" => match args.next() {
                Some(p) => config = Some(PathBuf::from(p)),
                None => return Err("--config needs a path".into()),
            },
            s if s.starts_with("--config=") => {
                config = Some(PathBuf::from(&s["--config=".len()..]))
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Command::Serve { config })
}

fn main() -> ExitCode {
    let cmd = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wago: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match cmd {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("wago {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Serve { config } => config,
    };
    let cfg = match Config::load(config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wago: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&cfg.log);
    tracing::debug!(config = ?cfg, "configuration");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wago: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(wago::daemon::serve(cfg, CancellationToken::new(), |_| {})) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "wago stopped");
            eprintln!("wago: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
