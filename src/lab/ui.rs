//! The Lab tab.
