//! The `file` part of `form` deliveries: where the worker gets the file of
//! an event that has media (`payload.hasMedia`). The engine provides it
//! (received media, downloaded or kept); it is bound after the engine
//! starts, so deliveries made before that go without a file.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

/// One file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPart {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its MIME type.
    pub mimetype: String,
    /// The file name to give it.
    pub file_name: String,
}

/// A future that resolves to the file, if there is one.
pub type MediaFuture<'a> = Pin<Box<dyn Future<Output = Option<MediaPart>> + Send + 'a>>;

/// Gives the file of a received message.
pub trait MediaSource: Send + Sync {
    /// The file of message `id` of `session`, or `None` (gone, offline, too big).
    fn file<'a>(&'a self, session: &'a str, id: &'a str) -> MediaFuture<'a>;
}

/// The late-bound media source shared by the workers; empty when received
/// media is not forwarded.
#[derive(Clone, Default)]
pub struct MediaSlot(Arc<OnceLock<Arc<dyn MediaSource>>>);

impl std::fmt::Debug for MediaSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSlot")
            .field("bound", &self.0.get().is_some())
            .finish()
    }
}

impl MediaSlot {
    /// Binds the source (the first binding wins).
    pub fn bind(&self, source: Arc<dyn MediaSource>) {
        let _ = self.0.set(source);
    }

    /// The file for an event, when it has media and a source is bound.
    pub async fn file_for(&self, session: &str, payload: &serde_json::Value) -> Option<MediaPart> {
        if payload.get("hasMedia") != Some(&serde_json::Value::Bool(true)) {
            return None;
        }
        let id = payload.get("id")?.as_str()?;
        let source = self.0.get()?.clone();
        source.file(session, id).await
    }
}
