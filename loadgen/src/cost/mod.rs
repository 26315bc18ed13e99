//! What a run costs: the price list and its arithmetic ([`prices`]), the usage assembled from
//! the best source and priced ([`assess`], with [`reconcile`], [`by_request`] and [`knee`]),
//! the CloudWatch pull ([`cloudwatch`]), the local stack's function log ([`lambda_log`]) and
//! the stage a run goes through ([`stage`]). The shapes it fills in are in
//! [`crate::results::cost`].

pub mod assess;
pub mod aws_calibration;
pub mod aws_logs;
pub mod by_request;
pub mod calibrate;
pub mod client_view;
pub mod cloudwatch;
pub mod kind_durations;
pub mod knee;
pub mod lambda_log;
pub mod prices;
pub mod reconcile;
pub mod simulated;
pub mod stage;

pub use prices::{PriceError, Prices};
pub use stage::{GuardError, TargetFacts};
