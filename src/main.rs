//! The `wago` command: `wago [serve|display|pair] [--config PATH]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use wago::config::{Config, Secret};
use wago::display::cli::PairArgs;

const USAGE: &str = "\
usage: wago [serve] [--config PATH]
       wago display [--config PATH]
       wago pair [--config PATH] [--url URL] [--token TOKEN] [--session ID] [--timeout SECS]

commands:
  serve        run the gateway (the default)
  display      draw the pairing/status screen ([display] in the config)
  pair         print the pairing QR code in this terminal and wait until linked

options:
  --config PATH   TOML config file (default: /etc/wago/wago.toml when it exists)
  -h, --help      show this help
  -V, --version   show the version

Every config key can also be set by a WAGO_* environment variable (see README).";

enum Command {
    Serve {
        config: Option<PathBuf>,
    },
    Display {
        config: Option<PathBuf>,
    },
    Pair {
        config: Option<PathBuf>,
        args: PairArgs,
    },
    Help,
    Version,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut config = std::env::var_os("WAGO_CONFIG").map(PathBuf::from);
    let mut args = args.into_iter().peekable();
    let mut sub = "serve";
    match args.peek().map(String::as_str) {
        Some("display") => sub = "display",
        Some("pair") => sub = "pair",
        _ => {}
    }
    if sub != "serve" {
        args.next();
    }
    let mut pair = PairArgs::default();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "serve" if sub == "serve" => {}
            "--url" if sub == "pair" => pair.url = Some(value("--url")?),
            "--token" if sub == "pair" => pair.token = Some(Secret::new(value("--token")?)),
            "--session" if sub == "pair" => pair.session = Some(value("--session")?),
            "--timeout" if sub == "pair" => {
                let v = value("--timeout")?;
                pair.timeout_secs = Some(
                    v.parse()
                        .map_err(|_| format!("--timeout `{v}` is not a number of seconds"))?,
                );
            }
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
    Ok(match sub {
        "display" => Command::Display { config },
        "pair" => Command::Pair { config, args: pair },
        _ => Command::Serve { config },
    })
}

fn main() -> ExitCode {
    let cmd = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wago: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (config, sub) = match cmd {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("wago {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Serve { config } => (config, None),
        Command::Display { config } => (config, Some(None)),
        Command::Pair { config, args } => (config, Some(Some(args))),
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
    wago::malloc::tune();
    match sub {
        Some(None) => return wago::display::cli::display_main(&cfg),
        Some(Some(args)) => return wago::display::cli::pair_main(&cfg, &args),
        None => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Store calls and file I/O; more would only hold idle stacks.
        .max_blocking_threads(4)
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
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // `Targets`, not `EnvFilter`: the same `target=level` lists without a
    // regex engine in the binary (span and field directives are not needed).
    let targets = filter
        .parse::<Targets>()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::fmt()
        // The builder's own default is INFO; `targets` alone decides.
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .finish()
        .with(targets)
        .with(QuietConnectChains(
            wago::engine::diagnosis::quiet_connect_chains(filter),
        ))
        .init();
}

/// Drops the library's multi-line error chain of a failed connection
/// attempt (when on): the session logs the same failure in one line.
struct QuietConnectChains(bool);

impl<S> tracing_subscriber::Layer<S> for QuietConnectChains
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        !(self.0
            && wago::engine::diagnosis::is_connect_chain(
                event.metadata(),
                cx.lookup_current().map(|s| s.name()),
            ))
    }
}
