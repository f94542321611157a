//! Sealing values at rest: a secret the box must give back later (a
//! session's token, for the `token` field of `form` webhooks) is kept in the
//! database encrypted with a key that lives outside it, in
//! `<data>/seal-key` (32 random bytes, mode 0600, made on first start).
//!
//! A copy of `wago.redb` alone (a backup, a file sent for diagnosis) then
//! reveals no token. Authentication never uses a sealed value: tokens are
//! still looked up and compared by their SHA-256 only.
//!
//! ChaCha20-Poly1305 (ring, already in the build through rustls) with a
//! random 96-bit nonce per value and the owning record's id as associated
//! data, so a sealed value cannot be moved to another record. Stored as
//! `v1:<base64 of nonce ‖ ciphertext ‖ tag>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::io::Write as _;
use std::path::Path;

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "seal-key";

/// Length of the key file.
const KEY_LEN: usize = 32;

/// Prefix of a sealed value (the format version).
const PREFIX: &str = "v1:";

/// The box's sealing key. `Debug` never shows it.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading or creating the key file failed.
    #[error("seal key {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error("seal key {0}: not {KEY_LEN} bytes")]
    BadKey(String),
}

impl Sealer {
    /// Loads `<dir>/seal-key`, creating it (mode 0600) when missing.
    pub fn load_or_create(dir: &Path) -> Result<Sealer, SealError> {
        let path = dir.join(KEY_FILE);
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = [0u8; KEY_LEN];
                rand::Rng::fill_bytes(&mut rand::rng(), &mut b);
                write_new(&path, &b).map_err(io)?;
                b.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        Sealer::from_key(&bytes).ok_or_else(|| SealError::BadKey(path.display().to_string()))
    }

    /// A sealer over a raw 32-byte key.
    pub fn from_key(bytes: &[u8]) -> Option<Sealer> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        Some(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `plain`, bound to `owner` (the record's id).
    pub fn seal(&self, owner: &str, plain: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut buf,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Some(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Opens a value [`Sealer::seal`] made for `owner`; `None` when it was
    /// sealed with another key, for another owner, or is damaged.
    pub fn open(&self, owner: &str, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// Writes a new key file readable by its owner only.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_its_owner_and_key() {
        let s = Sealer::from_key(&[7u8; 32]).expect("key");
        let sealed = s.seal("s1", "customer-token-1").expect("seal");
        assert!(!sealed.contains("customer-token-1"), "{sealed}");
        assert_eq!(s.open("s1", &sealed).as_deref(), Some("customer-token-1"));
        assert_eq!(s.open("s2", &sealed), None, "bound to its record");
        let other = Sealer::from_key(&[8u8; 32]).expect("key");
        assert_eq!(other.open("s1", &sealed), None, "another box's key");
        assert_ne!(
            s.seal("s1", "x"),
            s.seal("s1", "x"),
            "a fresh nonce each time"
        );
        assert_eq!(s.open("s1", "v1:AAAA"), None);
        assert_eq!(s.open("s1", "plain"), None);
    }

    #[test]
    fn key_file_is_made_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Sealer::load_or_create(dir.path()).expect("create");
        let sealed = a.seal("s", "t").expect("seal");
        let b = Sealer::load_or_create(dir.path()).expect("load");
        assert_eq!(b.open("s", &sealed).as_deref(), Some("t"), "same key");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(format!("{a:?}").contains("***"));
    }
}
