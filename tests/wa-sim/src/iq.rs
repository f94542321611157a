//! Answers to the client's `<iq>` requests: pre-key upload and fetch, usync
//! device lists, passive/active, app-state sync (empty collections at
//! version 0), privacy, blocklist, props, and a plain `result` for anything
//! else so no request waits for its timeout. Also receives the client's
//! answer to `pair-success` (`pair-device-sign`).

use crate::conn::ConnCtx;
use crate::nodes::{attr, be_uint, child_bytes, iq_error, iq_result, key32};
use crate::party::UploadedKeys;
use crate::state::Shared;
use crate::{keyshare, login, pair_code};
use std::sync::Arc;
use whatsapp_rust::wacore::iq::prekeys::PreKeyBundleUserNode;
use whatsapp_rust::wacore::protocol::ProtocolNode;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Jid, Node, NodeRef};

/// Handles one `<iq>` from the client.
pub(crate) async fn handle(shared: &Arc<Shared>, ctx: &mut ConnCtx, node: &NodeRef<'_>) {
    let id = attr(node, "id").unwrap_or_default();
    let kind = attr(node, "type").unwrap_or_default();
    if kind == "result" || kind == "error" {
        on_reply(shared, &id, node);
        return;
    }
    let xmlns = attr(node, "xmlns").unwrap_or_default();
    let first = node
        .children()
        .and_then(|c| c.first())
        .map(|c| c.tag.as_ref().to_string())
        .unwrap_or_default();
    let reply = match (xmlns.as_str(), first.as_str()) {
        ("encrypt", "registration") | ("encrypt", "list") => {
            let reply = upload_prekeys(shared, ctx, &id, node);
            ctx.send(reply);
            keyshare::after_upload(shared, ctx).await;
            return;
        }
        ("encrypt", "key") => fetch_prekeys(shared, &id, node).await,
        ("encrypt", "count") => iq_result(
            &id,
            vec![NodeBuilder::new("count").attr("value", "812").build()],
        ),
        // "No record" would make the client re-upload; 503 makes it skip.
        ("encrypt", "digest") => iq_error(&id, 503, "service-unavailable"),
        ("usync", _) => usync(shared, &id, node),
        ("w:profile:picture", _) => crate::profile::picture_iq(shared, &id, node),
        ("w:g2", _) => crate::groups::iq(shared, ctx, &id, node),
        ("w:m", "media_conn") => crate::media::media_conn(shared, &id),
        ("md", "remove-companion-device") => remove_companion(shared, &id, node),
        ("md", "link_code_companion_reg") => pair_code::on_iq(shared, ctx, &id, node),
        ("passive", tag) => {
            ctx.send(iq_result(&id, vec![]));
            if tag == "active" {
                login::went_active(shared, ctx);
            }
            return;
        }
        ("w:sync:app:state", _) => app_state(&id, node),
        ("privacy", _) => iq_result(&id, vec![NodeBuilder::new("privacy").build()]),
        ("blocklist", _) => iq_result(&id, vec![NodeBuilder::new("list").build()]),
        ("abt", _) | ("w", "props") => iq_result(
            &id,
            vec![
                NodeBuilder::new("props")
                    .attr("protocol", "1")
                    .attr("hash", "sim")
                    .build(),
            ],
        ),
        _ => iq_result(&id, vec![]),
    };
    ctx.send(reply);
}

/// The client logs itself out: the companion is unlinked for good.
fn remove_companion(shared: &Arc<Shared>, id: &str, node: &NodeRef<'_>) -> Node {
    let target = node
        .get_optional_child("remove-companion-device")
        .and_then(|r| attr(r, "jid"))
        .and_then(|j| j.parse::<Jid>().ok());
    if let Some(jid) = target {
        let device = crate::state::DeviceId {
            user: jid.user.to_string(),
            device: jid.device,
        };
        if let Some(companion) = shared.lock().companion_mut(&device) {
            companion.logged_out = true;
        }
        shared.bump();
    }
    iq_result(id, vec![])
}

/// A `result` / `error` from the client: the answer to one of our iqs.
fn on_reply(shared: &Arc<Shared>, id: &str, node: &NodeRef<'_>) {
    let waiter = shared.lock().pending_signs.remove(id);
    let Some(waiter) = waiter else { return };
    let signed = node
        .get_optional_child("pair-device-sign")
        .and_then(|s| child_bytes(s, "device-identity"))
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let _ = waiter.send(signed);
}

/// Stores the pre-keys a logged-in companion uploads.
fn upload_prekeys(shared: &Arc<Shared>, ctx: &ConnCtx, id: &str, node: &NodeRef<'_>) -> Node {
    let Some(device) = &ctx.device else {
        return iq_error(id, 401, "not-authorized");
    };
    let Some(keys) = parse_upload(node) else {
        return iq_error(id, 400, "bad-request");
    };
    if let Some(companion) = shared.lock().companion_mut(device) {
        companion.keys = Some(keys);
    }
    shared.bump();
    iq_result(id, vec![])
}

