//! Register tables: the set-up after reset, the three sensor read-out modes,
//! and the JPEG output path.
//!
//! Many of these registers are undocumented analog and timing trims. Their
//! values follow OmniVision's reference settings for the OV2640, the same
//! values esp32-camera (Apache-2.0) and the Linux driver use; the grouping
//! into mode-independent and per-mode tables is ours: everything a read-out
//! mode changes lives in that mode's table, so that `set_frame_size` alone
//! leaves the sensor consistent, whatever mode it was in before.

use crate::registers::{dsp, sde, sensor, Bank};

/// Register writes in one bank, in order.
pub(crate) struct Block {
    pub bank: Bank,
    pub writes: &'static [(u8, u8)],
}

/// Mode-independent sensor set-up after a soft reset: clocks, drive, the
/// exposure and gain loops on, and the analog trims no mode changes.
pub(crate) const SENSOR_BASE: Block = Block {
    bank: Bank::Sensor,
    writes: &[
        (0x3C, 0x32),
        (sensor::CLKRC, 0x01),
        (sensor::COM2, sensor::COM2_DRIVE_3X),
        (sensor::REG04, sensor::REG04_DEFAULT),
        (sensor::COM8, sensor::COM8_DEFAULT | sensor::COM8_BANDING | sensor::COM8_AGC | sensor::COM8_AEC),
        (sensor::COM9, sensor::COM9_DEFAULT | (INITIAL_GAIN_CEILING << sensor::COM9_CEILING_SHIFT)),
        (0x2C, 0x0C),
        (0x33, 0x78),
        (0x3A, 0x33),
        (0x3B, 0xFB),
        (0x3E, 0x00),
        (0x43, 0x11),
        (0x16, 0x10),
        (0x4A, 0x81),
        (0x21, 0x99),
        (0x5C, 0x00),
        (0x63, 0x00),
        (sensor::HISTO_LOW, 0x70),
        (sensor::HISTO_HIGH, 0x80),
        (0x7C, 0x05),
        (0x20, 0x80),
        (0x28, 0x30),
        (0x6C, 0x00),
        (0x6E, 0x00),
        (0x70, 0x02),
        (0x71, 0x94),
        (0x73, 0xC1),
    ],
};

/// The gain ceiling after set-up: 8x (COM9 code 2).
pub(crate) const INITIAL_GAIN_CEILING: u8 = 2;

/// Mode-independent DSP set-up, with the JPEG and DVP blocks held in reset
/// until the end.
pub(crate) const DSP_BASE: Block = Block {
    bank: Bank::Dsp,
    writes: &[
        (0x2C, 0xFF),
        (0x2E, 0xDF),
        (0xE5, 0x7F),
        (dsp::MC_BIST, dsp::MC_BIST_RESET | dsp::MC_BIST_BOOT_ROM),
        (0x41, 0x24),
        (dsp::RESET, dsp::RESET_JPEG | dsp::RESET_DVP),
        (0x76, 0xFF),
        (0x33, 0xA0),
        (0x42, 0x20),
        (0x43, 0x18),
        (0x4C, 0x00),
        (dsp::CTRL3, dsp::CTRL3_WPC | 0x10),
        (0x88, 0x3F),
        (0xD7, 0x03),
        (0xD9, 0x10),
        (dsp::R_DVP_SP, 0x82),
        (0xC8, 0x08),
        (0xC9, 0x80),
        // The special-digital-effects block starts neutral: no effect,
        // saturation gains at their middle, the contrast reference set.
        (dsp::BPADDR, sde::CONTROL),
        (dsp::BPDATA, 0x00),
        (dsp::BPADDR, sde::SATURATION),
        (dsp::BPDATA, SATURATION_NEUTRAL),
        (dsp::BPDATA, SATURATION_NEUTRAL),
        (dsp::BPADDR, 0x08),
        (dsp::BPDATA, 0x20),
        (dsp::BPDATA, 0x10),
        (dsp::BPDATA, 0x0E),
        // Three indirect tables behind address/data ports 0x90/0x91,
        // 0x92/0x93 and 0x96/0x97: the tone curve and two colour tables.
        (0x90, 0x00),
        (0x91, 0x0E),
        (0x91, 0x1A),
        (0x91, 0x31),
        (0x91, 0x5A),
        (0x91, 0x69),
        (0x91, 0x75),
        (0x91, 0x7E),
        (0x91, 0x88),
        (0x91, 0x8F),
        (0x91, 0x96),
        (0x91, 0xA3),
        (0x91, 0xAF),
        (0x91, 0xC4),
        (0x91, 0xD7),
        (0x91, 0xE8),
        (0x91, 0x20),
        (0x92, 0x00),
        (0x93, 0x06),
        (0x93, 0xE3),
        (0x93, 0x05),
        (0x93, 0x05),
        (0x93, 0x00),
        (0x93, 0x04),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x93, 0x00),
        (0x96, 0x00),
        (0x97, 0x08),
        (0x97, 0x19),
        (0x97, 0x02),
        (0x97, 0x0C),
        (0x97, 0x24),
        (0x97, 0x30),
        (0x97, 0x28),
        (0x97, 0x26),
        (0x97, 0x02),
        (0x97, 0x98),
        (0x97, 0x80),
        (0x97, 0x00),
        (0x97, 0x00),
        // Automatic white balance windows and limits.
        (0xA4, 0x00),
        (0xA8, 0x00),
        (0xC5, 0x11),
        (0xC6, 0x51),
        (0xBF, 0x80),
        (dsp::AWB_CONTROL, 0x10),
        (0xB6, 0x66),
        (0xB8, 0xA5),
        (0xB7, 0x64),
        (0xB9, 0x7C),
        (0xB3, 0xAF),
        (0xB4, 0x97),
        (0xB5, 0xFF),
        (0xB0, 0xC5),
        (0xB1, 0x94),
        (0xB2, 0x0F),
        (0xC4, 0x5C),
        // Colour interpolation, gamma, AWB with gain and pre-processing on;
        // lens correction off.
        (dsp::CTRL1, 0xFD),
        (0x7F, 0x00),
        (0xE5, 0x1F),
        (0xE1, 0x67),
        (0xDD, 0x7F),
        (dsp::IMAGE_MODE, 0x00),
        (dsp::RESET, 0x00),
        (dsp::R_BYPASS, dsp::R_BYPASS_DSP),
    ],
};

