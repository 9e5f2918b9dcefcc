//! OV2640 sensor set-up over SCCB (embedded-hal I2C), chip-independent (no_std).
//!
//! The driver probes the chip, resets it, sets it up for JPEG output at a
//! frame size, and applies the esp32-camera `/control` settings with the same
//! meaning esp32-camera gives them. It only talks SCCB: the pixel data
//! arrives over the parallel (DVP) port, which the board crate reads.
//!
//! Architecture Invariant: this crate names no chip and does no IO beyond the
//! `I2c` and `DelayNs` it is given, so host tests drive it with fakes.
#![no_std]

pub mod jpeg;
pub mod registers;
mod settings;

pub use jpeg::{jpeg_len, JpegError};

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
pub use nowcam_proto::wire::control::{ControlVariable, FrameSize};

use registers::{dsp, sde, sensor, Bank, BANK_SEL};
pub use settings::SensorMode;
use settings::{Block, SensorMode as Mode};

/// The OV2640's 7-bit SCCB address (0x60 / 0x61 on the wire).
pub const SCCB_ADDRESS: u8 = 0x30;

/// The product id the OV2640 reports in PID (0x0A).
///
/// Only the product id decides, as in esp32-camera (`ov2640_detect`): the
/// version byte (VER, 0x0B; 0x41 and 0x42 are both in the field) is read and
/// reported, never checked.
pub const PRODUCT_ID: u8 = 0x26;

/// The 7-bit SCCB address of the OV3660 and the OV5640, whose registers
/// have 16-bit addresses; their chip id is at 0x300A (high) and 0x300B (low).
pub const SCCB_ADDRESS_16BIT: u8 = 0x3C;

/// Where the OV3660 and the OV5640 keep their chip id (high byte; low at the next address).
const CHIP_ID_16BIT: u16 = 0x300A;

/// A camera sensor that esp32-camera knows, told apart by its product id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sensor {
    Ov2640,
    Ov9650,
    Ov3660,
    Ov5640,
}

impl Sensor {
    /// The sensor's name as its maker writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Sensor::Ov2640 => "OV2640",
            Sensor::Ov9650 => "OV9650",
            Sensor::Ov3660 => "OV3660",
            Sensor::Ov5640 => "OV5640",
        }
    }

    /// The sensor a product id read at the OV2640's address (PID, 0x0A)
    /// names, as esp32-camera's detection decides (OV9650 shares the address).
    pub const fn from_product_id(product: u8) -> Option<Sensor> {
        match product {
            PRODUCT_ID => Some(Sensor::Ov2640),
            0x96 => Some(Sensor::Ov9650),
            _ => None,
        }
    }

    /// The sensor a 16-bit chip id read at [`SCCB_ADDRESS_16BIT`] names.
    pub const fn from_chip_id_16bit(id: u16) -> Option<Sensor> {
        match id {
            0x3660 => Some(Sensor::Ov3660),
            0x5640 => Some(Sensor::Ov5640),
            _ => None,
        }
    }
}

impl core::fmt::Display for Sensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// How long the sensor needs after a soft reset, and after its output path
/// changes, before it takes more writes.
const SETTLE_MS: u32 = 10;

/// Why an OV2640 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ov2640Error<E> {
    /// the SCCB (I2C) bus failed
    I2c(E),
    /// another camera sensor answered, which this driver does not set up
    UnsupportedSensor(Sensor),
    /// a chip answered at the OV2640's address with a product id no known sensor has
    UnknownChip {
        /// What PID (0x0A) read.
        product: u8,
        /// What VER (0x0B) read.
        version: u8,
    },
    /// the OV2640 has no such setting
    Unsupported,
    /// the value is outside the setting's range
    OutOfRange,
}

