//! The decision, table-driven, on an injected clock.

use super::settings::SessionGuardConfig;
use super::*;
use crate::store::Suppression;
use std::sync::atomic::{AtomicI64, Ordering};

/// 2026-05-08T10:00:00Z.
const T: i64 = 1_778_234_400_000;

fn guard(cfg: GuardConfig) -> (Guard, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(T));
    let clock = now.clone();
    let g = Guard::with_clock(&cfg, Arc::new(move || clock.load(Ordering::SeqCst)));
    (g, now)
}

fn req(purpose: Option<&str>, to: &str) -> SendRequest {
    SendRequest {
        session: "s1".into(),
        recipient: to.into(),
        kind: "text".into(),
        purpose: purpose.map(str::to_string),
        purpose_required: false,
        text: None,
    }
}

fn facts(usage: Usage, suppressed: bool) -> SendFacts {
    SendFacts {
        session_name: "till".into(),
        usage,
        suppressed: suppressed.then(|| Suppression {
            phone: "155".into(),
            reason: "recipient_requested_stop".into(),
            source: "keyword".into(),
            at: 0,
            message_text: Some("STOP".into()),
        }),
    }
}

/// Sends `n` through, carrying the counters like the store does.
fn send_n(g: &Guard, usage: &mut Usage, n: usize, to: &str) -> Result<(), Refusal> {
    for _ in 0..n {
        *usage = g.decide(&req(None, to), &facts(*usage, false))?.usage;
    }
    Ok(())
}

#[test]
fn purposes_allowed_blocked_default_and_required() {
    let (g, _) = guard(GuardConfig::default());
    let f = facts(Usage::default(), false);
    for (purpose, want) in [
        (Some("transactional"), Ok(())),
        (Some("authentication"), Ok(())),
        (None, Ok(())),
        (Some(""), Ok(())),
        (Some("marketing"), Err("message_purpose_not_allowed")),
        (Some("bulk_campaign"), Err("message_purpose_not_allowed")),
        (Some("anything else"), Err("message_purpose_not_allowed")),
    ] {
        let got = g.decide(&req(purpose, &format!("{purpose:?}")), &f);
        assert_eq!(got.map(|_| ()).map_err(|r| r.code()), want, "{purpose:?}");
    }
    let a = g.decide(&req(None, "x"), &f).expect("default");
    assert_eq!(a.decision["purpose"], "transactional");
    assert_eq!(a.decision["purpose_source"], "default");

    let (g, _) = guard(GuardConfig {
        require_purpose: true,
        ..GuardConfig::default()
    });
    let r = g.decide(&req(None, "x"), &f).expect_err("required");
    assert_eq!(r, Refusal::PurposeRequired);
    assert_eq!(r.details()["action"], "block");
}

#[test]
fn suppressed_recipients_get_essential_purposes_only() {
    let (g, _) = guard(GuardConfig::default());
    let f = facts(Usage::default(), true);
    let r = g
        .decide(&req(Some("support"), "155"), &f)
        .expect_err("suppressed");
    assert_eq!(r.code(), "recipient_suppressed");
    assert_eq!(r.details()["phone"], "155");
    g.decide(&req(Some("authentication"), "155"), &f)
        .expect("a login code is essential");
    let mut revoke = req(Some("support"), "155");
    revoke.kind = "revoke".into();
    g.decide(&revoke, &f)
        .expect("deleting a message is never refused");
}

#[test]
fn the_daily_limit_counts_sends_and_resets_at_local_midnight() {
    let (g, now) = guard(GuardConfig {
        plan: "custom".into(),
        daily_limit: Some(3),
        monthly_limit: Some(5),
        utc_offset: "+07:00".into(),
        ..GuardConfig::default()
    });
    let mut usage = Usage::default();
    send_n(&g, &mut usage, 3, "a").expect("three");
    let r = send_n(&g, &mut usage, 1, "b").expect_err("fourth");
    // 10:00Z is 17:00 in +07:00: the count resets at 17:00Z.
    let midnight = T + 7 * 3_600_000;
    assert_eq!(
        r,
        Refusal::DailyLimit {
            limit: 3,
            used: 3,
            resets_at: midnight
        }
    );
    assert_eq!(r.details()["limit"], 3);
    assert_eq!(r.details()["used"], 3);
    now.store(midnight - 1, Ordering::SeqCst);
    assert!(
        send_n(&g, &mut usage, 1, "c").is_err(),
        "23:59:59.999 local"
    );
    now.store(midnight, Ordering::SeqCst);
    send_n(&g, &mut usage, 2, "d").expect("a new day");
    let r = send_n(&g, &mut usage, 1, "e").expect_err("the month");
    assert_eq!(r, Refusal::MonthlyLimit { limit: 5, used: 5 });
    let view = g.usage_view("s1", "till", &usage);
    assert_eq!(
        (view.plan.as_str(), view.daily_used, view.monthly_used),
        ("custom", 2, 5)
    );
}

