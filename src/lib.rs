//! wago: a WhatsApp HTTP API gateway for a small box on a shop counter.
//!
//! # Layout, in the order data flows
//!
//! ```text
//!  LAN client ──HTTP──▶ server ─▶ api ─▶ engine ──▶ WhatsApp
//!                                  │        │
//!                                  │        │ event::Event
//!                                  ▼        ▼
//!  WhatsApp ──▶ engine ─────────▶ store ══ outbox (event log, jobs, dead letters,
//!                                  │          subscriptions, bell)
//!                                  │                │ the bell rings after each commit
//!                                  │                ▼
//!   GET /events, SSE ◀──── api ◀───┘        webhook delivery ──▶ LAN receivers
//!                                                   │ received media (form)
//!                                                   └──▶ engine
//!  display (own process) ──HTTP──▶ server
//! ```
//!
//! A send goes api → guard → send queue → engine: `engine::Engine::send`
//! hands it to the store's accepting transaction, where [`guard`] decides
//! on it before it is queued.
//!
//! - [`config`]: the typed configuration (TOML file, `WAGO_*` environment, defaults).
//! - [`server`]: the hyper 1 HTTP server: accept loop, per-client limits and shedding, timeouts,
//!   shutdown. It calls into `api`, never the reverse: the handlers reach the limits
//!   through the `api::PeerLimits` trait the server implements.
//! - [`api`]: the route table (`api::routes`), auth, body limits, the JSON envelope and one
//!   file per resource. Reads and
//!   writes the store directly for what is not WhatsApp (sessions, subscriptions,
//!   message history, the event log and its SSE stream).
//! - [`guard`]: responsible messaging: the one decision every send passes
//!   (purpose, fair-use limits, speed, opt-outs) inside the store's accepting
//!   transaction; the opt-out keywords the engine checks inbound messages for.
//! - [`engine`]: the only module that imports `whatsapp_rust`; one client per
//!   session. Turns library events into [`event::Event`]s and hands them to the store.
//! - [`event`]: the gateway's own event vocabulary: the [`event::Event`] the engine
//!   produces and the outbox delivers, and the filter names clients subscribe with.
//! - [`store`]: the single redb file: table definitions, schema upgrades, domain
//!   methods; the only module that opens transactions or names a redb type. Its
//!   outbox wing records events with their delivery jobs and rings the bell after
//!   each commit; its `keys` wing holds the WhatsApp key store's rows, which
//!   `engine::backend` adapts to whatsapp-rust's `Backend` trait.
//! - [`webhook`]: store-and-forward delivery: one worker per subscription, waiting
//!   on the store's bell; retries, signing; fetches received media from the engine
//!   for `form` deliveries (through `webhook::media`, which the engine implements).
//! - [`wire`]: each dialect's wire shapes and signatures (WAGO-Go's message item, webhook
//!   body and `X-Wago-Signature`), shared by its routes in `api::dialect` and its webhook
//!   format, so `webhook` never imports `api`.
//! - [`display`]: `wago display` / `wago pair`: the pairing screen, a separate process
//!   speaking HTTP to the gateway.
//! - [`qr`]: pairing QR codes (modules and PNG), for the API and the pairing screen.
//! - [`daemon`]: `wago serve`: wires the parts together under one cancellation token.
//! - [`supervisor`]: task heartbeats and systemd's READY/STATUS/WATCHDOG.
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
pub mod guard;
pub mod malloc;
pub mod qr;
pub mod server;
pub mod store;
pub mod supervisor;
pub mod webhook;
pub mod wire;
