//! The WhatsApp engine: the only module that imports `whatsapp_rust`.
//!
//! One client per session; library events become the gateway's own event
//! type. The key store the library needs lives in the gateway's redb file
//! (see [`backend`]).

pub mod backend;
pub mod jid;
pub mod qr;
