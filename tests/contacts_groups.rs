//! The contact (`/user/...`) and group (`/group/...`) routes end to end:
//! the real gateway binary, the real whatsapp-rust client inside it, and
//! the simulated WhatsApp server, whose state (groups, presence
//! subscriptions) the tests check after each call.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "these tests talk to the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/simgw.rs"]
mod simgw;

use common::client;
use serde_json::{Value, json};
use simgw::{CONTACT, get, paired, post};
use std::time::Duration;
use wa_sim::DEFAULT_ACCOUNT;

const STRANGER: &str = "15550009999";
const FRIEND: &str = "15552223333";

/// Asserts a 4xx JSON error with `code` (and `field`, when given).
fn assert_error(got: (u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (s, v) = got;
    assert_eq!(s, status, "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"], code, "{v}");
    if let Some(f) = field {
        assert_eq!(v["details"]["field"], f, "{v}");
    }
}

#[tokio::test]
async fn contact_routes_answer_from_whatsapp_and_refuse_bad_input() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    let contact = sim.contact(CONTACT);
    contact.set_about("Open 9-5");
    contact.set_picture("777");

    let (s, v) = post(
        &gw,
        &token,
        "/user/check",
        json!({ "Phone": [format!("+{CONTACT}"), STRANGER] }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let users = v["data"]["Users"].as_array().expect("users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["IsInWhatsapp"], true, "{v}");
    assert_eq!(users[0]["Query"], format!("+{CONTACT}"));
    assert!(
        users[0]["Jid"]
            .as_str()
            .is_some_and(|j| j.starts_with(CONTACT))
    );
    assert_eq!(users[1]["IsInWhatsapp"], false, "{v}");

    let (s, v) = get(&gw, &token, &format!("/user/info?Phone={CONTACT}")).await;
    assert_eq!(s, 200, "{v}");
    let info = &v["data"]["Users"][format!("{CONTACT}@s.whatsapp.net")];
    assert_eq!(info["Status"], "Open 9-5", "{v}");
    assert_eq!(info["PictureId"], "777", "{v}");

    let (s, v) = get(&gw, &token, &format!("/user/avatar?Phone={CONTACT}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["ID"], "777");
    assert!(v["data"]["URL"].as_str().is_some_and(|u| u.contains("777")));
    assert_error(
        get(&gw, &token, &format!("/user/avatar?Phone={FRIEND}")).await,
        404,
        "no_avatar",
        None,
    );

    let (s, v) = post(&gw, &token, "/user/presence", json!({ "Phone": CONTACT })).await;
    assert_eq!(s, 200, "{v}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sim
        .presence_subscriptions()
        .iter()
        .any(|j| j.starts_with(CONTACT))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no presence subscription reached the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Bad input: wrong types, missing fields, bad numbers, groups where a
    // person is needed, empty and oversized batches.
    let many: Vec<String> = (0..51).map(|i| format!("1555000{i:04}")).collect();
    let bad: Vec<(&str, Value, &str)> = vec![
        ("/user/check", json!({ "Phone": CONTACT }), "Phone"),
        ("/user/check", json!({}), "Phone"),
        ("/user/check", json!({ "Phone": [] }), "Phone"),
        ("/user/check", json!({ "Phone": many }), "Phone"),
        ("/user/check", json!({ "Phone": ["12ab"] }), "Phone[0]"),
        (
            "/user/check",
            json!({ "Phone": [CONTACT, "120363@g.us"] }),
            "Phone[1]",
        ),
        ("/user/info", json!({ "Phone": [true] }), "Phone[0]"),
        ("/user/avatar", json!({ "Preview": true }), "Phone"),
        ("/user/avatar", json!({ "Phone": "x@nowhere" }), "Phone"),
        ("/user/presence", json!({ "Phone": 5 }), "Phone"),
        ("/user/presence", json!({ "Phone": "120363@g.us" }), "Phone"),
    ];
    for (path, body, field) in bad {
        let got = post(&gw, &token, path, body.clone()).await;
        assert_error(got, 422, "validation_error", Some(field));
    }
    for (path, field) in [
        ("/user/info", "Phone"),
        ("/user/avatar?Phone=1555&Preview=maybe", "Preview"),
    ] {
        let got = get(&gw, &token, path).await;
        assert_error(got, 422, "validation_error", Some(field));
    }
    let r = client()
        .delete(gw.url("/user/check"))
        .header("token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);

    // Offline: 409 not_connected.
    let (s, _) = post(&gw, &token, "/session/disconnect", json!({})).await;
    assert_eq!(s, 200);
    assert_error(
        post(&gw, &token, "/user/check", json!({ "Phone": [CONTACT] })).await,
        409,
        "not_connected",
        None,
    );
    assert_error(
        get(&gw, &token, "/group/list").await,
        409,
        "not_connected",
        None,
    );
}

#[tokio::test]
async fn group_routes_change_the_servers_group_state() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    sim.contact(CONTACT);
    sim.contact(FRIEND);
    let (s, v) = post(
        &gw,
        &token,
        "/group/create",
        json!({ "Name": "Reception", "Participants": [CONTACT] }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let group = v["data"]["JID"].as_str().expect("group jid").to_string();
    assert!(group.ends_with("@g.us"));
    assert_eq!(v["data"]["Name"], "Reception");
    let state = sim.group(&group).expect("the server has the group");
    assert_eq!(state.subject, "Reception");
    assert!(
        state
            .participants
            .iter()
            .any(|(j, r)| j.starts_with(DEFAULT_ACCOUNT) && r == "superadmin")
    );
    assert!(
        state
            .participants
            .iter()
            .any(|(j, _)| j.starts_with(CONTACT))
    );

    let (s, v) = get(&gw, &token, "/group/list").await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["data"]["Groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["JID"] == group.as_str())),
        "{v}"
    );

    for (action, rank) in [
        ("add", "member"),
        ("promote", "admin"),
        ("demote", "member"),
    ] {
        let (s, v) = post(
            &gw,
            &token,
            "/group/participants",
            json!({ "GroupJID": group, "Phone": [FRIEND], "Action": action }),
        )
        .await;
        assert_eq!(s, 200, "{action}: {v}");
        assert_eq!(v["data"]["Participants"][0]["Ok"], true, "{action}: {v}");
        let state = sim.group(&group).expect("group");
        let friend = state
            .participants
            .iter()
            .find(|(j, _)| j.starts_with(FRIEND));
        assert_eq!(friend.map(|(_, r)| r.as_str()), Some(rank), "{action}");
    }
    let (s, v) = post(
        &gw,
        &token,
        "/group/participants",
        json!({ "GroupJID": group, "Phone": [FRIEND], "Action": "remove" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        !sim.group(&group)
            .expect("group")
            .participants
            .iter()
            .any(|(j, _)| j.starts_with(FRIEND))
    );

    for (path, body) in [
        (
            "/group/name",
            json!({ "GroupJID": group, "Name": "Front desk" }),
        ),
        (
            "/group/topic",
            json!({ "GroupJID": group, "Topic": "Walk-ins only" }),
        ),
    ] {
        let (s, v) = post(&gw, &token, path, body).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let state = sim.group(&group).expect("group");
    assert_eq!(state.subject, "Front desk");
    assert_eq!(state.description.as_deref(), Some("Walk-ins only"));

    let (s, v) = get(&gw, &token, &format!("/group/info?GroupJID={group}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["Name"], "Front desk");
    assert_eq!(v["data"]["Topic"], "Walk-ins only");

    let (s, v) = get(&gw, &token, &format!("/group/invitelink?GroupJID={group}")).await;
    assert_eq!(s, 200, "{v}");
    let code = sim.group(&group).expect("group").invite_code;
    assert!(
        v["data"]["InviteLink"]
            .as_str()
            .is_some_and(|l| l.ends_with(&code)),
        "{v} vs {code}"
    );

    // Bad input and unknown groups.
    let unknown = "120363999999999999@g.us";
    for (path, status, code) in [
        (
            format!("/group/info?GroupJID={unknown}"),
            404,
            "unknown_group",
        ),
        ("/group/info".into(), 422, "validation_error"),
        (
            "/group/invitelink?GroupJID=15551234567@s.whatsapp.net".into(),
            422,
            "validation_error",
        ),
    ] {
        let got = get(&gw, &token, &path).await;
        assert_error(got, status, code, Some("GroupJID"));
    }
    let bad: Vec<(&str, Value, &str)> = vec![
        (
            "/group/create",
            json!({ "Participants": [CONTACT] }),
            "Name",
        ),
        ("/group/create", json!({ "Name": "" }), "Name"),
        ("/group/create", json!({ "Name": "x".repeat(101) }), "Name"),
        (
            "/group/create",
            json!({ "Name": "A", "Participants": ["nope"] }),
            "Participants",
        ),
        (
            "/group/participants",
            json!({ "GroupJID": group, "Phone": [FRIEND], "Action": "kick" }),
            "Action",
        ),
        (
            "/group/participants",
            json!({ "GroupJID": group, "Phone": [], "Action": "add" }),
            "Phone",
        ),
        (
            "/group/participants",
            json!({ "GroupJID": group, "Action": "add" }),
            "Phone",
        ),
        (
            "/group/participants",
            json!({ "GroupJID": "abc", "Phone": [FRIEND], "Action": "add" }),
            "GroupJID",
        ),
        (
            "/group/name",
            json!({ "GroupJID": group, "Name": 7 }),
            "Name",
        ),
        ("/group/topic", json!({ "GroupJID": group }), "Topic"),
        ("/group/leave", json!({}), "GroupJID"),
    ];
    for (path, body, field) in bad {
        let got = post(&gw, &token, path, body.clone()).await;
        assert_error(got, 422, "validation_error", Some(field));
    }
    assert_error(
        post(
            &gw,
            &token,
            "/group/name",
            json!({ "GroupJID": unknown, "Name": "x" }),
        )
        .await,
        404,
        "unknown_group",
        Some("GroupJID"),
    );

    let (s, v) = post(&gw, &token, "/group/leave", json!({ "GroupJID": group })).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        !sim.group(&group)
            .expect("group")
            .participants
            .iter()
            .any(|(j, _)| j.starts_with(DEFAULT_ACCOUNT)),
        "the account left"
    );
}
