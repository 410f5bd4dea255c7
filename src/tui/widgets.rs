//! Small widgets of the console's own: numbers three rows tall for the figures a room
//! reads from the back, and a stacked stock bar (sold, held, left).

mod bignum;
mod stockbar;

pub use bignum::BigNumber;
pub use stockbar::StockBar;
