//! The message store: idempotent accept, queue order, receipts forward only,
//! inbound dedupe, paging per chat.

use super::*;
use crate::store::DEFAULT_CACHE_BYTES;

fn sent_event(rec: &MessageRecord) -> crate::event::Event {
    crate::event::Event {
        session: "s".into(),
        event: "message.sent".into(),
        chat: Some(rec.chat.clone()),
        timestamp: 1,
        payload: serde_json::json!({ "id": rec.id }),
        me: None,
    }
}

fn out(id: &str, chat: &str, client_id: Option<&str>) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        seq: 0,
        chat: chat.into(),
        sender: "me@s.whatsapp.net".into(),
        from_me: true,
        kind: "text".into(),
        body: Some(format!("body of {id}")),
        push_name: None,
        timestamp: 1,
        state: MessageState::Pending,
        history: vec![StateChange {
            state: MessageState::Pending,
            at: 1,
        }],
        client_id: client_id.map(str::to_string),
        error: None,
        attempts: 0,
        detail: None,
        payload: None,
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
    (dir, store)
}

#[tokio::test]
async fn same_client_id_is_one_message() {
    let (_d, store) = open();
    let (a, created) = store
        .enqueue_outbound("s1", out("A", "c1", Some("order-7")))
        .await
        .expect("a");
    assert!(created);
    let (b, created) = store
        .enqueue_outbound("s1", out("B", "c1", Some("order-7")))
        .await
        .expect("b");
    assert!(
        !created,
        "a repeated client id must not create a second message"
    );
    assert_eq!(b.id, a.id);
    // Another session may use the same client id.
    let (_, created) = store
        .enqueue_outbound("s2", out("C", "c1", Some("order-7")))
        .await
        .expect("c");
    assert!(created);
    assert!(store.message("s1", "B").await.expect("get").is_none());
}

#[tokio::test]
async fn queue_is_in_order_and_finishing_removes_the_head() {
    let (_d, store) = open();
    for id in ["A", "B", "C"] {
        store
            .enqueue_outbound("s", out(id, "c", None))
            .await
            .expect("enqueue");
    }
    store
        .enqueue_outbound("other", out("X", "c", None))
        .await
        .expect("enqueue");
    let mut sent = Vec::new();
    while let Some(next) = store.next_queued("s").await.expect("next") {
        store
            .finish_send("s", &next.id, MessageState::Sent, None, sent_event)
            .await
            .expect("finish");
        sent.push(next.id);
    }
    assert_eq!(sent, ["A", "B", "C"]);
    let a = store.message("s", "A").await.expect("get").expect("exists");
    assert_eq!(a.state, MessageState::Sent);
    assert_eq!(a.history.len(), 2);
    assert_eq!(
        store
            .next_queued("other")
            .await
            .expect("next")
            .map(|m| m.id),
        Some("X".into())
    );
}

#[tokio::test]
async fn receipts_only_move_forward_and_inbound_dedupes() {
    let (_d, store) = open();
    store
        .enqueue_outbound("s", out("A", "c", None))
        .await
        .expect("enqueue");
    let steps = [
        (MessageState::Sent, true),
        (MessageState::Read, true),
        (MessageState::Delivered, false),
        (MessageState::Read, false),
        (MessageState::Played, true),
    ];
    for (state, changes) in steps {
        let changed = store
            .run(move |db| {
                let tx = db.begin_write()?;
                let r = advance(&tx, "s", "A", state, 5)?;
                tx.commit()?;
                Ok(r.is_some())
            })
            .await
            .expect("advance");
        assert_eq!(changed, changes, "{state:?}");
    }
    let inbound = MessageRecord {
        from_me: false,
        state: MessageState::Received,
        ..out("IN", "c", None)
    };
    for expect_new in [true, false] {
        let rec = inbound.clone();
        let new = store
            .run(move |db| {
                let tx = db.begin_write()?;
                let r = insert_inbound(&tx, "s", rec)?;
                tx.commit()?;
                Ok(r.is_some())
            })
            .await
            .expect("insert");
        assert_eq!(new, expect_new);
    }
}

#[tokio::test]
async fn paging_by_cursor_and_chat() {
    let (_d, store) = open();
    for i in 0..10 {
        let chat = if i % 2 == 0 { "even" } else { "odd" };
        store
            .enqueue_outbound("s", out(&format!("M{i}"), chat, None))
            .await
            .expect("enqueue");
    }
    let all = store.list_messages("s", None, 0, 100).await.expect("list");
    assert_eq!(all.len(), 10);
    let page = store
        .list_messages("s", None, all[3].seq, 2)
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["M4", "M5"]
    );
    let odd = store
        .list_messages("s", Some("odd"), 0, 100)
        .await
        .expect("odd");
    assert_eq!(
        odd.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["M1", "M3", "M5", "M7", "M9"]
    );
    let odd_after = store
        .list_messages("s", Some("odd"), odd[1].seq, 100)
        .await
        .expect("odd after");
    assert_eq!(odd_after.len(), 3);
    // A chat whose name is a prefix of another does not leak into it.
    assert!(
        store
            .list_messages("s", Some("od"), 0, 100)
            .await
            .expect("od")
            .is_empty()
    );
}

