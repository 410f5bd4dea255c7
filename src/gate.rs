//! The gate seam and the in-process gate live in core ([`flashsale_core::gate`]); Redis,
//! the gate several processes share, is here beside the other stores.

pub use flashsale_core::gate::*;

pub mod redis;
