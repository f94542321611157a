//! One client connection: WebSocket framing, the Noise handshake, then a loop
//! that decrypts stanzas and routes them to the handlers, and sends whatever
//! the simulator queued for this socket. Owns the socket and its cipher
//! state; everything account-related lives in `Shared`.

use crate::noise::{self, Established, FrameReader, Responder};
use crate::state::{Conn, DeviceId, Outbound, Shared};
use crate::{login, stanza};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};
use whatsapp_rust::wacore_binary::Node;

/// What a connection task knows about its client.
pub(crate) struct ConnCtx {
    /// This connection's id in `Shared::conns`.
    pub(crate) id: u64,
    /// Queue into this very task (handlers reply through it, in order).
    pub(crate) tx: mpsc::UnboundedSender<Outbound>,
    /// The companion this connection logged in as.
    pub(crate) device: Option<DeviceId>,
}

impl ConnCtx {
    /// Queues a node for this connection.
    pub(crate) fn send(&self, node: Node) {
        let _ = self.tx.send(Outbound::Node(node));
    }

    /// Queues a close after everything queued before it.
    pub(crate) fn close(&self) {
        let _ = self.tx.send(Outbound::Close);
    }
}

enum Phase {
    Hello,
    Finish(Responder),
    Open(noise::SecureChannel),
}

/// Serves one TCP connection until either side closes it.
pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream) -> anyhow::Result<()> {
    let (_request, mut ws) = ServerBuilder::new().accept(tcp).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = {
        let mut inner = shared.lock();
        let id = inner.next_conn;
        inner.next_conn += 1;
        inner.conns.insert(
            id,
            Conn {
                tx: tx.clone(),
                device: None,
                unacked: Vec::new(),
            },
        );
        id
    };
    let mut ctx = ConnCtx {
        id,
        tx,
        device: None,
    };
    let result = drive(&shared, &mut ctx, &mut ws, &mut rx).await;
    let mut lost = {
        let mut inner = shared.lock();
        inner.pairing_refs.retain(|_, conn| *conn != id);
        inner
            .conns
            .remove(&id)
            .map(|c| c.unacked)
            .unwrap_or_default()
    };
    if let Some(device) = &ctx.device {
        // The socket ended before the client acked these, or before they
        // even went out: they go to the device's newer socket if a login
        // replaced this one, else to its next login's offline backlog.
        while let Ok(out) = rx.try_recv() {
            if let Outbound::Node(node) = out
                && node.tag == "message"
            {
                lost.push(node);
            }
        }
        for node in lost {
            shared.deliver(device, node);
        }
    }
    shared.bump();
    let _ = ws.close().await;
    result
}

async fn drive(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    ws: &mut WebSocketStream<TcpStream>,
    rx: &mut mpsc::UnboundedReceiver<Outbound>,
) -> anyhow::Result<()> {
    let mut reader = FrameReader::default();
    let mut phase = Phase::Hello;
    loop {
        tokio::select! {
            incoming = ws.next() => {
                let msg = match incoming {
                    Some(Ok(msg)) => msg,
                    _ => return Ok(()),
                };
                if msg.is_close() {
                    return Ok(());
                }
                if !msg.is_binary() {
                    continue;
                }
                reader.feed(msg.as_payload());
                while let Some(frame) = reader.next_frame()? {
                    phase = on_frame(shared, ctx, ws, phase, frame).await?;
                }
            }
            out = rx.recv() => {
                match out {
                    Some(Outbound::Node(node)) => {
                        if let Phase::Open(channel) = &mut phase {
                            let replaced = match &ctx.device {
                                Some(device) if node.tag == "message" => {
                                    (!shared.track_delivery(ctx.id, device, &node))
                                        .then_some(device)
                                }
                                _ => None,
                            };
                            if let Some(device) = replaced {
                                // A newer login owns the device now.
                                shared.deliver(device, node);
                            } else {
                                let bytes = channel.seal(&node)?;
                                ws.send(Message::binary(bytes)).await?;
                            }
                        }
                    }
                    Some(Outbound::Close) | None => return Ok(()),
                }
            }
        }
    }
}

async fn on_frame(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    ws: &mut WebSocketStream<TcpStream>,
    phase: Phase,
    frame: Vec<u8>,
) -> anyhow::Result<Phase> {
    match phase {
        Phase::Hello => {
            let (reply, responder) = noise::respond_hello(&shared.identity, &frame)?;
            ws.send(Message::binary(reply)).await?;
            match responder {
                Responder::Done(est) => Ok(open(shared, ctx, *est)),
                waiting => Ok(Phase::Finish(waiting)),
            }
        }
        Phase::Finish(Responder::AwaitFinish(pending)) => {
            let est = noise::finish_xx(*pending, &frame)?;
            Ok(open(shared, ctx, est))
        }
        Phase::Finish(Responder::Done(est)) => Ok(open(shared, ctx, *est)),
        Phase::Open(mut channel) => {
            let node = channel.open(frame)?;
            stanza::dispatch(shared, ctx, node.get()).await;
            Ok(Phase::Open(channel))
        }
    }
}

fn open(shared: &Arc<Shared>, ctx: &mut ConnCtx, est: Established) -> Phase {
    login::on_established(shared, ctx, est.kind, &est.payload);
    Phase::Open(est.channel)
}
