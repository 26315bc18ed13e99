//! What came back and what it says: the outcome class of each response ([`outcome`]), the
//! histograms and series it is recorded into ([`recorder`], [`histogram`]), why a run stopped
//! early ([`stop`]) and what the generator itself cost ([`cpu`]). This is the floor every later
//! stage reads from; it imports nothing else of loadgen's.

pub mod checks;
pub mod cpu;
pub mod flows;
pub mod histogram;
pub mod outcome;
pub mod partial;
pub mod recorder;
pub mod stop;

pub use outcome::{ALL, Class, ClassCounts};
pub use recorder::{Recorder, Sample, Second};
pub use stop::{Signal, Stop};