impl<E: embedded_hal::i2c::Error> core::fmt::Display for Ov2640Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Ov2640Error::I2c(error) => write!(f, "the SCCB bus failed: {}", error.kind()),
            Ov2640Error::UnsupportedSensor(sensor) => {
                write!(f, "the camera sensor is an {sensor}, which is not supported (only the OV2640 is)")
            }
            Ov2640Error::UnknownChip { product, version } => write!(
                f,
                "the chip is not an OV2640: id {product:#04x} {version:#04x}, expected product id {PRODUCT_ID:#04x}"
            ),
            Ov2640Error::Unsupported => f.write_str("the OV2640 has no such setting"),
            Ov2640Error::OutOfRange => f.write_str("the value is out of range"),
        }
    }
}

impl<E: embedded_hal::i2c::Error> core::error::Error for Ov2640Error<E> {}

/// What the chip says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChipId {
    pub product: u8,
    pub version: u8,
    pub manufacturer: u16,
}

/// The set-up `init_jpeg` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    pub frame_size: FrameSize,
    /// JPEG quantisation scale, 4 (best, largest) to 63.
    pub quality: u8,
}

impl Default for Config {
    /// VGA at quality 12, esp32-camera's usual start.
    fn default() -> Self {
        Config { frame_size: FrameSize::Vga, quality: 12 }
    }
}

/// Where the DSP reads from the sensor read-out, and what it scales that to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    pub mode: SensorMode,
    /// Offset of the input window in the read-out, in pixels.
    pub offset_x: u16,
    pub offset_y: u16,
    /// Size of the input window, a multiple of 4.
    pub width: u16,
    pub height: u16,
    /// Size of the output image.
    pub output_width: u16,
    pub output_height: u16,
}

impl Window {
    /// The window for a frame size: the smallest read-out that covers it,
    /// cropped to the frame's aspect ratio and centred, so that the scaler
    /// never stretches the picture.
    pub const fn for_frame_size(frame_size: FrameSize) -> Window {
        let (output_width, output_height) = frame_size.dimensions();
        let mode = Mode::covering(output_width, output_height);
        let (full_width, full_height) = mode.size();
        let (ow, oh, fw, fh) = (output_width as u32, output_height as u32, full_width as u32, full_height as u32);
        // Compare the aspect ratios by cross-multiplying, to stay in integers.
        let (width, height) =
            if ow * fh >= oh * fw { (fw, round_down_to_4(fw * oh / ow)) } else { (round_down_to_4(fh * ow / oh), fh) };
        Window {
            mode,
            offset_x: ((fw - width) / 2) as u16,
            offset_y: ((fh - height) / 2) as u16,
            width: width as u16,
            height: height as u16,
            output_width,
            output_height,
        }
    }
}

const fn round_down_to_4(value: u32) -> u32 {
    value & !3
}

/// The analog gain register value for `agc_gain` 0 to 30, which esp32-camera
/// defines as a gain of `agc_gain + 1` times. Bits 7:4 of GAIN each double the
/// gain and bits 3:0 add sixteenths, so the encoding is a power of two times
/// a fraction between 1 and 2.
pub const fn gain_register(agc_gain: u8) -> u8 {
    let gain = agc_gain as u32 + 1;
    let mut doublings = 0;
    while doublings < 4 && (gain >> (doublings + 1)) > 0 {
        doublings += 1;
    }
    let sixteenths = ((gain * 16) >> doublings) - 16;
    let doubling_bits = ((1u32 << doublings) - 1) << 4;
    (doubling_bits | (sixteenths & 0x0F)) as u8
}

/// The `agc_gain` (0 to 30) nearest below a GAIN register value.
pub const fn agc_gain_from_register(register: u8) -> u8 {
    let doublings = (register >> 4).count_ones();
    let gain_sixteenths = (16 + (register & 0x0F) as u32) << doublings;
    let gain = gain_sixteenths / 16;
    if gain > 31 {
        30
    } else {
        (gain - 1) as u8
    }
}