/// The state `DSP_BASE` leaves CTRL1 and CTRL3 in, for the control read-back.
pub(crate) const INITIAL_CTRL1: u8 = 0xFD;
pub(crate) const INITIAL_CTRL3: u8 = dsp::CTRL3_WPC | 0x10;

/// The saturation gain at level 0.
pub(crate) const SATURATION_NEUTRAL: u8 = 0x48;

/// Switches the output path to JPEG: the encoder and the DVP port are held in
/// reset while the format changes.
pub(crate) const JPEG_OUTPUT: Block = Block {
    bank: Bank::Dsp,
    writes: &[
        (dsp::RESET, dsp::RESET_JPEG | dsp::RESET_DVP),
        (dsp::IMAGE_MODE, dsp::IMAGE_MODE_JPEG | dsp::IMAGE_MODE_HREF_VSYNC),
        (0xD7, 0x03),
        (0xE1, 0x77),
        (0xE5, 0x1F),
        (0xD9, 0x10),
        (0xDF, 0x80),
        (0x33, 0x80),
        (0x3C, 0x10),
        (0xEB, 0x30),
        (0xDD, 0x7F),
        (dsp::RESET, 0x00),
    ],
};

/// How the sensor array is read out; the DSP then crops and scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SensorMode {
    /// 400 x 296, binned and skipped.
    Cif,
    /// 800 x 600, binned.
    Svga,
    /// 1600 x 1200, the full array.
    Uxga,
}

impl SensorMode {
    /// The smallest read-out that covers `width` x `height`: smaller
    /// read-outs give higher frame rates.
    pub const fn covering(width: u16, height: u16) -> SensorMode {
        let (cif_width, cif_height) = SensorMode::Cif.size();
        let (svga_width, svga_height) = SensorMode::Svga.size();
        if width <= cif_width && height <= cif_height {
            SensorMode::Cif
        } else if width <= svga_width && height <= svga_height {
            SensorMode::Svga
        } else {
            SensorMode::Uxga
        }
    }

    /// The size of the read-out in pixels.
    pub const fn size(self) -> (u16, u16) {
        match self {
            SensorMode::Cif => (400, 296),
            SensorMode::Svga => (800, 600),
            SensorMode::Uxga => (1600, 1200),
        }
    }

    /// COM7's resolution bits.
    pub(crate) const fn com7(self) -> u8 {
        match self {
            SensorMode::Cif => sensor::COM7_CIF,
            SensorMode::Svga => sensor::COM7_SVGA,
            SensorMode::Uxga => sensor::COM7_UXGA,
        }
    }

