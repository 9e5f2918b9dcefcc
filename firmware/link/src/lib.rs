//! The ESP-NOW link model: loss, duplication, reordering, delay, outages and airtime (no_std)
#![no_std]
