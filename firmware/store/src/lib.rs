//! Power-loss-safe image store over a NOR flash partition (no_std)
#![no_std]
