//! The discrete-event model of the stack in virtual time: the plan's own arrival schedule
//! ([`crate::attack::pacer`]), hold times drawn from what a run measured ([`hold`]), and one
//! function under the Lambda rules the local stack enforces, from the same code
//! ([`local_stack::rules`]) ([`lambda`]), its durations scaled by memory ([`memory`]), API
//! Gateway's throttling in front ([`gateway`]) and the DynamoDB table's behind ([`dynamodb`]).
//! `run`'s knee compares each offered rate's measured throttle share with it ([`schedule`]).

pub mod curve;
pub mod dynamodb;
pub mod error;
pub mod gate;
pub mod gateway;
pub mod grid;
pub mod hold;
pub mod lambda;
pub mod memory;
pub mod output;
pub mod partition;
pub mod schedule;
pub mod whatif;
pub mod whatif_file;
