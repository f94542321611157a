//! wago: a WhatsApp HTTP API gateway for a small box on a shop counter.
//!
//! # Layout, in the order data flows
//!
//! ```text
//!  LAN client ──HTTP──▶ server ─▶ api ─▶ engine ──▶ WhatsApp
//!                                   │       │
//!                                   ▼       ▼
//!  WhatsApp ──▶ engine ──────────▶ store (+ outbox) ──▶ webhook delivery ──▶ LAN receivers
//! ```
//!
//! - [`config`]: the typed configuration (TOML file, `WAGO_*` environment, defaults).
//! - [`server`]: the hyper 1 HTTP server: accept loop, per-client limits and shedding, timeouts, shutdown.
//! - [`api`]: routing, auth, the JSON envelope and one file per resource.
//! - [`engine`]: the only module that imports `whatsapp_rust`; one client per session.
//! - [`store`]: the single redb file: table definitions, schema upgrades, domain methods.
//! - [`webhook`]: store-and-forward delivery: one worker per subscription, retries, signing.
//! - [`display`]: `wago display` / `wago pair`: the pairing screen, a separate process speaking HTTP to the gateway.
//! - [`daemon`]: `wago serve`: wires the parts together under one cancellation token.
//! - [`supervisor`]: task heartbeats, restarts with backoff, and systemd's READY/STATUS/WATCHDOG.
//! - [`malloc`]: glibc arena cap and periodic trim.
// No unsafe code, except in the three device modules that must call ioctls
// (`display::fb`, `display::ssd1306`, `display::gpio`) and the allocator
// tuning (`malloc`), each of which allows it with a comment saying why.
// `deny` (not `forbid`) so they can.
#![deny(unsafe_code)]

// The simulator's certificate skip must never reach a product binary.
#[cfg(all(feature = "test-sim", not(debug_assertions)))]
compile_error!(
    "the `test-sim` feature (WhatsApp certificate-chain skip for the simulator) must never be built into a release binary"
);

pub mod api;
pub mod config;
pub mod daemon;
pub mod display;
pub mod engine;
pub mod event;
pub mod malloc;
pub mod server;
pub mod store;
pub mod supervisor;
pub mod webhook;
