//! Parser speed and memory benchmark for edigate.
//!
//! - [`generate`]: deterministic, realistic X12 850 and EDIFACT ORDERS D96A files of a requested
//!   size (the inputs every tool is measured on).
//! - [`work`]: the measured workloads, one function per tool and task, shared by the criterion
//!   benches (`cargo bench -p edigate-bench`) and the comparison binary (`edigate-bench compare`).
//! - [`mem`]: peak resident memory of the current process, for the streaming memory check.
//!
//! `bench/run.sh` installs the Python and Node peers, generates the data, and runs the comparison.

pub mod generate;
pub mod mem;
pub mod work;
