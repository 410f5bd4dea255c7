//! The console's tabs, one component each (as in ratatui's demo2): a tab's state, the
//! keys it understands, what they do and how it draws live together in its module.

pub mod compare;
pub mod lab;
pub mod sale;
pub mod storefront;
