//! WhatsApp's media copies expire: tests drop the stored blobs so the
//! client's next download of them fails with 404, as the real CDN answers.
//! And WhatsApp may refuse a linked device's login: tests make every login
//! end in `<failure reason>`.

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

    /// From now on, refuse every companion login with `<failure reason="…">`
    /// (`400` generic, `503` unavailable, …); `None` lets logins in again.
    pub fn refuse_logins(&self, reason: Option<&str>) {
        self.shared.lock().refuse_logins = reason.map(str::to_string);
        self.shared.bump();
    }
}