#[tokio::test]
async fn payload_and_media_survive_reopen_and_media_goes_with_the_send() {
    use crate::store::{MediaKind, Payload};
    let dir = tempfile::tempdir().expect("tempdir");
    let media = vec![7u8; 3000];
    {
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let mut rec = out("M", "c", Some("pic-1"));
        rec.payload = Some(Payload::Media {
            media: MediaKind::Image,
            mime: "image/png".into(),
            caption: Some("hi".into()),
            file_name: None,
            ptt: false,
            quote: None,
        });
        let (_, created) = store
            .enqueue_outbound_media("s", rec, Some(media.clone()))
            .await
            .expect("enqueue");
        assert!(created);
        // A retry with the same client id stores no second copy.
        let (again, created) = store
            .enqueue_outbound_media("s", out("M2", "c", Some("pic-1")), Some(vec![1]))
            .await
            .expect("again");
        assert!(!created);
        assert_eq!(again.id, "M");
        assert!(
            store
                .outbound_media("s", "M2")
                .await
                .expect("get")
                .is_none()
        );
    }
    let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("reopen");
    let head = store.next_queued("s").await.expect("next").expect("queued");
    assert!(matches!(
        head.payload,
        Some(Payload::Media {
            media: MediaKind::Image,
            ..
        })
    ));
    assert_eq!(
        store.outbound_media("s", "M").await.expect("get"),
        Some(media)
    );
    store
        .finish_send("s", "M", MessageState::Sent, None, sent_event)
        .await
        .expect("finish");
    assert!(
        store.outbound_media("s", "M").await.expect("get").is_none(),
        "the bytes are deleted once the send is finished"
    );
}

#[test]
fn records_without_a_payload_still_decode() {
    // A record written before payloads existed (no `payload` key).
    let old = r#"{"id":"X","seq":3,"chat":"c","sender":"me","from_me":true,"kind":"text",
        "body":"hello","timestamp":1,"state":"pending","history":[]}"#;
    let rec = decode(old.as_bytes()).expect("old record decodes");
    assert!(rec.payload.is_none());
    assert_eq!(rec.body.as_deref(), Some("hello"));
}

#[tokio::test]
async fn edits_and_deletions_change_their_target_and_unknown_targets_nothing() {
    let (_d, store) = open();
    let target = MessageRecord {
        from_me: false,
        state: MessageState::Received,
        ..out("T", "c", None)
    };
    let got = store
        .run(move |db| {
            let tx = db.begin_write()?;
            insert_inbound(&tx, "s", target)?;
            let edited = amend_target(&tx, "s", "T", "edit", Some("new".into()), 7)?;
            let revoked = amend_target(&tx, "s", "T", "revoke", None, 9)?;
            let unknown = amend_target(&tx, "s", "NOPE", "edit", Some("x".into()), 9)?;
            tx.commit()?;
            Ok((edited, revoked, unknown))
        })
        .await
        .expect("amend");
    let (edited, revoked, unknown) = got;
    let edited = edited.expect("edited");
    assert_eq!(edited.body.as_deref(), Some("new"));
    let revoked = revoked.expect("revoked");
    assert_eq!(revoked.body, None);
    let d = revoked.detail.expect("detail");
    assert_eq!(
        (d["editedAt"].as_i64(), d["revokedAt"].as_i64()),
        (Some(7), Some(9))
    );
    assert!(unknown.is_none());
}

// An ack racing an expiry (or a late ack after a retry) must not settle a
// message twice: `finish_send` settles only what is still queued.
#[tokio::test]
async fn a_send_settles_once_and_only_while_queued() {
    let (_d, store) = open();
    store
        .enqueue_outbound("s", out("A", "c", None))
        .await
        .expect("a");
    store
        .enqueue_outbound("s", out("B", "c", None))
        .await
        .expect("b");

    let rec = store
        .finish_send("s", "A", MessageState::Sent, None, sent_event)
        .await
        .expect("settle")
        .expect("was queued");
    assert_eq!(rec.state, MessageState::Sent);
    assert_eq!(rec.attempts, 1);
    let log = store.events_after(None, 0, 10).await.expect("log");
    assert_eq!(log.len(), 1, "its event is recorded with it");
    let next = store.next_queued("s").await.expect("next").expect("B");
    assert_eq!(next.id, "B", "A left the queue");

    // A second ack, or an expiry racing the ack, changes nothing.
    let again = store
        .finish_send(
            "s",
            "A",
            MessageState::Failed,
            Some("late".into()),
            sent_event,
        )
        .await
        .expect("settle again");
    assert!(again.is_none());
    let a = store.message("s", "A").await.expect("get").expect("A");
    assert_eq!((a.state, a.error), (MessageState::Sent, None));
    assert!(
        store
            .finish_send("s", "nope", MessageState::Sent, None, sent_event)
            .await
            .expect("unknown")
            .is_none()
    );
}