fn parse_upload(node: &NodeRef<'_>) -> Option<UploadedKeys> {
    let registration_id = be_uint(child_bytes(node, "registration")?)?;
    let identity = key32(child_bytes(node, "identity")?)?;
    let skey = node.get_optional_child("skey")?;
    let signed = (
        be_uint(child_bytes(skey, "id")?)?,
        key32(child_bytes(skey, "value")?)?,
        child_bytes(skey, "signature")?.to_vec(),
    );
    let mut one_time = Vec::new();
    if let Some(list) = node.get_optional_child("list") {
        for key in list.get_children_by_tag("key") {
            let kid = child_bytes(key, "id").and_then(be_uint);
            let value = child_bytes(key, "value").and_then(key32);
            if let (Some(kid), Some(value)) = (kid, value) {
                one_time.push((kid, value));
            }
        }
    }
    // Hand keys out from the front of the upload (`pop` takes the last).
    one_time.reverse();
    Some(UploadedKeys {
        registration_id,
        identity,
        signed,
        one_time,
    })
}

/// Serves pre-key bundles of the simulated phones.
async fn fetch_prekeys(shared: &Arc<Shared>, id: &str, node: &NodeRef<'_>) -> Node {
    let mut users = Vec::new();
    let requested: Vec<String> = node
        .get_optional_child("key")
        .map(|k| {
            k.get_children_by_tag("user")
                .filter_map(|u| attr(u, "jid"))
                .collect()
        })
        .unwrap_or_default();
    for jid_str in requested {
        let Ok(jid) = jid_str.parse::<Jid>() else {
            continue;
        };
        if jid.device != 0 {
            continue;
        }
        let (phone, contact) = {
            let inner = shared.lock();
            (
                inner.account_by_any(&jid.user).map(|a| a.phone.clone()),
                inner.contacts.get(jid.user.as_str()).cloned(),
            )
        };
        let bundle = match (phone, contact) {
            (Some(phone), _) => phone.lock().await.serve_bundle(),
            (None, Some(c)) => c.party.lock().await.serve_bundle(),
            (None, None) => continue,
        };
        let Ok(bundle) = bundle else { continue };
        if let Ok(user) = PreKeyBundleUserNode::from_bundle(jid, &bundle, None) {
            users.push(user.into_node());
        }
    }
    iq_result(id, vec![NodeBuilder::new("list").children(users).build()])
}

/// Answers a usync query: every account has exactly one device (the phone)
/// as far as the simulator tells; known numbers are "on WhatsApp".
fn usync(shared: &Arc<Shared>, id: &str, node: &NodeRef<'_>) -> Node {
    let Some(usync) = node.get_optional_child("usync") else {
        return iq_error(id, 400, "bad-request");
    };
    let query: Vec<String> = usync
        .get_optional_child("query")
        .and_then(|q| q.children())
        .map(|c| c.iter().map(|n| n.tag.as_ref().to_string()).collect())
        .unwrap_or_default();
    let (pn_users, lid_users): (Vec<String>, Vec<String>) = {
        let inner = shared.lock();
        let mut pn: Vec<String> = inner.contacts.keys().cloned().collect();
        pn.extend(inner.accounts.keys().cloned());
        (pn, inner.accounts.values().map(|a| a.lid.clone()).collect())
    };
    let mut users = Vec::new();
    let list = usync.get_optional_child("list");
    for user in list.iter().flat_map(|l| l.get_children_by_tag("user")) {
        let jid = match attr(user, "jid") {
            Some(j) => j,
            None => match user
                .get_optional_child("contact")
                .and_then(|c| c.content_as_string())
            {
                Some(number) => format!("{}@s.whatsapp.net", number.trim_start_matches('+')),
                None => continue,
            },
        };
        let user_part = jid.split(['@', ':']).next().unwrap_or_default().to_string();
        let server = jid
            .rsplit('@')
            .next()
            .unwrap_or("s.whatsapp.net")
            .to_string();
        let exists = if server == "lid" {
            lid_users.contains(&user_part)
        } else {
            pn_users.contains(&user_part)
        };
        let mut children = Vec::new();
        for protocol in &query {
            match protocol.as_str() {
                "devices" if exists => children.push(
                    NodeBuilder::new("devices")
                        .children([NodeBuilder::new("device-list")
                            .children([NodeBuilder::new("device").attr("id", "0").build()])
                            .build()])
                        .build(),
                ),
                "status" | "picture" if exists => {
                    children.extend(crate::profile::usync_child(shared, &user_part, protocol));
                }
                "contact" => children.push(
                    NodeBuilder::new("contact")
                        .attr("type", if exists { "in" } else { "out" })
                        .build(),
                ),
                _ => {}
            }
        }
        users.push(
            NodeBuilder::new("user")
                .attr("jid", format!("{user_part}@{server}"))
                .children(children)
                .build(),
        );
    }
    iq_result(
        id,
        vec![
            NodeBuilder::new("usync")
                .children([NodeBuilder::new("list").children(users).build()])
                .build(),
        ],
    )
}

/// Every requested app-state collection exists, is empty and at version 0.
fn app_state(id: &str, node: &NodeRef<'_>) -> Node {
    let names: Vec<String> = node
        .get_optional_child("sync")
        .map(|s| {
            s.get_children_by_tag("collection")
                .filter_map(|c| attr(c, "name"))
                .collect()
        })
        .unwrap_or_default();
    let collections = names.into_iter().map(|name| {
        NodeBuilder::new("collection")
            .attr("name", name)
            .attr("version", "0")
            .build()
    });
    iq_result(
        id,
        vec![NodeBuilder::new("sync").children(collections).build()],
    )
}
