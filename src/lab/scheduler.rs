//! Scheduler mode.
