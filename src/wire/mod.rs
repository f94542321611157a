//! What each dialect's clients and receivers see: the shapes and signatures
//! that both its routes (`api::dialect`) and its webhook format (`webhook`)
//! produce, and the signing rules (`sign`) that the config checks too. Built from the store's records only; imported by `api` and
//! `webhook`, importing neither, so delivery never reaches into the API.

pub mod sign;
pub mod wago_go;
