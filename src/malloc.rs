//! glibc allocator tuning for a small box.
//!
//! glibc gives every thread that allocates its own arena (up to 8 per core),
//! and keeps freed memory inside them. On a 512 MB board that is RSS nobody
//! uses: [`tune`] caps the arenas at two, and [`spawn_trimmer`] hands freed
//! pages back to the kernel every [`TRIM_EVERY`]. Other C libraries (musl)
//! need neither, so both are no-ops there.
//!
//! Its `unsafe` is plain calls into the C allocator, with no pointers passed.
#![allow(unsafe_code)]

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arenas glibc may create (its default is 8 per core).
pub const ARENA_MAX: i32 = 2;
/// Allocations at least this large get their own mapping, returned to the
/// kernel the moment they are freed. Setting it also stops glibc from raising
/// the threshold by itself (up to 32 MiB), which parks big transient buffers
/// (a long `/messages` page, a media file) in the heap.
pub const MMAP_THRESHOLD: i32 = 128 * 1024;
/// How often freed heap pages are returned to the kernel.
pub const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Caps the allocator's arenas and fixes the mmap threshold; call before
/// any thread starts. `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` in the
/// environment win.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |var: &str, param: i32, value: i32| {
            if std::env::var_os(var).is_none() {
                // SAFETY: mallopt takes two integers and only changes
                // allocator parameters; called before other threads exist.
                unsafe {
                    libc::mallopt(param, value);
                }
            }
        };
        set("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, ARENA_MAX);
        set(
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
        );
    }
}

/// Returns free heap pages to the kernel; true if any were released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a byte count and walks the allocator's
        // own free lists under its locks.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Trims every [`TRIM_EVERY`] until `stop` is cancelled.
pub fn spawn_trimmer(stop: CancellationToken) {
    let span = tracing::info_span!("malloc-trim");
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let mut tick = tokio::time::interval(TRIM_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                // Walks every arena: off the async workers.
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        },
        span,
    ));
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_heap_pages_go_back_to_the_kernel() {
        // Many small blocks (below the mmap threshold) live in the heap; once
        // freed, trimming hands their pages back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 1024]).collect();
        assert_eq!(blocks.len(), 20_000);
        drop(blocks);
        assert!(super::trim(), "malloc_trim released nothing");
    }
}