#[test]
fn a_refused_send_is_not_counted() {
    let (g, _) = guard(GuardConfig::default());
    let f = facts(Usage::default(), false);
    g.decide(&req(Some("marketing"), "a"), &f)
        .expect_err("refused");
    let a = g.decide(&req(None, "a"), &f).expect("allowed");
    assert_eq!((a.usage.day_used, a.usage.month_used), (1, 1));
}

#[test]
fn bursts_to_one_recipient_are_throttled_with_retry_after() {
    let (g, now) = guard(GuardConfig {
        recipient_per_minute: 6,
        recipient_burst: 5,
        ..GuardConfig::default()
    });
    let mut usage = Usage::default();
    send_n(&g, &mut usage, 5, "a").expect("the burst");
    let r = send_n(&g, &mut usage, 1, "a").expect_err("throttled");
    assert_eq!(r.code(), "sending_throttled");
    assert_eq!(r.retry_after(), Some(10));
    assert_eq!(r.details()["scope"], "recipient");
    assert_eq!(usage.day_used, 5, "throttled sends are not counted");
    send_n(&g, &mut usage, 1, "b").expect("another recipient");
    now.fetch_add(10_000, Ordering::SeqCst);
    send_n(&g, &mut usage, 1, "a").expect("after Retry-After");
}

#[test]
fn per_session_overrides_by_name_or_id() {
    let mut cfg = GuardConfig::default();
    cfg.sessions.insert(
        "till".into(),
        SessionGuardConfig {
            plan: Some("starter".into()),
            default_purpose: Some("support".into()),
            ..Default::default()
        },
    );
    let (g, _) = guard(cfg);
    let v = g.usage_view("s1", "till", &Usage::default());
    assert_eq!(
        (v.plan.as_str(), v.daily_limit, v.monthly_limit),
        ("starter", 100, 2_000)
    );
    assert_eq!(v.default_purpose, "support");
    let v = g.usage_view("s2", "other", &Usage::default());
    assert_eq!(
        (v.daily_limit, v.default_purpose.as_str()),
        (500, "transactional")
    );
}

#[test]
fn recipient_keys_drop_device_and_server() {
    assert_eq!(recipient_key("155512@s.whatsapp.net"), "155512");
    assert_eq!(recipient_key("155512:3@s.whatsapp.net"), "155512");
    assert_eq!(recipient_key("1203630@g.us"), "1203630");
}

#[test]
fn a_risky_text_is_a_policy_violation() {
    let (g, _) = guard(GuardConfig::default());
    let f = facts(Usage::default(), false);
    let mut r = req(Some("support"), "a");
    r.text = Some("Diskon 50%! https://bit.ly/x".into());
    let e = g.decide(&r, &f).expect_err("refused");
    assert_eq!(e.code(), "policy_violation");
    assert_eq!(e.details()["risk_score"], 80);
    r.text = Some("Your order is ready: https://bit.ly/x".into());
    g.decide(&r, &f).expect("one signal is not enough");
    // The same marketing text to many recipients.
    let mut usage = Usage::default();
    for i in 0..policy::SAME_TEXT_RECIPIENTS {
        let mut r = req(Some("support"), &format!("r{i}"));
        r.text = Some("Big sale now".into());
        usage = g
            .decide(&r, &facts(usage, false))
            .expect("below the threshold")
            .usage;
    }
    let mut r = req(Some("support"), "one more");
    r.text = Some("Big sale now".into());
    let e = g
        .decide(&r, &facts(usage, false))
        .expect_err("same text to many");
    assert_eq!(
        e.details()["signals"],
        json!(["marketing_language", "same_text_to_many"])
    );
}