/// The settings as last applied, for the `/status` read-back without bus
/// traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Settings {
    frame_size: FrameSize,
    quality: u8,
    brightness: i8,
    contrast: i8,
    saturation: i8,
    special_effect: u8,
    white_balance_mode: u8,
    auto_white_balance: bool,
    auto_white_balance_gain: bool,
    auto_exposure: bool,
    auto_exposure_dsp: bool,
    auto_exposure_level: i8,
    exposure_value: u16,
    auto_gain: bool,
    gain_value: u8,
    gain_ceiling: u8,
    black_pixel_correction: bool,
    white_pixel_correction: bool,
    raw_gamma: bool,
    lens_correction: bool,
    horizontal_mirror: bool,
    vertical_flip: bool,
    downsize: bool,
    color_bar: bool,
    /// The SDE control bits of the adjustments set so far; each adjustment
    /// adds its own, so that setting one does not switch the others off.
    sde_adjustments: u8,
}

impl Settings {
    /// What `DSP_BASE`, `SENSOR_BASE` and a frame-size change leave behind.
    /// CTRL0 is not written, and its reset value (0x0C) has AEC_SEL clear,
    /// which is `aec2` on.
    const fn after_set_up(config: Config) -> Settings {
        Settings {
            frame_size: config.frame_size,
            quality: config.quality,
            brightness: 0,
            contrast: 0,
            saturation: 0,
            special_effect: 0,
            white_balance_mode: 0,
            auto_white_balance: settings::INITIAL_CTRL1 & dsp::CTRL1_AWB != 0,
            auto_white_balance_gain: settings::INITIAL_CTRL1 & dsp::CTRL1_AWB_GAIN != 0,
            auto_exposure: true,
            auto_exposure_dsp: true,
            auto_exposure_level: 0,
            exposure_value: 0,
            auto_gain: true,
            gain_value: 0,
            gain_ceiling: settings::INITIAL_GAIN_CEILING,
            black_pixel_correction: settings::INITIAL_CTRL3 & dsp::CTRL3_BPC != 0,
            white_pixel_correction: settings::INITIAL_CTRL3 & dsp::CTRL3_WPC != 0,
            raw_gamma: settings::INITIAL_CTRL1 & dsp::CTRL1_RAW_GMA != 0,
            lens_correction: settings::INITIAL_CTRL1 & dsp::CTRL1_LENC != 0,
            horizontal_mirror: false,
            vertical_flip: false,
            downsize: true,
            color_bar: false,
            sde_adjustments: 0,
        }
    }
}

/// An OV2640 on an SCCB bus.
///
/// Owns the bus and a delay. Writes go one register at a time (SCCB has no
/// auto-increment), and the selected bank is remembered so that a run of
/// writes to one bank selects it once.
pub struct Ov2640<I2C, D> {
    i2c: I2C,
    delay: D,
    address: u8,
    /// The bank BANK_SEL holds, or `None` when unknown (at start, after a
    /// reset, after a failed write).
    bank: Option<Bank>,
    settings: Settings,
}

impl<I2C: I2c, D: DelayNs> Ov2640<I2C, D> {
    /// A driver at the usual address; nothing is sent until `probe` or `init_jpeg`.
    pub fn new(i2c: I2C, delay: D) -> Self {
        Self::with_address(i2c, delay, SCCB_ADDRESS)
    }

    /// A driver at another 7-bit address.
    pub fn with_address(i2c: I2C, delay: D, address: u8) -> Self {
        Ov2640 { i2c, delay, address, bank: None, settings: Settings::after_set_up(Config::default()) }
    }

    /// Gives the bus and the delay back.
    pub fn release(self) -> (I2C, D) {
        (self.i2c, self.delay)
    }

    /// Reads the chip id and checks that it is an OV2640, of any version.
    ///
    /// When nothing answers at the OV2640's address, the OV3660 and OV5640
    /// address is asked for its chip id, so that a board with one of those
    /// sensors says which one it has; the bus error stands when nothing
    /// answers there either.
    pub fn probe(&mut self) -> Result<ChipId, Ov2640Error<I2C::Error>> {
        let product = match self.read(Bank::Sensor, sensor::PID) {
            Ok(product) => product,
            Err(error) => {
                return Err(match self.read_chip_id_16bit() {
                    Ok(id) => match Sensor::from_chip_id_16bit(id) {
                        Some(other) => Ov2640Error::UnsupportedSensor(other),
                        None => error,
                    },
                    Err(_) => error,
                })
            }
        };
        let version = self.read(Bank::Sensor, sensor::VER)?;
        match Sensor::from_product_id(product) {
            Some(Sensor::Ov2640) => {}
            Some(other) => return Err(Ov2640Error::UnsupportedSensor(other)),
            None => return Err(Ov2640Error::UnknownChip { product, version }),
        }
        let high = self.read(Bank::Sensor, sensor::MIDH)?;
        let low = self.read(Bank::Sensor, sensor::MIDL)?;
        Ok(ChipId { product, version, manufacturer: u16::from_be_bytes([high, low]) })
    }

