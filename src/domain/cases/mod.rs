//! The case database: the agency's nightly extract in ([`import`]), case status and
//! payments out ([`db`], read back by [`crate::domain::readback`]).

pub mod db;
pub mod import;
pub mod model;

pub use model::*;
