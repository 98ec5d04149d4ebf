//! The case database: the agency's nightly extract in ([`import`]), case status and
//! payments out (stored by [`crate::store::Cases`], read back by
//! [`crate::domain::readback`]).

pub mod import;

pub use crate::session::{CaseRef, Role, ending};
pub use crate::store::cases::*;
