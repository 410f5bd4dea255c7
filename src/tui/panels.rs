//! The Sale tab's panels, one module each.

pub mod alarm;
pub mod chart;
pub mod hero;
pub mod holds;
pub mod join;
pub mod metrics;
pub mod orders;
pub mod stock;
