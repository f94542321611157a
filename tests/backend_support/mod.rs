//! Shared helpers of the `backend_*` integration tests: a reference
//! (in-memory) backend paired with a redb one, result normalisation for
//! comparing them, and a tiny deterministic PRNG.
#![allow(dead_code)]

use serde::Serialize;
use std::path::Path;
use tempfile::TempDir;
use wago::engine::backend::RedbBackend;
use wago::store::{DEFAULT_CACHE_BYTES, Store};
use whatsapp_rust::wacore::store::InMemoryBackend;

/// The reference backend and the one under test, fed the same calls.
pub struct Pair {
    pub mem: InMemoryBackend,
    pub redb: RedbBackend,
    pub store: Store,
    pub dir: TempDir,
}

/// Opens (creating) a store in `dir`.
pub fn open_store(dir: &Path) -> Store {
    Store::open(dir, DEFAULT_CACHE_BYTES).expect("open store")
}

/// A fresh pair on a fresh temporary store, session `"s1"`.
pub fn pair() -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    Pair {
        mem: InMemoryBackend::new(),
        redb: RedbBackend::new(store.clone(), "s1"),
        store,
        dir,
    }
}

/// A serde value for comparing results of types without `PartialEq`.
pub fn norm<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("result serialises")
}

/// Like [`norm`], for lists whose order the trait leaves unspecified.
pub fn norm_unordered<T: Serialize>(value: &[T]) -> serde_json::Value {
    let mut items: Vec<serde_json::Value> = value.iter().map(norm).collect();
    items.sort_by_key(|v| v.to_string());
    serde_json::Value::Array(items)
}

/// Runs `$call` with `$b` bound to each backend of `$pair`; both must
/// succeed with equal results (compared as JSON). Yields the redb result.
#[macro_export]
macro_rules! same {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        let mem = mem.expect(concat!("in-memory: ", stringify!($call)));
        let red = red.expect(concat!("redb: ", stringify!($call)));
        assert_eq!(
            $crate::backend_support::norm(&mem),
            $crate::backend_support::norm(&red),
            "{}",
            stringify!($call)
        );
        red
    }};
}

/// Like [`same!`] for `Vec` results whose order is unspecified.
#[macro_export]
macro_rules! same_unordered {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        let mem = mem.expect(concat!("in-memory: ", stringify!($call)));
        let red = red.expect(concat!("redb: ", stringify!($call)));
        assert_eq!(
            $crate::backend_support::norm_unordered(&mem),
            $crate::backend_support::norm_unordered(&red),
            "{}",
            stringify!($call)
        );
        red
    }};
}

/// Runs `$call` on both backends, checking only that both succeed.
#[macro_export]
macro_rules! both {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        (
            mem.expect(concat!("in-memory: ", stringify!($call))),
            red.expect(concat!("redb: ", stringify!($call))),
        )
    }};
}

/// SplitMix64: a tiny, stable, seedable generator (no dependency, so the
/// op sequence of a seed never changes under a crate upgrade).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