    /// Soft-resets the sensor: every register returns to its power-on value.
    pub fn reset(&mut self) -> Result<(), Ov2640Error<I2C::Error>> {
        self.write(Bank::Sensor, sensor::COM7, sensor::COM7_SOFT_RESET)?;
        // The reset puts BANK_SEL back to its power-on value too.
        self.bank = None;
        self.delay.delay_ms(SETTLE_MS);
        Ok(())
    }

    /// Probes, resets and sets the sensor up for JPEG at `config`'s frame
    /// size and quality, then reads back the exposure and gain the sensor
    /// starts from.
    pub fn init_jpeg(&mut self, config: Config) -> Result<ChipId, Ov2640Error<I2C::Error>> {
        if !ControlVariable::Quality.accepts(i32::from(config.quality)) {
            return Err(Ov2640Error::OutOfRange);
        }
        let id = self.probe()?;
        self.reset()?;
        self.write_block(&settings::SENSOR_BASE)?;
        self.write_exposure_target(0)?;
        self.write_block(&settings::DSP_BASE)?;
        self.settings = Settings::after_set_up(config);
        self.write(Bank::Dsp, dsp::QS, config.quality)?;
        self.set_frame_size(config.frame_size)?;
        self.read_exposure_and_gain()?;
        Ok(id)
    }

    /// Changes the output size: picks the sensor read-out, sets the DSP's
    /// crop and scaler, the pixel clock, and re-applies the JPEG output path
    /// (a read-out change resets it).
    pub fn set_frame_size(&mut self, frame_size: FrameSize) -> Result<(), Ov2640Error<I2C::Error>> {
        let window = Window::for_frame_size(frame_size);
        let mode = window.mode;
        // The DSP is bypassed while the sensor changes read-out, so that it
        // never sees a half-configured frame.
        self.write(Bank::Dsp, dsp::R_BYPASS, dsp::R_BYPASS_RAW)?;

        let color_bar = if self.settings.color_bar { sensor::COM7_COLOR_BAR } else { 0 };
        self.write(Bank::Sensor, sensor::COM7, mode.com7() | color_bar)?;
        for &(register, value) in mode.sensor_writes() {
            self.write(Bank::Sensor, register, value)?;
        }

        let (full_width, full_height) = mode.size();
        let window_x4 = (window.width / 4, window.height / 4);
        let output_x4 = (window.output_width / 4, window.output_height / 4);
        let (ox, oy) = (window.offset_x, window.offset_y);
        let downsize = if self.settings.downsize { dsp::CTRL2_DCW } else { 0 };
        let ctrli = match mode {
            Mode::Cif | Mode::Svga => dsp::CTRLI_LP_DP,
            Mode::Uxga => 0,
        };
        let dsp_writes = [
            (dsp::RESET, dsp::RESET_DVP),
            (dsp::HSIZE8, (full_width >> 3) as u8),
            (dsp::VSIZE8, (full_height >> 3) as u8),
            (dsp::SIZEL, sizel(full_width, full_height)),
            (dsp::HSIZE, window_x4.0 as u8),
            (dsp::VSIZE, window_x4.1 as u8),
            (dsp::XOFFL, ox as u8),
            (dsp::YOFFL, oy as u8),
            (
                dsp::VHYX,
                ((window_x4.1 >> 1) & 0x80) as u8
                    | ((oy >> 4) & 0x70) as u8
                    | ((window_x4.0 >> 5) & 0x08) as u8
                    | ((ox >> 8) & 0x07) as u8,
            ),
            (dsp::TEST, ((window_x4.0 >> 2) & 0x80) as u8),
            (dsp::ZMOW, output_x4.0 as u8),
            (dsp::ZMOH, output_x4.1 as u8),
            (dsp::ZMHH, ((output_x4.1 >> 6) & 0x04) as u8 | ((output_x4.0 >> 8) & 0x03) as u8),
            (dsp::CTRL2, dsp::CTRL2_PIPELINE | downsize),
            (dsp::CTRLI, ctrli),
        ];
        for (register, value) in dsp_writes {
            self.write(Bank::Dsp, register, value)?;
        }

        // JPEG needs no clock doubling; the DVP clock is divided by hand so
        // that the encoder's bursts stay within what the camera DMA takes.
        self.write(Bank::Sensor, sensor::CLKRC, 0x00)?;
        self.write(Bank::Dsp, dsp::R_DVP_SP, mode.jpeg_pixel_clock_divider())?;
        self.write(Bank::Dsp, dsp::R_BYPASS, dsp::R_BYPASS_DSP)?;
        self.delay.delay_ms(SETTLE_MS);

        self.write_block(&settings::JPEG_OUTPUT)?;
        self.delay.delay_ms(SETTLE_MS);
        self.settings.frame_size = frame_size;
        Ok(())
    }

