//! The outbox's bell: how delivery learns that there is something to do.
//!
//! Owned by the [`Store`]: every domain method that commits events, makes
//! jobs due again or changes subscriptions rings it itself, after its commit.
//! Nobody outside `store/` rings it, so a producer cannot forget to (a
//! forgotten ring is a silent stall: the jobs wait for the next ring or
//! retry). Delivery workers and event streams wait on it through
//! [`Store::watch_events`] and [`Store::watch_subscriptions`].
//!
//! Backed by `watch` channels rather than a bare `Notify`: a worker busy
//! while the bell rings still sees the change at its next wait, so no
//! wake-up is ever lost.

use crate::store::Store;
use tokio::sync::watch;

/// The two bells of the outbox: events committed, subscriptions changed.
#[derive(Debug)]
pub(in crate::store) struct Bell {
    /// The last committed sequence number (or a counter bumped past it when
    /// jobs become due again without a new event).
    events: watch::Sender<u64>,
    /// Bumped whenever a subscription is created, changed or deleted.
    subs: watch::Sender<u64>,
}

impl Bell {
    /// A bell nobody has rung yet.
    pub(in crate::store) fn new() -> Bell {
        Bell {
            events: watch::channel(0).0,
            subs: watch::channel(0).0,
        }
    }

    /// Events `seqs` are committed: wake the workers and streams. Nothing
    /// happens for an empty list.
    pub(in crate::store) fn events_committed(&self, seqs: &[u64]) {
        if let Some(last) = seqs.last() {
            self.ring_events(*last);
        }
    }

    /// Jobs became due again without a new event (dead letters replayed).
    pub(in crate::store) fn jobs_due(&self) {
        self.ring_events(0);
    }

    /// Subscriptions were created, changed or deleted.
    pub(in crate::store) fn subscriptions_changed(&self) {
        self.subs.send_modify(|v| *v += 1);
    }

    /// Moves the events value to at least `last_seq`, and always changes it.
    fn ring_events(&self, last_seq: u64) {
        self.events
            .send_modify(|v| *v = (*v).max(last_seq).max(*v + 1));
    }
}

impl Store {
    /// A receiver that changes whenever events are committed or jobs become
    /// due again. Delivery workers and event streams wait on it.
    pub fn watch_events(&self) -> watch::Receiver<u64> {
        self.inner.bell.events.subscribe()
    }

    /// A receiver that changes whenever a subscription is created, changed
    /// or deleted. The delivery dispatcher waits on it.
    pub fn watch_subscriptions(&self) -> watch::Receiver<u64> {
        self.inner.bell.subs.subscribe()
    }

    /// The bell, for the domain methods that ring it after their commit.
    pub(in crate::store) fn bell(&self) -> &Bell {
        &self.inner.bell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ring_changes_the_value_and_an_empty_commit_rings_nothing() {
        let bell = Bell::new();
        let mut rx = bell.events.subscribe();
        bell.events_committed(&[]);
        assert!(
            !rx.has_changed().expect("open"),
            "nothing committed, no ring"
        );
        bell.events_committed(&[4, 7]);
        assert!(rx.has_changed().expect("open"));
        assert_eq!(*rx.borrow_and_update(), 7, "the last committed seq");
        bell.jobs_due();
        assert!(rx.has_changed().expect("open"), "a replay rings too");
        assert_eq!(*rx.borrow_and_update(), 8);
        let subs = bell.subs.subscribe();
        bell.subscriptions_changed();
        assert!(subs.has_changed().expect("open"));
    }

    fn sub(session: &str) -> crate::store::Subscription {
        crate::store::Subscription {
            id: 0,
            session: Some(session.into()),
            main: false,
            url: "http://127.0.0.1:9/".into(),
            events: vec![],
            format: crate::store::Format::Json,
            secrets: vec![],
            headers: vec![],
            form_token: None,
            created_at: 0,
        }
    }

    fn ev(session: &str) -> crate::event::Event {
        crate::event::Event {
            session: session.into(),
            event: "message.received".into(),
            chat: None,
            timestamp: 1,
            payload: serde_json::json!({}),
            me: None,
        }
    }

    /// Each domain method that gives delivery something to do rings the
    /// right bell itself, after its commit; the caller rings nothing.
    #[tokio::test]
    async fn the_store_rings_after_each_commit_that_gives_delivery_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), crate::store::DEFAULT_CACHE_BYTES).expect("open");
        let mut events = store.watch_events();
        let mut subs = store.watch_subscriptions();
        let rang = |rx: &mut watch::Receiver<u64>| {
            let r = rx.has_changed().expect("open");
            rx.borrow_and_update();
            r
        };

        let a = store.create_subscription(sub("a")).await.expect("create");
        assert!(rang(&mut subs), "creating a subscription");
        assert!(store.update_subscription(a.clone()).await.expect("update"));
        assert!(rang(&mut subs), "changing one");
        let mut gone = a.clone();
        gone.id = 999;
        assert!(!store.update_subscription(gone).await.expect("update"));
        assert!(!rang(&mut subs), "changing none");

        assert!(store.append_events(vec![]).await.expect("none").is_empty());
        assert!(!rang(&mut events), "nothing committed");
        let seqs = store.append_events(vec![ev("a")]).await.expect("append");
        assert!(rang(&mut events), "events committed");
        assert_eq!(*events.borrow(), seqs[0]);

        // A session delete takes its subscriptions (and their jobs) along,
        // in the same transaction, and rings.
        store
            .create_session(
                crate::store::SessionRecord {
                    id: "a".into(),
                    name: "a".into(),
                    token_sha256: hex::encode(crate::store::hash_token("tok-a")),
                    created_at: 1,
                    webhook_url: None,
                    events: vec![],
                    token_sealed: None,
                    dialect: None,
                },
                "tok-a",
            )
            .await
            .expect("session");
        store.create_subscription(sub("b")).await.expect("other");
        rang(&mut subs);
        assert!(store.delete_session("a").await.expect("delete"));
        assert!(rang(&mut subs), "its subscriptions went");
        let left = store.list_subscriptions().await.expect("list");
        assert_eq!(
            left.iter()
                .map(|s| s.session.as_deref())
                .collect::<Vec<_>>(),
            vec![Some("b")],
            "only the other session's subscription is left"
        );
        let stats = store.subscription_stats().await.expect("stats");
        assert!(stats.iter().all(|(id, _)| *id != a.id), "{stats:?}");
        assert!(!store.delete_session("a").await.expect("again"));
        assert!(!rang(&mut subs), "nothing more to drop");
    }
}
