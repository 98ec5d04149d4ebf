//! What the IVR does for a caller, below the flow and above the store: each module
//! takes the store parts and settings it uses, never the whole state.

pub mod agencies;
pub mod announcement;
pub mod callbacks;
pub mod cases;
pub mod outbound;
pub mod pay;
pub mod readback;
pub mod requests;
pub mod transfer;
pub mod verify;
