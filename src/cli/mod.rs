//! The `caseline` commands: what `main` dispatches to.

pub mod demo;
