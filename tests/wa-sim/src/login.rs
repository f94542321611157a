//! What happens right after the Noise handshake: a known companion logs in
//! (`<success>` or `<failure>`), an unknown client gets QR refs
//! (`pair-device`). Also the account-wide answers sent once a companion goes
//! active (queued messages, `<ib><offline>`).

use crate::conn::ConnCtx;
use crate::nodes::{self, SERVER};
use crate::noise::HandshakeKind;
use crate::state::{DeviceId, Outbound, Shared};
use std::sync::Arc;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::waproto::whatsapp as wa;

/// How many QR refs one unpaired connection gets.
const QR_REFS: usize = 3;

/// Routes a freshly established connection to login or pairing.
pub(crate) fn on_established(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    kind: HandshakeKind,
    payload: &wa::ClientPayload,
) {
    match (payload.username, payload.device) {
        (Some(user), device) => login(shared, ctx, kind, user, device.unwrap_or(0)),
        (None, _) => start_pairing(shared, ctx),
    }
}

fn login(shared: &Arc<Shared>, ctx: &mut ConnCtx, kind: HandshakeKind, user: u64, device: u32) {
    let user = user.to_string();
    let refusal = shared.lock().refuse_logins.clone();
    if let Some(reason) = refusal {
        ctx.send(
            NodeBuilder::new("failure")
                .attr("reason", reason)
                .attr("location", "sim")
                .build(),
        );
        ctx.close();
        return;
    }
    let allowed = u16::try_from(device).ok().and_then(|device| {
        let inner = shared.lock();
        let account = inner.accounts.get(&user)?;
        let linked = account.devices.get(&device).is_some_and(|c| !c.logged_out);
        linked.then(|| (account.lid.clone(), device))
    });
    let Some((lid, device)) = allowed else {
        ctx.send(
            NodeBuilder::new("failure")
                .attr("reason", "401")
                .attr("location", "sim")
                .build(),
        );
        ctx.close();
        return;
    };
    let id = DeviceId { user, device };
    ctx.device = Some(id.clone());
    {
        let mut inner = shared.lock();
        inner.logins.push(kind);
        // One socket per device: an older one is told it was replaced, and
        // what it never acked goes to this login's offline backlog.
        let mut unacked = Vec::new();
        for (conn_id, conn) in inner.conns.iter_mut() {
            if *conn_id != ctx.id && conn.device.as_ref() == Some(&id) {
                conn.device = None;
                unacked.append(&mut conn.unacked);
                let _ = conn.tx.send(Outbound::Node(
                    NodeBuilder::new("stream:error")
                        .children([NodeBuilder::new("conflict")
                            .attr("type", "replaced")
                            .build()])
                        .build(),
                ));
                let _ = conn.tx.send(Outbound::Close);
            }
        }
        inner.requeue(&id, unacked);
        if let Some(conn) = inner.conns.get_mut(&ctx.id) {
            conn.device = Some(id);
        }
    }
    ctx.send(
        NodeBuilder::new("success")
            .attr("t", nodes::now_secs())
            .attr("props", "1")
            .attr("abprops", "1")
            .attr("location", "sim")
            .attr("creation", nodes::now_secs())
            .attr("lid", format!("{lid}:{device}@lid"))
            .build(),
    );
    shared.bump();
}

fn start_pairing(shared: &Arc<Shared>, ctx: &mut ConnCtx) {
    let refs: Vec<String> = (0..QR_REFS)
        .map(|_| format!("2@{}", nodes::new_id()))
        .collect();
    {
        let mut inner = shared.lock();
        for r in &refs {
            inner.pairing_refs.insert(r.clone(), ctx.id);
        }
    }
    ctx.send(
        NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", nodes::new_id())
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device")
                .children(
                    refs.into_iter()
                        .map(|r| NodeBuilder::new("ref").bytes(r.into_bytes()).build()),
                )
                .build()])
            .build(),
    );
    shared.bump();
}

/// The client left passive mode: hand over what queued up while it was
/// offline (announced by `<offline_preview>`, each stanza marked
/// `offline="1"`), then end the backlog with `<offline count>` (without it
/// the client waits a minute).
pub(crate) fn went_active(shared: &Arc<Shared>, ctx: &ConnCtx) {
    let Some(device) = &ctx.device else { return };
    let queued = shared.lock().offline.remove(device).unwrap_or_default();
    let count = queued.len().to_string();
    if !queued.is_empty() {
        let of_kind = |tag: &str| queued.iter().filter(|n| n.tag == tag).count().to_string();
        ctx.send(
            NodeBuilder::new("ib")
                .attr("from", SERVER)
                .children([NodeBuilder::new("offline_preview")
                    .attr("count", count.clone())
                    .attr("message", of_kind("message"))
                    .attr("receipt", of_kind("receipt"))
                    .attr("notification", of_kind("notification"))
                    .attr("call", "0")
                    .attr("status", "0")
                    .attr("appdata", "0")
                    .build()])
                .build(),
        );
    }
    for mut node in queued {
        node.attrs.insert("offline", "1");
        let _ = ctx.tx.send(Outbound::Node(node));
    }
    ctx.send(
        NodeBuilder::new("ib")
            .attr("from", SERVER)
            .children([NodeBuilder::new("offline").attr("count", count).build()])
            .build(),
    );
}
