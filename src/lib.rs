//! flashsale: runs a flash sale honestly on SQLite, and shows it happening.

pub mod lab;
