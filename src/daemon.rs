//! daemon (work in progress)
