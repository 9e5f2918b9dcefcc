//! OV2640 register addresses and bit fields, as the OV2640 datasheet names them.
//!
//! The OV2640 has two register banks behind one address space: register
//! 0xFF (`BANK_SEL`) picks the DSP bank (0) or the sensor bank (1).

/// Which register bank a register lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Bank {
    /// The image processor: scaler, JPEG encoder, special digital effects.
    Dsp = 0,
    /// The sensor array: windowing, exposure, gain, clocks.
    Sensor = 1,
}

/// Selects the bank, in either bank.
pub const BANK_SEL: u8 = 0xFF;

/// Registers of the DSP bank.
pub mod dsp {
    /// Bit 0 bypasses the DSP (raw sensor data).
    pub const R_BYPASS: u8 = 0x05;
    /// JPEG quantisation scale: lower is better quality and larger frames.
    pub const QS: u8 = 0x44;
    /// Scaler control: bit 7 low-power DP, bits 5:3 vertical and 2:0 horizontal divider.
    pub const CTRLI: u8 = 0x50;
    /// Input window width / 4, low 8 bits.
    pub const HSIZE: u8 = 0x51;
    /// Input window height / 4, low 8 bits.
    pub const VSIZE: u8 = 0x52;
    /// Input window horizontal offset, low 8 bits.
    pub const XOFFL: u8 = 0x53;
    /// Input window vertical offset, low 8 bits.
    pub const YOFFL: u8 = 0x54;
    /// High bits: 7 VSIZE\[8\], 6:4 YOFF\[10:8\], 3 HSIZE\[8\], 2:0 XOFF\[10:8\].
    pub const VHYX: u8 = 0x55;
    /// Bit 7 is HSIZE\[9\].
    pub const TEST: u8 = 0x57;
    /// Output width / 4, low 8 bits.
    pub const ZMOW: u8 = 0x5A;
    /// Output height / 4, low 8 bits.
    pub const ZMOH: u8 = 0x5B;
    /// High bits: 2 ZMOH\[8\], 1:0 ZMOW\[9:8\].
    pub const ZMHH: u8 = 0x5C;
    /// Address port of the special-digital-effects (SDE) registers.
    pub const BPADDR: u8 = 0x7C;
    /// Data port of the SDE registers; the address advances after each write.
    pub const BPDATA: u8 = 0x7D;
    /// Module enables: downsize, SDE, UV adjust, UV average, colour matrix.
    pub const CTRL2: u8 = 0x86;
    /// Black- and white-pixel correction enables.
    pub const CTRL3: u8 = 0x87;
    /// Low bits of the sensor frame size: 6 HSIZE\[11\], 5:3 HSIZE\[2:0\], 2:0 VSIZE\[2:0\].
    pub const SIZEL: u8 = 0x8C;
    /// Sensor frame width, bits 10:3.
    pub const HSIZE8: u8 = 0xC0;
    /// Sensor frame height, bits 10:3.
    pub const VSIZE8: u8 = 0xC1;
    /// Bit 6 picks the exposure algorithm (`aec2` clears it).
    pub const CTRL0: u8 = 0xC2;
    /// Enables: 5 raw gamma, 3 AWB, 2 AWB gain, 1 lens correction.
    pub const CTRL1: u8 = 0xC3;
    /// Bit 6 switches white balance from automatic to the gains in 0xCC..0xCE.
    pub const AWB_CONTROL: u8 = 0xC7;
    /// Manual white-balance gains: red, green, blue.
    pub const AWB_GAIN_RED: u8 = 0xCC;
    /// Bit 7 auto mode, bits 6:0 the DVP pixel-clock divider.
    pub const R_DVP_SP: u8 = 0xD3;
    /// Output format: bit 4 JPEG, bit 1 HREF timing in JPEG mode.
    pub const IMAGE_MODE: u8 = 0xDA;
    /// Holds blocks in reset: 6 microcontroller, 4 JPEG, 2 DVP.
    pub const RESET: u8 = 0xE0;
    /// Built-in self test and microcontroller control.
    pub const MC_BIST: u8 = 0xF9;

    pub const CTRLI_LP_DP: u8 = 0x80;
    pub const CTRL0_AEC_SEL: u8 = 0x40;
    pub const CTRL1_RAW_GMA: u8 = 0x20;
    pub const CTRL1_AWB: u8 = 0x08;
    pub const CTRL1_AWB_GAIN: u8 = 0x04;
    pub const CTRL1_LENC: u8 = 0x02;
    pub const CTRL2_DCW: u8 = 0x20;
    /// SDE, UV adjust, UV average and colour matrix, always on.
    pub const CTRL2_PIPELINE: u8 = 0x10 | 0x08 | 0x04 | 0x01;
    pub const CTRL3_BPC: u8 = 0x80;
    pub const CTRL3_WPC: u8 = 0x40;
    pub const AWB_CONTROL_MANUAL: u8 = 0x40;
    pub const R_BYPASS_DSP: u8 = 0x00;
    pub const R_BYPASS_RAW: u8 = 0x01;
    pub const IMAGE_MODE_JPEG: u8 = 0x10;
    pub const IMAGE_MODE_HREF_VSYNC: u8 = 0x02;
    pub const RESET_JPEG: u8 = 0x10;
    pub const RESET_DVP: u8 = 0x04;
    pub const MC_BIST_RESET: u8 = 0x80;
    pub const MC_BIST_BOOT_ROM: u8 = 0x40;
}

