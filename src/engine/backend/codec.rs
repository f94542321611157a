//! Value encodings of the key store.
//!
//! Owns: how each value is laid out in its redb row, and decoding that never
//! panics on bad bytes (a short or garbled row is a [`BackendError::Corrupt`]).
//!
//! - The library's own opaque records (Signal sessions, prekeys, sender keys,
//!   group metadata, message payloads) are stored byte for byte.
//! - wacore's serde types (`Device`, `HashState`, `AppStateSyncKey`,
//!   `LidPnMappingEntry`, `DeviceListRecord`, `TcTokenEntry`) are JSON, so a
//!   field added by a newer wacore survives a round trip through this store.
//! - The backend's own small rows use fixed big-endian layouts:
//!   prekey = `uploaded u8 ‖ record`; timestamped = `i64 ‖ bytes`;
//!   msg secret = `secret[32] ‖ expires_at i64 ‖ message_ts i64`;
//!   phone→LID index = `updated_at i64 ‖ write sequence u64`; flags = one byte.

use super::error::BackendError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use whatsapp_rust::wacore::store::traits::MessageSecret;

/// Encodes a serde value as JSON.
pub(crate) fn to_json<T: Serialize>(table: &str, value: &T) -> Result<Vec<u8>, BackendError> {
    serde_json::to_vec(value).map_err(|e| BackendError::Encode {
        table: table.to_string(),
        reason: e.to_string(),
    })
}

/// Decodes a JSON value.
pub(crate) fn from_json<T: DeserializeOwned>(table: &str, bytes: &[u8]) -> Result<T, BackendError> {
    serde_json::from_slice(bytes).map_err(|e| BackendError::corrupt(table, e.to_string()))
}

/// A 32-byte identity key.
pub(crate) fn identity(table: &str, bytes: &[u8]) -> Result<[u8; 32], BackendError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| BackendError::corrupt(table, format!("identity of {} bytes", bytes.len())))
}

/// `flag ‖ bytes`.
pub(crate) fn flagged(flag: bool, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(u8::from(flag));
    out.extend_from_slice(bytes);
    out
}

/// Splits `flag ‖ bytes`.
pub(crate) fn split_flagged<'r>(
    table: &str,
    row: &'r [u8],
) -> Result<(bool, &'r [u8]), BackendError> {
    match row.split_first() {
        Some((0, rest)) => Ok((false, rest)),
        Some((1, rest)) => Ok((true, rest)),
        Some((other, _)) => Err(BackendError::corrupt(table, format!("flag byte {other}"))),
        None => Err(BackendError::corrupt(table, "empty row")),
    }
}

/// A one-byte boolean.
pub(crate) fn flag(table: &str, row: &[u8]) -> Result<bool, BackendError> {
    match split_flagged(table, row)? {
        (flag, []) => Ok(flag),
        _ => Err(BackendError::corrupt(table, "trailing bytes after flag")),
    }
}

/// `timestamp i64 ‖ bytes`.
pub(crate) fn timestamped(ts: i64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Splits `timestamp i64 ‖ bytes`.
pub(crate) fn split_timestamped<'r>(
    table: &str,
    row: &'r [u8],
) -> Result<(i64, &'r [u8]), BackendError> {
    let (ts, rest) = row
        .split_first_chunk::<8>()
        .ok_or_else(|| BackendError::corrupt(table, "row shorter than its timestamp"))?;
    Ok((i64::from_be_bytes(*ts), rest))
}

/// A stored message secret with its expiry and parent time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SecretRow {
    pub(crate) secret: MessageSecret,
    pub(crate) expires_at: i64,
    pub(crate) message_ts: i64,
}

const SECRET_LEN: usize = std::mem::size_of::<MessageSecret>();

impl SecretRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SECRET_LEN + 16);
        out.extend_from_slice(&self.secret);
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&self.message_ts.to_be_bytes());
        out
    }

    pub(crate) fn decode(table: &str, row: &[u8]) -> Result<Self, BackendError> {
        let bad = || BackendError::corrupt(table, format!("secret row of {} bytes", row.len()));
        let (secret, rest) = row.split_first_chunk::<SECRET_LEN>().ok_or_else(bad)?;
        let (expires_at, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let message_ts = <[u8; 8]>::try_from(rest).map_err(|_| bad())?;
        Ok(SecretRow {
            secret: *secret,
            expires_at: i64::from_be_bytes(*expires_at),
            message_ts: i64::from_be_bytes(message_ts),
        })
    }
}

/// `updated_at i64 ‖ sequence u64`: orders the LIDs of one phone.
pub(crate) fn pn_order(updated_at: i64, seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&updated_at.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

/// Parses [`pn_order`].
pub(crate) fn parse_pn_order(table: &str, row: &[u8]) -> Result<(i64, u64), BackendError> {
    let bytes = <[u8; 16]>::try_from(row)
        .map_err(|_| BackendError::corrupt(table, format!("order of {} bytes", row.len())))?;
    let (ts, seq) = bytes.split_at(8);
    let ts = <[u8; 8]>::try_from(ts).map_err(|_| BackendError::corrupt(table, "order"))?;
    let seq = <[u8; 8]>::try_from(seq).map_err(|_| BackendError::corrupt(table, "order"))?;
    Ok((i64::from_be_bytes(ts), u64::from_be_bytes(seq)))
}

/// A big-endian `u64` counter value (absent or garbled reads as 0).
pub(crate) fn counter(row: Option<&[u8]>) -> u64 {
    row.and_then(|r| <[u8; 8]>::try_from(r).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Parses a key component that must be UTF-8.
pub(crate) fn utf8(table: &str, bytes: &[u8]) -> Result<String, BackendError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|e| BackendError::corrupt(table, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_layouts_round_trip() {
        let row = SecretRow {
            secret: [9; SECRET_LEN],
            expires_at: -5,
            message_ts: 77,
        };
        assert_eq!(SecretRow::decode("t", &row.encode()).expect("decode"), row);
        assert_eq!(
            split_flagged("t", &flagged(true, b"r")).expect("ok"),
            (true, &b"r"[..])
        );
        assert_eq!(
            split_timestamped("t", &timestamped(-3, b"p")).expect("ok"),
            (-3, &b"p"[..])
        );
        assert_eq!(
            parse_pn_order("t", &pn_order(i64::MIN, 3)).expect("ok"),
            (i64::MIN, 3)
        );
        assert_eq!(counter(Some(&7u64.to_be_bytes())), 7);
        assert_eq!(counter(None), 0);
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(SecretRow::decode("t", &[1, 2, 3]).is_err());
        assert!(SecretRow::decode("t", &[0; SECRET_LEN + 17]).is_err());
        assert!(split_flagged("t", &[]).is_err());
        assert!(split_flagged("t", &[2, 0]).is_err());
        assert!(flag("t", &[1, 1]).is_err());
        assert!(split_timestamped("t", &[0; 7]).is_err());
        assert!(parse_pn_order("t", &[0; 15]).is_err());
        assert!(identity("t", &[0; 31]).is_err());
        assert!(utf8("t", &[0xFF]).is_err());
        assert!(from_json::<Vec<u8>>("t", b"{").is_err());
    }
}
