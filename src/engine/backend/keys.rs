//! Row keys of the key store: `session id ‖ 0x00 ‖ natural key`.
//!
//! Owns: building keys (composite keys length-prefix every component but the
//! last), parsing them back, and the half-open byte range that covers every
//! key starting with a prefix. Knows nothing about tables or values.

use super::error::BackendError;

/// Separates the session id from the natural key.
const SESSION_SEPARATOR: u8 = 0x00;

/// The per-session key prefix `session id ‖ 0x00`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionPrefix(Vec<u8>);

impl SessionPrefix {
    /// Validates the session id: a NUL byte inside it would let one session's
    /// range scan reach into another's (`"a"` vs `"a\0b"`).
    pub(crate) fn new(session_id: &str) -> Result<Self, BackendError> {
        if session_id.is_empty() || session_id.as_bytes().contains(&SESSION_SEPARATOR) {
            return Err(BackendError::InvalidSessionId(session_id.to_string()));
        }
        let mut bytes = Vec::with_capacity(session_id.len() + 1);
        bytes.extend_from_slice(session_id.as_bytes());
        bytes.push(SESSION_SEPARATOR);
        Ok(SessionPrefix(bytes))
    }

    /// The prefix bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Starts a key inside this session.
    pub(crate) fn key(&self) -> KeyBuf {
        KeyBuf(self.0.clone())
    }

    /// The natural key of a row of this session (the bytes after the prefix).
    pub(crate) fn strip<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        key.strip_prefix(self.0.as_slice())
    }
}

/// A key under construction.
#[derive(Debug)]
pub(crate) struct KeyBuf(Vec<u8>);

impl KeyBuf {
    /// Appends a length-prefixed component (not the last one).
    pub(crate) fn part(mut self, component: &[u8]) -> Result<Self, BackendError> {
        let len = u32::try_from(component.len())
            .map_err(|_| BackendError::KeyTooLong(component.len()))?;
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(component);
        Ok(self)
    }

    /// Appends the last component, raw, and finishes the key.
    pub(crate) fn last(mut self, component: &[u8]) -> Vec<u8> {
        self.0.extend_from_slice(component);
        self.0
    }

    /// Finishes the key as built so far (a prefix for scans).
    pub(crate) fn done(self) -> Vec<u8> {
        self.0
    }
}

/// `session ‖ 0x00 ‖ lp(chat) ‖ lp(sender) ‖ id`: the key of the per-message
/// tables (pending inbound messages, message secrets).
pub(crate) fn chat_sender_id_key(
    p: &SessionPrefix,
    chat: &str,
    sender: &str,
    id: &str,
) -> Result<Vec<u8>, BackendError> {
    Ok(p.key()
        .part(chat.as_bytes())?
        .part(sender.as_bytes())?
        .last(id.as_bytes()))
}

/// Splits one length-prefixed component off the front of `rest`.
pub(crate) fn split_part(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_with_nul_or_empty_are_refused() {
        for bad in ["", "a\0b", "\0"] {
            assert!(SessionPrefix::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            SessionPrefix::new("till").expect("valid").as_bytes(),
            b"till\0"
        );
    }

    #[test]
    fn parts_round_trip_and_keep_components_apart() {
        let p = SessionPrefix::new("s").expect("valid");
        let a = p.key().part(b"ab").expect("part").last(b"c");
        let b = p.key().part(b"a").expect("part").last(b"bc");
        assert_ne!(a, b, "length prefixes must keep (ab,c) and (a,bc) apart");
        let rest = p.strip(&a).expect("own prefix");
        let (first, last) = split_part(rest).expect("parse");
        assert_eq!((first, last), (&b"ab"[..], &b"c"[..]));
        assert!(split_part(&[0, 0, 0, 9, 1]).is_none(), "short component");
        assert!(split_part(&[0, 0]).is_none(), "short length");
    }
}
