//! What a run costs: the price list and its arithmetic ([`prices`]), the usage assembled from
//! the best source and priced ([`assess`], with [`reconcile`], [`by_request`] and [`knee`]),
//! the CloudWatch pull ([`cloudwatch`]), the local stack's REPORT lines ([`report_lines`]) and
//! the stage a run goes through ([`stage`]). The shapes it fills in are in
//! [`crate::results::cost`].

pub mod assess;
pub mod by_request;
pub mod client;
pub mod cloudwatch;
pub mod knee;
pub mod prices;
pub mod reconcile;
pub mod report_lines;
pub mod stage;

pub use prices::{PriceError, Prices};
pub use stage::{Context, GuardError};
