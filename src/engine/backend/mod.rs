//! redb implementation of whatsapp-rust's storage `Backend` (work in progress).
