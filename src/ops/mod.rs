//! Running the line: metrics, logs, call reports and the load tester.

pub mod analytics;
pub mod loadtest;
pub mod metrics;
pub mod telemetry;
