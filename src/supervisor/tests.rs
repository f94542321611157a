//! The supervisor under tokio's paused clock with fake heartbeats: pings only
//! while critical tasks check in, STATUS= says why.

use super::notify::Recorder;
use super::*;
use tokio::time::{Instant, sleep};

const WD: Duration = Duration::from_secs(2);

fn supervisor() -> (Supervisor, Recorder) {
    let rec = Recorder::default();
    let sup = Supervisor::with_notifier(CancellationToken::new(), Box::new(rec.clone()), Some(WD));
    (sup, rec)
}

fn pings_between(notes: &[(Instant, Note)], from: Instant, to: Instant) -> usize {
    notes
        .iter()
        .filter(|(t, n)| *n == Note::Watchdog && *t >= from && *t < to)
        .count()
}

#[tokio::test(start_paused = true)]
async fn pings_stop_and_status_says_why_when_a_critical_task_stalls() {
    let (sup, rec) = supervisor();
    let t0 = Instant::now();
    let _wd = sup.spawn_watchdog();
    let hb = sup.heartbeat("engine:s1", Criticality::Critical, Duration::from_secs(5));
    // Beats for 10 s, then hangs (keeps the handle, as a deadlocked task would).
    let beater = tokio::spawn(async move {
        for _ in 0..10 {
            hb.beat();
            sleep(Duration::from_secs(1)).await;
        }
        std::future::pending::<()>().await;
        drop(hb);
    });
    sup.ready("Serving on 127.0.0.1:1");
    sleep(Duration::from_secs(30)).await;
    let notes = rec.take();
    // Healthy for the first 10 s: a ping every WD/2.
    assert!(
        pings_between(&notes, t0, t0 + Duration::from_secs(10)) >= 9,
        "{notes:?}"
    );
    // Last beat at 9 s, limit 5 s: stalled from 14 s on, no ping after the next check.
    let s = Duration::from_secs;
    assert_eq!(
        pings_between(&notes, t0 + s(15), t0 + s(30)),
        0,
        "{notes:?}"
    );
    assert!(notes.iter().any(|(t, n)| *t >= t0 + s(14)
        && *t <= t0 + s(15)
        && matches!(n, Note::Status(l) if l.starts_with("STALLED: critical task engine:s1 silent")
            && l.contains("watchdog ping withheld"))), "{notes:?}");
    assert!(notes.iter().any(|(_, n)| *n == Note::Ready));
    beater.abort();
}

#[tokio::test(start_paused = true)]
async fn pings_resume_when_the_task_checks_in_again_and_optional_tasks_never_block_them() {
    let (sup, rec) = supervisor();
    let _wd = sup.spawn_watchdog();
    let crit = sup.heartbeat("http-accept", Criticality::Critical, Duration::from_secs(3));
    let _opt = sup.heartbeat("display", Criticality::Optional, Duration::from_secs(3));
    sleep(Duration::from_secs(6)).await;
    assert!(!sup.health().ping_allowed());
    let t = Instant::now();
    crit.beat();
    sleep(Duration::from_secs(2)).await;
    let notes = rec.take();
    assert!(
        pings_between(&notes, t, t + Duration::from_secs(2)) >= 1,
        "{notes:?}"
    );
    let last_status = notes.iter().rev().find_map(|(_, n)| match n {
        Note::Status(s) => Some(s.clone()),
        _ => None,
    });
    let last_status = last_status.expect("a status line");
    assert!(
        last_status.contains("degraded: display silent"),
        "{last_status}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_watchdog_means_no_pings_and_shutdown_sends_stopping() {
    let rec = Recorder::default();
    let token = CancellationToken::new();
    let sup = Supervisor::with_notifier(token.clone(), Box::new(rec.clone()), None);
    let wd = sup.spawn_watchdog();
    let _hb = sup.heartbeat("http-accept", Criticality::Critical, DEFAULT_MAX_SILENCE);
    sleep(Duration::from_secs(20)).await;
    token.cancel();
    sleep(Duration::from_millis(10)).await;
    let notes: Vec<Note> = rec.take().into_iter().map(|(_, n)| n).collect();
    assert!(!notes.contains(&Note::Watchdog), "{notes:?}");
    assert_eq!(notes.last(), Some(&Note::Status("Stopping".into())));
    assert!(notes.contains(&Note::Stopping));
    drop(wd);
}