/// Registers of the sensor bank.
pub mod sensor {
    /// Analog gain: bits 7:4 each double it, bits 3:0 add sixteenths.
    pub const GAIN: u8 = 0x00;
    /// Low bits of the vertical window start and end.
    pub const COM1: u8 = 0x03;
    /// 7 horizontal mirror, 6 vertical flip, 4 VREF, 1:0 AEC\[1:0\].
    pub const REG04: u8 = 0x04;
    /// Output drive strength.
    pub const COM2: u8 = 0x09;
    /// Product id, 0x26 for the OV2640.
    pub const PID: u8 = 0x0A;
    /// Product version, 0x42 for the OV2640.
    pub const VER: u8 = 0x0B;
    pub const COM4: u8 = 0x0D;
    /// Exposure AEC\[9:2\].
    pub const AEC: u8 = 0x10;
    /// Clock: bit 7 doubler, bits 5:0 divider.
    pub const CLKRC: u8 = 0x11;
    /// 7 soft reset, 6:4 resolution, 1 colour-bar test pattern.
    pub const COM7: u8 = 0x12;
    /// 5 banding filter, 2 automatic gain, 0 automatic exposure.
    pub const COM8: u8 = 0x13;
    /// Bits 7:5 the gain ceiling, 2x to 128x.
    pub const COM9: u8 = 0x14;
    pub const HSTART: u8 = 0x17;
    pub const HSTOP: u8 = 0x18;
    pub const VSTART: u8 = 0x19;
    pub const VSTOP: u8 = 0x1A;
    /// Manufacturer id, high and low byte (0x7F, 0xA2 for OmniVision).
    pub const MIDH: u8 = 0x1C;
    pub const MIDL: u8 = 0x1D;
    /// Exposure target: upper limit of the stable region.
    pub const AEW: u8 = 0x24;
    /// Exposure target: lower limit of the stable region.
    pub const AEB: u8 = 0x25;
    /// Fast-mode thresholds: high nibble upper, low nibble lower.
    pub const VV: u8 = 0x26;
    /// Low bits of the horizontal window start and end; 7:6 pixel-clock divider.
    pub const REG32: u8 = 0x32;
    pub const ARCOM2: u8 = 0x34;
    /// Bits 5:0 are AEC\[15:10\].
    pub const REG45: u8 = 0x45;
    /// 50 Hz banding step.
    pub const BD50: u8 = 0x4F;
    /// 60 Hz banding step.
    pub const BD60: u8 = 0x50;
    pub const HISTO_LOW: u8 = 0x61;
    pub const HISTO_HIGH: u8 = 0x62;

    pub const REG04_DEFAULT: u8 = 0x28;
    pub const REG04_HMIRROR: u8 = 0x80;
    /// Vertical flip needs the VREF bit moved with it, or the first line is lost.
    pub const REG04_VFLIP: u8 = 0x40 | 0x10;
    pub const REG04_AEC_LOW: u8 = 0x03;
    pub const REG45_AEC_HIGH: u8 = 0x3F;
    pub const COM7_SOFT_RESET: u8 = 0x80;
    pub const COM7_UXGA: u8 = 0x00;
    pub const COM7_CIF: u8 = 0x20;
    pub const COM7_SVGA: u8 = 0x40;
    pub const COM7_COLOR_BAR: u8 = 0x02;
    pub const COM8_DEFAULT: u8 = 0xC0;
    pub const COM8_BANDING: u8 = 0x20;
    pub const COM8_AGC: u8 = 0x04;
    pub const COM8_AEC: u8 = 0x01;
    pub const COM9_DEFAULT: u8 = 0x08;
    pub const COM9_CEILING_SHIFT: u8 = 5;
    pub const COM9_CEILING: u8 = 0x07 << COM9_CEILING_SHIFT;
    pub const COM2_DRIVE_3X: u8 = 0x02;
}

/// Indirect registers of the special-digital-effects block, reached through
/// `BPADDR` / `BPDATA`.
pub mod sde {
    /// Which adjustments run: 6 negative, 4:3 fixed U/V (effects),
    /// 2 brightness and contrast, 1 saturation.
    pub const CONTROL: u8 = 0x00;
    /// Saturation gain for U, then V.
    pub const SATURATION: u8 = 0x03;
    /// Fixed U, then V, for the tint effects.
    pub const FIXED_UV: u8 = 0x05;
    /// Contrast block: 0x07 reference, 0x08 gain, 0x09 offset, 0x0A sign.
    pub const CONTRAST: u8 = 0x07;
    /// Brightness offset, then its sign.
    pub const BRIGHTNESS: u8 = 0x09;

    pub const CONTROL_NEGATIVE: u8 = 0x40;
    pub const CONTROL_FIXED_UV: u8 = 0x18;
    pub const CONTROL_LUMA: u8 = 0x04;
    pub const CONTROL_SATURATION: u8 = 0x02;
}
