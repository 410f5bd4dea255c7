//! Step mode.