    /// The sensor-bank writes after COM7: the array window, then the
    /// banding steps and analog trims of this mode.
    pub(crate) const fn sensor_writes(self) -> &'static [(u8, u8)] {
        match self {
            SensorMode::Cif => &[
                (sensor::COM1, 0x0A),
                (sensor::REG32, 0x89),
                (sensor::HSTART, 0x11),
                (sensor::HSTOP, 0x43),
                (sensor::VSTART, 0x00),
                (sensor::VSTOP, 0x25),
                (sensor::BD50, 0xCA),
                (sensor::BD60, 0xA8),
                (0x5A, 0x23),
                (0x6D, 0x00),
                (0x3D, 0x38),
                (0x39, 0x92),
                (0x35, 0xDA),
                (0x22, 0x1A),
                (0x37, 0xC3),
                (0x23, 0x00),
                (sensor::ARCOM2, 0xC0),
                (0x06, 0x88),
                (0x07, 0xC0),
                (sensor::COM4, 0x87),
                (0x0E, 0x41),
                (0x42, 0x03),
                (0x4C, 0x00),
            ],
            SensorMode::Svga => &[
                (sensor::COM1, 0x0A),
                (sensor::REG32, 0x09),
                (sensor::HSTART, 0x11),
                (sensor::HSTOP, 0x43),
                (sensor::VSTART, 0x00),
                (sensor::VSTOP, 0x4B),
                (sensor::BD50, 0xCA),
                (sensor::BD60, 0xA8),
                (0x5A, 0x23),
                (0x6D, 0x00),
                (0x3D, 0x38),
                (0x39, 0x92),
                (0x35, 0xDA),
                (0x22, 0x1A),
                (0x37, 0xC3),
                (0x23, 0x00),
                (sensor::ARCOM2, 0xC0),
                (0x06, 0x88),
                (0x07, 0xC0),
                (sensor::COM4, 0x87),
                (0x0E, 0x41),
                (0x42, 0x03),
                (0x4C, 0x00),
            ],
            SensorMode::Uxga => &[
                (sensor::COM1, 0x0F),
                (sensor::REG32, 0x36),
                (sensor::HSTART, 0x11),
                (sensor::HSTOP, 0x75),
                (sensor::VSTART, 0x01),
                (sensor::VSTOP, 0x97),
                (sensor::BD50, 0xBB),
                (sensor::BD60, 0x9C),
                (0x5A, 0x57),
                (0x6D, 0x80),
                (0x3D, 0x34),
                (0x39, 0x82),
                (0x35, 0x88),
                (0x22, 0x0A),
                (0x37, 0x40),
                (0x23, 0x00),
                (sensor::ARCOM2, 0xA0),
                (0x06, 0x02),
                (0x07, 0xC0),
                (sensor::COM4, 0xB7),
                (0x0E, 0x01),
                (0x42, 0x83),
                (0x4C, 0x00),
            ],
        }
    }

    /// The DVP pixel-clock divider in JPEG mode: the full array makes the
    /// encoder burst faster, so the clock runs slower for the receiver's DMA.
    pub(crate) const fn jpeg_pixel_clock_divider(self) -> u8 {
        match self {
            SensorMode::Cif | SensorMode::Svga => 8,
            SensorMode::Uxga => 12,
        }
    }
}

/// Manual white-balance gains (red, green, blue) for `wb_mode` 1 to 4:
/// sunny, cloudy, office, home.
pub(crate) const WHITE_BALANCE_GAINS: [[u8; 3]; 4] =
    [[0x5E, 0x41, 0x54], [0x65, 0x41, 0x4F], [0x52, 0x41, 0x66], [0x42, 0x3F, 0x71]];

/// Exposure targets (AEW, AEB, VV) for `ae_level` -2 to 2.
pub(crate) const EXPOSURE_TARGETS: [[u8; 3]; 5] =
    [[0x20, 0x18, 0x60], [0x34, 0x1C, 0x00], [0x3E, 0x38, 0x81], [0x48, 0x40, 0x81], [0x58, 0x50, 0x92]];

/// Fixed U and V for `special_effect` 0 to 6: none, negative, grayscale,
/// red tint, green tint, blue tint, sepia. The SDE control bits go with them.
pub(crate) const SPECIAL_EFFECTS: [(u8, [u8; 2]); 7] = [
    (0x00, [0x80, 0x80]),
    (sde::CONTROL_NEGATIVE, [0x80, 0x80]),
    (sde::CONTROL_FIXED_UV, [0x80, 0x80]),
    (sde::CONTROL_FIXED_UV, [0x40, 0xC0]),
    (sde::CONTROL_FIXED_UV, [0x40, 0x40]),
    (sde::CONTROL_FIXED_UV, [0xA0, 0x40]),
    (sde::CONTROL_FIXED_UV, [0x40, 0xA6]),
];
