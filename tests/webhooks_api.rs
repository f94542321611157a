//! The webhook, event and metrics routes against the real binary: shapes,
//! validation errors naming the field, ownership, secrets never shown twice,
//! `/events` paging and the SSE stream resuming from `Last-Event-ID`.

mod common;

use common::{Gateway, Opts, client, create_session, expect_error};
use serde_json::{Value, json};
use std::time::Duration;

fn opts() -> Opts {
    Opts::default().env("WAGO_WEBHOOK_BASE_URL", "http://127.0.0.1:9/base")
}

async fn send(rb: reqwest::RequestBuilder) -> reqwest::Response {
    rb.send().await.expect("send")
}

#[tokio::test]
async fn subscription_routes_validate_and_mask() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &opts());
    let admin = gw.admin_token();
    let (_, token) = create_session(&gw, &admin, "till").await;
    let (_, other) = create_session(&gw, &admin, "reception").await;
    let c = client();
    let post = |body: Value| {
        c.post(gw.url("/webhook"))
            .header("token", &token)
            .json(&body)
    };

    let cases: &[(Value, &str)] = &[
        (json!({}), "WebhookURL"),
        (json!({ "WebhookURL": "ftp://x" }), "WebhookURL"),
        (
            json!({ "WebhookURL": "http://127.0.0.1:9/", "Events": ["Message", "Nope"] }),
            "Events[1]",
        ),
        (
            json!({ "WebhookURL": "http://127.0.0.1:9/", "Format": "xml" }),
            "Format",
        ),
        (
            json!({ "WebhookURL": "http://127.0.0.1:9/", "Secret": "whsec_!!" }),
            "Secret",
        ),
        (
            json!({ "WebhookURL": "http://127.0.0.1:9/", "Headers": { "webhook-id": "x" } }),
            "Headers.webhook-id",
        ),
        (
            json!({ "WebhookURL": "http://127.0.0.1:9/", "Events": "Message" }),
            "Events",
        ),
    ];
    for (body, field) in cases {
        let v = expect_error(send(post(body.clone())).await, 422, "validation_error").await;
        assert_eq!(v["details"]["field"], *field, "{body}: {v}");
    }
    let r = send(
        c.post(gw.url("/webhook"))
            .header("token", &token)
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    expect_error(r, 400, "invalid_json").await;
    expect_error(
        send(c.get(gw.url("/webhook")).header("token", &token)).await,
        404,
        "webhook_not_found",
    )
    .await;

    // Relative URL resolved against webhook.base_url; a secret generated and shown once.
    let r = send(post(
        json!({ "WebhookURL": "/hook", "Events": ["Message", "message.read"] }),
    ))
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["data"]["WebhookURL"], "http://127.0.0.1:9/base/hook");
    let secret = v["data"]["Secret"].as_str().expect("secret").to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let got: Value = send(c.get(gw.url("/webhook")).header("token", &token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["data"]["Events"], json!(["Message", "message.read"]));
    assert_ne!(got["data"]["Secret"], secret.as_str());
    assert!(
        got["data"]["Secret"]
            .as_str()
            .expect("masked")
            .contains('…')
    );
    assert_eq!(got["data"]["Signing"], true);

    // PUT updates; a second POST replaces the main subscription.
    let r = send(
        c.put(gw.url("/webhook"))
            .header("token", &token)
            .json(&json!({ "Events": ["All"] })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["data"]["Events"], json!(["All"]));
    assert!(
        v["data"]["Secret"].as_str().expect("masked").contains('…'),
        "not shown again"
    );
    let r = send(post(
        json!({ "WebhookURL": "http://127.0.0.1:9/two", "Signing": false }),
    ))
    .await;
    assert_eq!(r.status(), 201);
    let list: Value = send(c.get(gw.url("/webhooks")).header("token", &token))
        .await
        .json()
        .await
        .expect("json");
    let subs = list["data"].as_array().expect("list");
    assert_eq!(subs.len(), 1, "one main subscription: {list}");
    assert_eq!(subs[0]["Signing"], false);

    // More subscriptions through the collection; others cannot see them.
    let r =
        send(c.post(gw.url("/webhooks")).header("token", &token).json(
            &json!({ "WebhookURL": "http://127.0.0.1:9/b", "Headers": { "X-Key": "k-123" } }),
        ))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    let id = v["data"]["Id"].as_u64().expect("id");
    assert_eq!(v["data"]["Headers"]["x-key"], "***");
    let r = send(
        c.get(gw.url(&format!("/webhooks/{id}")))
            .header("token", &other),
    )
    .await;
    expect_error(r, 404, "webhook_not_found").await;
    let r = send(
        c.delete(gw.url(&format!("/webhooks/{id}")))
            .header("token", &other),
    )
    .await;
    expect_error(r, 404, "webhook_not_found").await;
    let r = send(
        c.delete(gw.url(&format!("/webhooks/{id}")))
            .header("token", &token),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send(c.delete(gw.url("/webhook")).header("token", &token)).await;
    assert_eq!(r.status(), 200);
    expect_error(
        send(c.get(gw.url("/webhooks/nope")).header("token", &token)).await,
        404,
        "webhook_not_found",
    )
    .await;
    expect_error(
        send(c.patch(gw.url("/webhook")).header("token", &token)).await,
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(send(c.get(gw.url("/webhook"))).await, 401, "unauthorized").await;
    expect_error(
        send(c.get(gw.url("/webhook")).header("token", &admin)).await,
        403,
        "forbidden",
    )
    .await;

    // WebhookURL at /session/init becomes the main subscription.
    let r = send(c.post(gw.url("/session/init")).header("Authorization", format!("Bearer {admin}")).json(&json!({ "Name": "lab", "WebhookURL": "http://127.0.0.1:9/lab", "Events": ["Call"] }))).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    assert!(
        v["data"]["WebhookSecret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_")),
        "{v}"
    );
    let lab = v["data"]["Token"].as_str().expect("token").to_string();
    let got: Value = send(c.get(gw.url("/webhook")).header("token", &lab))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["data"]["WebhookURL"], "http://127.0.0.1:9/lab");
    assert_eq!(got["data"]["Events"], json!(["Call"]));
    assert_eq!(got["data"]["Main"], true);
    let log = gw.log_text();
    assert!(!log.contains(&secret[6..]), "secret in the log");
}

#[tokio::test]
async fn events_pull_stream_inject_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let (other_sid, _) = create_session(&gw, &admin, "reception").await;
    let c = client();
    let inject = |body: Value| {
        c.post(gw.url("/admin/events"))
            .header("Authorization", format!("Bearer {admin}"))
            .json(&body)
    };

    let bad: &[(Value, &str)] = &[
        (
            json!({ "Session": "nope", "Event": "message.received" }),
            "Session",
        ),
        (json!({ "Session": sid, "Event": "Message" }), "Event"),
        (
            json!({ "Session": sid, "Event": "message.received", "Count": 10001 }),
            "Count",
        ),
        (json!({ "Event": "message.received" }), "Session"),
    ];
    for (body, field) in bad {
        let v = expect_error(send(inject(body.clone())).await, 422, "validation_error").await;
        assert_eq!(v["details"]["field"], *field, "{body}: {v}");
    }
    let r = send(
        c.post(gw.url("/admin/events"))
            .header("token", &token)
            .json(&json!({})),
    )
    .await;
    expect_error(r, 403, "forbidden").await;

    let r = send(inject(json!({ "Session": sid, "Event": "message.received", "Chat": "1@s.whatsapp.net", "Payload": { "k": 1 }, "Count": 5 }))).await;
    assert_eq!(r.status(), 201);
    send(inject(
        json!({ "Session": other_sid, "Event": "message.received", "Payload": {} }),
    ))
    .await;

    // Pull: only the session's own events, after the cursor.
    let v: Value = send(
        c.get(gw.url("/events?after=2&limit=2"))
            .header("token", &token),
    )
    .await
    .json()
    .await
    .expect("json");
    let evs = v["data"]["Events"].as_array().expect("events");
    assert_eq!(
        evs.iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(v["data"]["Next"], 4);
    assert_eq!(evs[0]["payload"]["k"], 1);
    let v: Value = send(c.get(gw.url("/events?after=5")).header("token", &token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["data"]["Events"].as_array().map(Vec::len),
        Some(0),
        "the other session's event is not shown"
    );
    let e = expect_error(
        send(c.get(gw.url("/events?limit=0")).header("token", &token)).await,
        422,
        "validation_error",
    )
    .await;
    assert_eq!(e["details"]["field"], "limit");
    let e = expect_error(
        send(c.get(gw.url("/events?after=x")).header("token", &token)).await,
        422,
        "validation_error",
    )
    .await;
    assert_eq!(e["details"]["field"], "after");

    // SSE: resume after Last-Event-ID 3, then see a new event live.
    let mut resp = send(
        c.get(gw.url("/events/stream"))
            .header("token", &token)
            .header("Last-Event-ID", "3"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let read_until = async |resp: &mut reqwest::Response, text: &mut String, needle: &str| {
        while !text.contains(needle) {
            let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
                .await
                .expect("SSE data in time")
                .expect("chunk")
                .expect("open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    read_until(&mut resp, &mut text, "id: 5\n").await;
    assert!(
        !text.contains("id: 3\n") && text.contains("id: 4\nevent: message.received\ndata: {"),
        "{text}"
    );
    send(inject(
        json!({ "Session": sid, "Event": "call.missed", "Payload": {} }),
    ))
    .await;
    read_until(&mut resp, &mut text, "id: 7\nevent: call.missed\n").await;
    drop(resp);

    // Metrics: admin only, Prometheus text.
    let r = send(c.get(gw.url("/metrics")).header("token", &token)).await;
    expect_error(r, 403, "forbidden").await;
    let r = send(
        c.get(gw.url("/metrics"))
            .header("Authorization", format!("Bearer {admin}")),
    )
    .await;
    assert_eq!(r.status(), 200);
    let t = r.text().await.expect("text");
    assert!(t.contains("# TYPE wago_webhook_pending gauge"), "{t}");
    assert!(t.contains("wago_events_recorded_total 7"), "{t}");
    assert!(t.contains("wago_event_log_over_cap 0"), "{t}");
    let st: Value = send(c.get(gw.url("/webhook/status")).header("token", &token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(st["data"]["Log"]["Events"], 7, "{st}");
    assert_eq!(st["data"]["Log"]["OverCap"], false);
}