    /// Sets the JPEG quantisation scale, 4 (best, largest) to 63.
    pub fn set_quality(&mut self, quality: u8) -> Result<(), Ov2640Error<I2C::Error>> {
        self.set_control(ControlVariable::Quality, i32::from(quality))
    }

    /// The configured frame size.
    pub fn frame_size(&self) -> FrameSize {
        self.settings.frame_size
    }

    /// Applies one esp32-camera `/control` setting, with esp32-camera's
    /// meaning. `sharpness`, `denoise` and `led_intensity` are not the
    /// sensor's (the OV2640 has no such register; the LED is the board's).
    pub fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), Ov2640Error<I2C::Error>> {
        use ControlVariable as V;
        if matches!(variable, V::Sharpness | V::Denoise | V::LedIntensity) {
            return Err(Ov2640Error::Unsupported);
        }
        if !variable.accepts(value) {
            return Err(Ov2640Error::OutOfRange);
        }
        // In range, so every narrowing below is lossless.
        let flag = value != 0;
        match variable {
            V::FrameSize => {
                let frame_size = FrameSize::from_code(value).ok_or(Ov2640Error::OutOfRange)?;
                self.set_frame_size(frame_size)?;
            }
            V::Quality => {
                self.write(Bank::Dsp, dsp::QS, value as u8)?;
                self.settings.quality = value as u8;
            }
            V::Brightness => {
                // Brightness is an offset in sixteenths around 0x20, sign positive.
                let offset = (0x20 + 0x10 * value) as u8;
                self.add_sde_adjustment(sde::CONTROL_LUMA)?;
                self.write_sde(sde::BRIGHTNESS, &[offset, 0x00])?;
                self.settings.brightness = value as i8;
            }
            V::Contrast => {
                // Contrast scales luma around the 0x20 reference; the offset
                // moves the other way to keep mid-grey in place.
                let gain = (0x20 + 4 * value) as u8;
                let offset = (0x20 - 10 * value) as u8;
                self.add_sde_adjustment(sde::CONTROL_LUMA)?;
                self.write_sde(sde::CONTRAST, &[0x20, gain, offset, 0x06])?;
                self.settings.contrast = value as i8;
            }
            V::Saturation => {
                let gain = (i32::from(settings::SATURATION_NEUTRAL) + 0x10 * value) as u8;
                self.add_sde_adjustment(sde::CONTROL_SATURATION)?;
                self.write_sde(sde::SATURATION, &[gain, gain])?;
                self.settings.saturation = value as i8;
            }
            V::SpecialEffect => {
                let (effect_bits, fixed_uv) = settings::SPECIAL_EFFECTS[value as usize];
                self.write_sde(sde::CONTROL, &[self.sde_control(effect_bits)])?;
                self.write_sde(sde::FIXED_UV, &fixed_uv)?;
                self.settings.special_effect = value as u8;
            }
            V::WhiteBalanceMode => {
                let manual = if flag { dsp::AWB_CONTROL_MANUAL } else { 0 };
                self.update(Bank::Dsp, dsp::AWB_CONTROL, dsp::AWB_CONTROL_MANUAL, manual)?;
                // Mode 0 is automatic; modes 1 to 4 pick a fixed set of gains.
                if let Some(index) = (value as usize).checked_sub(1) {
                    let gains = settings::WHITE_BALANCE_GAINS[index];
                    for (register, gain) in (dsp::AWB_GAIN_RED..).zip(gains) {
                        self.write(Bank::Dsp, register, gain)?;
                    }
                }
                self.settings.white_balance_mode = value as u8;
            }
            V::AutoWhiteBalance => {
                self.update_flag(Bank::Dsp, dsp::CTRL1, dsp::CTRL1_AWB, flag)?;
                self.settings.auto_white_balance = flag;
            }
            V::AutoWhiteBalanceGain => {
                self.update_flag(Bank::Dsp, dsp::CTRL1, dsp::CTRL1_AWB_GAIN, flag)?;
                self.settings.auto_white_balance_gain = flag;
            }
            V::AutoExposure => {
                self.update_flag(Bank::Sensor, sensor::COM8, sensor::COM8_AEC, flag)?;
                self.settings.auto_exposure = flag;
            }
            V::AutoExposureDsp => {
                // esp32-camera's `aec2` on clears AEC_SEL.
                self.update_flag(Bank::Dsp, dsp::CTRL0, dsp::CTRL0_AEC_SEL, !flag)?;
                self.settings.auto_exposure_dsp = flag;
            }
            V::AutoExposureLevel => {
                self.write_exposure_target(value as i8)?;
                self.settings.auto_exposure_level = value as i8;
            }
            V::ExposureValue => {
                let exposure = value as u16;
                let low = (exposure & 0x03) as u8;
                self.update(Bank::Sensor, sensor::REG04, sensor::REG04_AEC_LOW, low)?;
                self.write(Bank::Sensor, sensor::AEC, (exposure >> 2) as u8)?;
                let high = (exposure >> 10) as u8 & sensor::REG45_AEC_HIGH;
                self.update(Bank::Sensor, sensor::REG45, sensor::REG45_AEC_HIGH, high)?;
                self.settings.exposure_value = exposure;
            }
            V::AutoGain => {
                self.update_flag(Bank::Sensor, sensor::COM8, sensor::COM8_AGC, flag)?;
                self.settings.auto_gain = flag;
            }
            V::GainValue => {
                self.write(Bank::Sensor, sensor::GAIN, gain_register(value as u8))?;
                self.settings.gain_value = value as u8;
            }
            V::GainCeiling => {
                let bits = (value as u8) << sensor::COM9_CEILING_SHIFT;
                self.update(Bank::Sensor, sensor::COM9, sensor::COM9_CEILING, bits)?;
                self.settings.gain_ceiling = value as u8;
            }
            V::BlackPixelCorrection => {
                self.update_flag(Bank::Dsp, dsp::CTRL3, dsp::CTRL3_BPC, flag)?;
                self.settings.black_pixel_correction = flag;
            }
            V::WhitePixelCorrection => {
                self.update_flag(Bank::Dsp, dsp::CTRL3, dsp::CTRL3_WPC, flag)?;
                self.settings.white_pixel_correction = flag;
            }
            V::RawGamma => {
                self.update_flag(Bank::Dsp, dsp::CTRL1, dsp::CTRL1_RAW_GMA, flag)?;
                self.settings.raw_gamma = flag;
            }
            V::LensCorrection => {
                self.update_flag(Bank::Dsp, dsp::CTRL1, dsp::CTRL1_LENC, flag)?;
                self.settings.lens_correction = flag;
            }
            V::HorizontalMirror => {
                self.update_flag(Bank::Sensor, sensor::REG04, sensor::REG04_HMIRROR, flag)?;
                self.settings.horizontal_mirror = flag;
            }
            V::VerticalFlip => {
                self.update_flag(Bank::Sensor, sensor::REG04, sensor::REG04_VFLIP, flag)?;
                self.settings.vertical_flip = flag;
            }
            V::Downsize => {
                self.update_flag(Bank::Dsp, dsp::CTRL2, dsp::CTRL2_DCW, flag)?;
                self.settings.downsize = flag;
            }
            V::ColorBar => {
                self.update_flag(Bank::Sensor, sensor::COM7, sensor::COM7_COLOR_BAR, flag)?;
                self.settings.color_bar = flag;
            }
            V::Sharpness | V::Denoise | V::LedIntensity => return Err(Ov2640Error::Unsupported),
        }
        Ok(())
    }

    /// Reads back one setting as last applied; `None` for the settings the
    /// OV2640 does not have.
    pub fn control(&self, variable: ControlVariable) -> Option<i32> {
        use ControlVariable as V;
        let s = &self.settings;
        let value = match variable {
            V::FrameSize => i32::from(s.frame_size.code()),
            V::Quality => i32::from(s.quality),
            V::Brightness => i32::from(s.brightness),
            V::Contrast => i32::from(s.contrast),
            V::Saturation => i32::from(s.saturation),
            V::SpecialEffect => i32::from(s.special_effect),
            V::WhiteBalanceMode => i32::from(s.white_balance_mode),
            V::AutoWhiteBalance => i32::from(s.auto_white_balance),
            V::AutoWhiteBalanceGain => i32::from(s.auto_white_balance_gain),
            V::AutoExposure => i32::from(s.auto_exposure),
            V::AutoExposureDsp => i32::from(s.auto_exposure_dsp),
            V::AutoExposureLevel => i32::from(s.auto_exposure_level),
            V::ExposureValue => i32::from(s.exposure_value),
            V::AutoGain => i32::from(s.auto_gain),
            V::GainValue => i32::from(s.gain_value),
            V::GainCeiling => i32::from(s.gain_ceiling),
            V::BlackPixelCorrection => i32::from(s.black_pixel_correction),
            V::WhitePixelCorrection => i32::from(s.white_pixel_correction),
            V::RawGamma => i32::from(s.raw_gamma),
            V::LensCorrection => i32::from(s.lens_correction),
            V::HorizontalMirror => i32::from(s.horizontal_mirror),
            V::VerticalFlip => i32::from(s.vertical_flip),
            V::Downsize => i32::from(s.downsize),
            V::ColorBar => i32::from(s.color_bar),
            V::Sharpness | V::Denoise | V::LedIntensity => return None,
        };
        Some(value)
    }

    /// Reads the exposure and gain the automatic loops have reached, so that
    /// `control` reports them.
    pub fn read_exposure_and_gain(&mut self) -> Result<(), Ov2640Error<I2C::Error>> {
        let gain = self.read(Bank::Sensor, sensor::GAIN)?;
        let reg04 = self.read(Bank::Sensor, sensor::REG04)?;
        let aec = self.read(Bank::Sensor, sensor::AEC)?;
        let reg45 = self.read(Bank::Sensor, sensor::REG45)?;
        let exposure = (u16::from(reg45 & sensor::REG45_AEC_HIGH) << 10)
            | (u16::from(aec) << 2)
            | u16::from(reg04 & sensor::REG04_AEC_LOW);
        self.settings.gain_value = agc_gain_from_register(gain);
        self.settings.exposure_value = exposure.min(ControlVariable::ExposureValue.range().1 as u16);
        Ok(())
    }

    fn write_exposure_target(&mut self, level: i8) -> Result<(), Ov2640Error<I2C::Error>> {
        let [upper, lower, fast] = settings::EXPOSURE_TARGETS[(level + 2) as usize];
        self.write(Bank::Sensor, sensor::AEW, upper)?;
        self.write(Bank::Sensor, sensor::AEB, lower)?;
        self.write(Bank::Sensor, sensor::VV, fast)
    }

    /// The SDE control byte: the effect's bits plus the adjustments in use.
    fn sde_control(&self, effect_bits: u8) -> u8 {
        effect_bits | self.settings.sde_adjustments
    }

    fn add_sde_adjustment(&mut self, bits: u8) -> Result<(), Ov2640Error<I2C::Error>> {
        self.settings.sde_adjustments |= bits;
        let effect_bits = settings::SPECIAL_EFFECTS[usize::from(self.settings.special_effect)].0;
        self.write_sde(sde::CONTROL, &[self.sde_control(effect_bits)])
    }

    /// Writes consecutive SDE registers from `address` on.
    fn write_sde(&mut self, address: u8, data: &[u8]) -> Result<(), Ov2640Error<I2C::Error>> {
        self.write(Bank::Dsp, dsp::BPADDR, address)?;
        for &byte in data {
            self.write(Bank::Dsp, dsp::BPDATA, byte)?;
        }
        Ok(())
    }

    fn write_block(&mut self, block: &Block) -> Result<(), Ov2640Error<I2C::Error>> {
        for &(register, value) in block.writes {
            self.write(block.bank, register, value)?;
        }
        Ok(())
    }

    fn update_flag(&mut self, bank: Bank, register: u8, mask: u8, on: bool) -> Result<(), Ov2640Error<I2C::Error>> {
        self.update(bank, register, mask, if on { mask } else { 0 })
    }

    /// Read-modify-write: replaces the bits under `mask` with `bits`.
    fn update(&mut self, bank: Bank, register: u8, mask: u8, bits: u8) -> Result<(), Ov2640Error<I2C::Error>> {
        let current = self.read(bank, register)?;
        self.write(bank, register, (current & !mask) | (bits & mask))
    }

    fn select(&mut self, bank: Bank) -> Result<(), Ov2640Error<I2C::Error>> {
        if self.bank == Some(bank) {
            return Ok(());
        }
        // Until the write is known to have landed, the bank is unknown.
        self.bank = None;
        self.i2c.write(self.address, &[BANK_SEL, bank as u8]).map_err(Ov2640Error::I2c)?;
        self.bank = Some(bank);
        Ok(())
    }

    fn write(&mut self, bank: Bank, register: u8, value: u8) -> Result<(), Ov2640Error<I2C::Error>> {
        self.select(bank)?;
        self.i2c.write(self.address, &[register, value]).map_err(Ov2640Error::I2c)
    }

    /// The chip id of a sensor with 16-bit register addresses at
    /// [`SCCB_ADDRESS_16BIT`] (OV3660, OV5640), high byte first.
    fn read_chip_id_16bit(&mut self) -> Result<u16, I2C::Error> {
        let mut id = [0u8; 2];
        for (offset, byte) in id.iter_mut().enumerate() {
            let register = (CHIP_ID_16BIT + offset as u16).to_be_bytes();
            self.i2c.write(SCCB_ADDRESS_16BIT, &register)?;
            let mut value = [0];
            self.i2c.read(SCCB_ADDRESS_16BIT, &mut value)?;
            *byte = value[0];
        }
        Ok(u16::from_be_bytes(id))
    }

    /// SCCB reads are a write of the address, a stop, then a one-byte read:
    /// the OV2640 does not promise to handle a repeated start.
    fn read(&mut self, bank: Bank, register: u8) -> Result<u8, Ov2640Error<I2C::Error>> {
        self.select(bank)?;
        self.i2c.write(self.address, &[register]).map_err(Ov2640Error::I2c)?;
        let mut value = [0];
        self.i2c.read(self.address, &mut value).map_err(Ov2640Error::I2c)?;
        Ok(value[0])
    }
}

/// SIZEL: the low bits of the sensor frame size that HSIZE8/VSIZE8 drop.
const fn sizel(width: u16, height: u16) -> u8 {
    (((width >> 5) & 0x40) | ((width & 0x07) << 3) | (height & 0x07)) as u8
}
