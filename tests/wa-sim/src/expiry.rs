//! WhatsApp's media copies expire: tests drop the stored blobs so the
//! client's next download of them fails with 404, as the real CDN answers.

use crate::Simulator;

impl Simulator {
    /// Deletes every stored media blob (uploads and contacts' files).
    /// Returns how many were dropped.
    pub fn expire_media(&self) -> usize {
        let n = {
            let mut inner = self.shared.lock();
            let n = inner.blobs.len();
            inner.blobs.clear();
            n
        };
        self.shared.bump();
        n
    }
}
