//! Wire format v1.
pub mod control;
