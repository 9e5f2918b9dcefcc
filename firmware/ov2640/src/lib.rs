//! OV2640 sensor set-up over SCCB (embedded-hal I2C), chip-independent (no_std)
#![no_std]
