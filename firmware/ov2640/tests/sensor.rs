//! The OV2640 driver against a recording fake SCCB bus.
//!
//! The fake keeps both register banks, answers reads from them, and logs
//! every bank switch, write, read and delay in order; the snapshots are those
//! logs, one line per bus operation.

use std::cell::RefCell;
use std::rc::Rc;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};
use nowcam_ov2640::{
    agc_gain_from_register, gain_register, ChipId, Config, ControlVariable, FrameSize, Ov2640, Ov2640Error, Sensor,
    SensorMode, Window, SCCB_ADDRESS, SCCB_ADDRESS_16BIT,
};

type Log = Rc<RefCell<Vec<String>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FakeError;

impl embedded_hal::i2c::Error for FakeError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
    }
}

struct FakeSccb {
    log: Log,
    /// Register maps of the DSP bank (0) and the sensor bank (1).
    banks: [[u8; 256]; 2],
    bank: usize,
    pointer: u8,
    /// Transactions left before the bus stops acknowledging; `None` never fails.
    transactions_before_failure: Option<usize>,
    /// Whether only the first failure is reported (a glitch) or all later ones too.
    fail_once: bool,
    /// Whether an OV2640 answers at its address; without it the address is not acknowledged.
    ov2640_present: bool,
    /// The chip id of a sensor with 16-bit registers at 0x3C (OV3660, OV5640), if one is there.
    sensor_16bit: Option<u16>,
    /// The 16-bit register address last written to the device at 0x3C.
    pointer_16bit: u16,
}

impl FakeSccb {
    /// An OV2640 as it comes out of power-on, as far as the driver reads it.
    fn ov2640(log: &Log) -> Self {
        let mut banks = [[0u8; 256]; 2];
        let sensor = &mut banks[1];
        sensor[0x0A] = 0x26;
        sensor[0x0B] = 0x42;
        sensor[0x1C] = 0x7F;
        sensor[0x1D] = 0xA2;
        sensor[0x00] = 0x30;
        sensor[0x04] = 0x28;
        sensor[0x10] = 0x40;
        sensor[0x45] = 0x00;
        banks[0][0xC2] = 0x0C;
        FakeSccb {
            log: log.clone(),
            banks,
            bank: 0,
            pointer: 0,
            transactions_before_failure: None,
            fail_once: false,
            ov2640_present: true,
            sensor_16bit: None,
            pointer_16bit: 0,
        }
    }

    /// No OV2640 on the bus: an OV3660 or OV5640 with `chip_id`, or nothing (`None`).
    fn without_ov2640(&mut self, sensor_16bit: Option<u16>) {
        self.ov2640_present = false;
        self.sensor_16bit = sensor_16bit;
    }

    /// The device at 0x3C: 16-bit register writes, one-byte reads of the chip id.
    fn transaction_16bit(&mut self, operations: &mut [Operation<'_>]) -> Result<(), FakeError> {
        let Some(chip_id) = self.sensor_16bit else {
            self.log.borrow_mut().push("0x3c: no acknowledge".into());
            return Err(FakeError);
        };
        for operation in operations {
            match operation {
                Operation::Write([high, low]) => self.pointer_16bit = u16::from_be_bytes([*high, *low]),
                Operation::Read([value]) => {
                    *value = match self.pointer_16bit {
                        0x300A => chip_id.to_be_bytes()[0],
                        0x300B => chip_id.to_be_bytes()[1],
                        _ => 0,
                    };
                    self.log.borrow_mut().push(format!("0x3c {:04x} -> {value:02x}", self.pointer_16bit));
                }
                other => panic!("the 16-bit sensor takes two-byte writes and one-byte reads, not {other:?}"),
            }
        }
        Ok(())
    }

    fn register(&self, bank: usize, register: u8) -> u8 {
        self.banks[bank][usize::from(register)]
    }
}

fn bank_name(bank: usize) -> &'static str {
    if bank == 0 {
        "dsp"
    } else {
        "sensor"
    }
}

impl ErrorType for FakeSccb {
    type Error = FakeError;
}

impl I2c for FakeSccb {
    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), Self::Error> {
        if address == SCCB_ADDRESS_16BIT {
            return self.transaction_16bit(operations);
        }
        assert_eq!(address, SCCB_ADDRESS, "the driver addressed another device");
        if !self.ov2640_present {
            self.log.borrow_mut().push("0x30: no acknowledge".into());
            return Err(FakeError);
        }
        match self.transactions_before_failure {
            Some(0) => {
                self.log.borrow_mut().push("bus error".into());
                if self.fail_once {
                    self.transactions_before_failure = None;
                }
                return Err(FakeError);
            }
            Some(left) => self.transactions_before_failure = Some(left - 1),
            None => {}
        }
        for operation in operations {
            match operation {
                Operation::Write([0xFF, bank]) => {
                    self.bank = usize::from(*bank & 1);
                    self.log.borrow_mut().push(format!("bank {}", bank_name(self.bank)));
                }
                Operation::Write([register, value]) => {
                    self.banks[self.bank][usize::from(*register)] = *value;
                    self.log.borrow_mut().push(format!("{} {register:02x} <- {value:02x}", bank_name(self.bank)));
                }
                Operation::Write([register]) => self.pointer = *register,
                Operation::Read([value]) => {
                    *value = self.banks[self.bank][usize::from(self.pointer)];
                    self.log.borrow_mut().push(format!("{} {:02x} -> {value:02x}", bank_name(self.bank), self.pointer));
                }
                other => {
                    panic!("SCCB carries one- or two-byte writes and one-byte reads, not {other:?}")
                }
            }
        }
        Ok(())
    }
}

struct FakeDelay {
    log: Log,
}

impl DelayNs for FakeDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.log.borrow_mut().push(format!("delay {} ms", ns / 1_000_000));
    }
}

struct Rig {
    log: Log,
    camera: Ov2640<FakeSccb, FakeDelay>,
}

impl Rig {
    fn new() -> Self {
        Self::with_bus(|_| {})
    }

    fn with_bus(change: impl FnOnce(&mut FakeSccb)) -> Self {
        let log = Log::default();
        let mut bus = FakeSccb::ov2640(&log);
        change(&mut bus);
        let camera = Ov2640::new(bus, FakeDelay { log: log.clone() });
        Rig { log, camera }
    }

    fn initialised(config: Config) -> Self {
        let mut rig = Rig::new();
        rig.camera.init_jpeg(config).expect("init succeeds");
        rig.take_log();
        rig
    }

    fn take_log(&self) -> String {
        let lines = std::mem::take(&mut *self.log.borrow_mut());
        lines.join("\n")
    }

    fn register(self, bank: usize, register: u8) -> u8 {
        self.camera.release().0.register(bank, register)
    }
}

const DSP: usize = 0;
const SENSOR: usize = 1;

#[test]
fn init_jpeg_vga_writes_the_reference_set_up() {
    let mut rig = Rig::new();
    let id = rig.camera.init_jpeg(Config::default()).unwrap();
    assert_eq!(id, ChipId { product: 0x26, version: 0x42, manufacturer: 0x7FA2 });
    assert_eq!(rig.camera.frame_size(), FrameSize::Vga);
    insta::assert_snapshot!(rig.take_log());
}

#[test]
fn init_reads_back_the_exposure_and_gain_it_starts_from() {
    let rig = Rig::initialised(Config::default());
    // GAIN 0x30 is 4x (agc_gain 3); AEC 0x40 with the low bits of REG04
    // (0x28) clear and REG45 clear is 0x40 << 2.
    assert_eq!(rig.camera.control(ControlVariable::GainValue), Some(3));
    assert_eq!(rig.camera.control(ControlVariable::ExposureValue), Some(256));
    assert_eq!(rig.camera.control(ControlVariable::Quality), Some(12));
    assert_eq!(rig.camera.control(ControlVariable::FrameSize), Some(8));
    assert_eq!(rig.camera.control(ControlVariable::AutoWhiteBalance), Some(1));
    assert_eq!(rig.camera.control(ControlVariable::LensCorrection), Some(0));
    assert_eq!(rig.camera.control(ControlVariable::WhitePixelCorrection), Some(1));
    assert_eq!(rig.camera.control(ControlVariable::GainCeiling), Some(2));
    assert_eq!(rig.camera.control(ControlVariable::Sharpness), None);
}

#[test]
fn init_leaves_the_jpeg_path_and_vga_scaler_in_the_registers() {
    let rig = Rig::initialised(Config::default());
    let bus = rig.camera.release().0;
    assert_eq!(bus.register(DSP, 0xDA), 0x12, "IMAGE_MODE: JPEG, HREF timing");
    assert_eq!(bus.register(DSP, 0x44), 12, "QS");
    assert_eq!(bus.register(DSP, 0x5A), 160, "ZMOW: 640 / 4");
    assert_eq!(bus.register(DSP, 0x5B), 120, "ZMOH: 480 / 4");
    assert_eq!(bus.register(DSP, 0x05), 0x00, "the DSP is not bypassed");
    assert_eq!(bus.register(DSP, 0xE0), 0x00, "no block is held in reset");
    assert_eq!(bus.register(SENSOR, 0x12), 0x40, "COM7: SVGA read-out");
}

#[test]
fn a_frame_size_change_moves_to_the_uxga_read_out_for_hd() {
    let mut rig = Rig::initialised(Config::default());
    rig.camera.set_frame_size(FrameSize::Hd).unwrap();
    assert_eq!(rig.camera.frame_size(), FrameSize::Hd);
    insta::assert_snapshot!(rig.take_log());
}

#[test]
fn the_frame_size_control_is_the_frame_size_change() {
    let mut by_control = Rig::initialised(Config::default());
    by_control.camera.set_control(ControlVariable::FrameSize, FrameSize::Qvga.code().into()).unwrap();
    let mut by_method = Rig::initialised(Config::default());
    by_method.camera.set_frame_size(FrameSize::Qvga).unwrap();
    assert_eq!(by_control.take_log(), by_method.take_log());
    assert_eq!(by_control.camera.control(ControlVariable::FrameSize), Some(5));
}

#[test]
fn controls_write_what_esp32_camera_means() {
    let mut rig = Rig::initialised(Config::default());
    let mut log = String::new();
    for (variable, value) in [
        (ControlVariable::Quality, 10),
        (ControlVariable::Brightness, 1),
        (ControlVariable::Contrast, -2),
        (ControlVariable::Saturation, 2),
        (ControlVariable::SpecialEffect, 2),
        (ControlVariable::WhiteBalanceMode, 1),
        (ControlVariable::WhiteBalanceMode, 0),
        (ControlVariable::AutoExposure, 0),
        (ControlVariable::ExposureValue, 1000),
        (ControlVariable::AutoGain, 0),
        (ControlVariable::GainValue, 16),
        (ControlVariable::GainCeiling, 6),
        (ControlVariable::AutoExposureLevel, -2),
        (ControlVariable::AutoExposureDsp, 0),
        (ControlVariable::HorizontalMirror, 1),
        (ControlVariable::VerticalFlip, 1),
        (ControlVariable::ColorBar, 1),
        (ControlVariable::LensCorrection, 1),
        (ControlVariable::BlackPixelCorrection, 1),
    ] {
        rig.camera.set_control(variable, value).unwrap();
        assert_eq!(rig.camera.control(variable), Some(value), "{}", variable.name());
        log.push_str(&format!("# {} = {value}\n", variable.name()));
        log.push_str(&rig.take_log());
        log.push('\n');
    }
    insta::assert_snapshot!(log);
}

#[test]
fn flag_controls_keep_the_other_bits_of_their_register() {
    let mut rig = Rig::initialised(Config::default());
    rig.camera.set_control(ControlVariable::ExposureValue, 3).unwrap();
    rig.camera.set_control(ControlVariable::HorizontalMirror, 1).unwrap();
    rig.camera.set_control(ControlVariable::VerticalFlip, 1).unwrap();
    rig.camera.set_control(ControlVariable::VerticalFlip, 0).unwrap();
    // REG04: the default 0x28, mirror 0x80, exposure low bits 0x03, no flip.
    assert_eq!(rig.register(SENSOR, 0x04), 0x28 | 0x80 | 0x03);
}

#[test]
fn a_frame_size_change_keeps_the_colour_bar_and_downsize_settings() {
    let mut rig = Rig::initialised(Config::default());
    rig.camera.set_control(ControlVariable::ColorBar, 1).unwrap();
    rig.camera.set_control(ControlVariable::Downsize, 0).unwrap();
    rig.camera.set_frame_size(FrameSize::Uxga).unwrap();
    let bus = rig.camera.release().0;
    assert_eq!(bus.register(SENSOR, 0x12), 0x02, "COM7: UXGA with the colour bar");
    assert_eq!(bus.register(DSP, 0x86), 0x1D, "CTRL2 without DCW");
}

#[test]
fn picture_adjustments_combine_in_the_sde_control_byte() {
    let mut rig = Rig::initialised(Config::default());
    rig.camera.set_control(ControlVariable::SpecialEffect, 1).unwrap();
    rig.camera.set_control(ControlVariable::Saturation, -1).unwrap();
    rig.camera.set_control(ControlVariable::Brightness, -2).unwrap();
    rig.take_log();
    rig.camera.set_control(ControlVariable::SpecialEffect, 0).unwrap();
    // Clearing the effect keeps saturation (0x02) and luma (0x04) on.
    insta::assert_snapshot!(rig.take_log(), @r"
    dsp 7c <- 00
    dsp 7d <- 06
    dsp 7c <- 05
    dsp 7d <- 80
    dsp 7d <- 80
    ");
}

#[test]
fn a_chip_with_an_unknown_id_is_refused_before_any_write() {
    let mut rig = Rig::with_bus(|bus| {
        bus.banks[SENSOR][0x0A] = 0x56;
        bus.banks[SENSOR][0x0B] = 0x40;
    });
    let error = rig.camera.init_jpeg(Config::default()).unwrap_err();
    assert_eq!(error, Ov2640Error::UnknownChip { product: 0x56, version: 0x40 });
    assert_eq!(error.to_string(), "the chip is not an OV2640: id 0x56 0x40, expected product id 0x26");
    insta::assert_snapshot!(rig.take_log(), @r"
    bank sensor
    sensor 0a -> 56
    sensor 0b -> 40
    ");
}

/// One sensor on the bus, and what the probe makes of it.
fn check_probe(change: impl FnOnce(&mut FakeSccb), expected: Result<ChipId, Ov2640Error<FakeError>>) {
    let mut rig = Rig::with_bus(change);
    assert_eq!(rig.camera.probe(), expected);
}

#[test]
fn any_ov2640_version_is_accepted_as_esp32_camera_does() {
    for version in [0x40, 0x41, 0x42, 0x43, 0xFF] {
        check_probe(
            |bus| bus.banks[SENSOR][0x0B] = version,
            Ok(ChipId { product: 0x26, version, manufacturer: 0x7FA2 }),
        );
    }
}

#[test]
fn other_sensors_are_named_as_unsupported() {
    check_probe(|bus| bus.without_ov2640(Some(0x3660)), Err(Ov2640Error::UnsupportedSensor(Sensor::Ov3660)));
    check_probe(|bus| bus.without_ov2640(Some(0x5640)), Err(Ov2640Error::UnsupportedSensor(Sensor::Ov5640)));
    // The OV9650 shares the OV2640's address and 8-bit registers.
    check_probe(|bus| bus.banks[SENSOR][0x0A] = 0x96, Err(Ov2640Error::UnsupportedSensor(Sensor::Ov9650)));
    let error = Ov2640Error::<FakeError>::UnsupportedSensor(Sensor::Ov5640);
    assert_eq!(error.to_string(), "the camera sensor is an OV5640, which is not supported (only the OV2640 is)");
}

#[test]
fn an_unknown_chip_at_the_16bit_address_leaves_the_bus_error() {
    check_probe(|bus| bus.without_ov2640(Some(0x1234)), Err(Ov2640Error::I2c(FakeError)));
    check_probe(|bus| bus.without_ov2640(None), Err(Ov2640Error::I2c(FakeError)));
}

#[test]
fn an_ov5640_is_identified_by_its_chip_id_registers_without_a_write() {
    let mut rig = Rig::with_bus(|bus| bus.without_ov2640(Some(0x5640)));
    assert_eq!(rig.camera.init_jpeg(Config::default()), Err(Ov2640Error::UnsupportedSensor(Sensor::Ov5640)));
    insta::assert_snapshot!(rig.take_log(), @r"
    0x30: no acknowledge
    0x3c 300a -> 56
    0x3c 300b -> 40
    ");
}

#[test]
fn sensor_ids_map_as_esp32_camera_detects_them() {
    assert_eq!(Sensor::from_product_id(0x26), Some(Sensor::Ov2640));
    assert_eq!(Sensor::from_product_id(0x96), Some(Sensor::Ov9650));
    assert_eq!(Sensor::from_product_id(0x77), None);
    assert_eq!(Sensor::from_chip_id_16bit(0x3660), Some(Sensor::Ov3660));
    assert_eq!(Sensor::from_chip_id_16bit(0x5640), Some(Sensor::Ov5640));
    assert_eq!(Sensor::from_chip_id_16bit(0x2640), None);
}

#[test]
fn a_bus_error_is_returned_and_stops_the_set_up() {
    // Probe takes five transactions (bank, then two per read of PID and
    // VER); the reads of MIDH fail.
    let mut rig = Rig::with_bus(|bus| bus.transactions_before_failure = Some(5));
    let error = rig.camera.init_jpeg(Config::default()).unwrap_err();
    assert_eq!(error, Ov2640Error::I2c(FakeError));
    assert_eq!(error.to_string(), "the SCCB bus failed: The device did not acknowledge its address");
    let log = rig.take_log();
    assert!(log.ends_with("sensor 0b -> 42\nbus error"), "{log}");
}

#[test]
fn a_failed_bank_switch_is_repeated_on_the_next_write() {
    // The first transaction (the bank switch for QS) fails once.
    let mut rig = Rig::initialised(Config::default());
    let mut bus_and_delay = rig.camera.release();
    bus_and_delay.0.transactions_before_failure = Some(0);
    bus_and_delay.0.fail_once = true;
    let mut camera = Ov2640::new(bus_and_delay.0, bus_and_delay.1);
    assert_eq!(camera.set_control(ControlVariable::Quality, 20), Err(Ov2640Error::I2c(FakeError)));
    camera.set_control(ControlVariable::Quality, 20).unwrap();
    rig.camera = camera;
    insta::assert_snapshot!(rig.take_log(), @r"
    bus error
    bank dsp
    dsp 44 <- 14
    ");
}

#[test]
fn unsupported_and_out_of_range_controls_touch_nothing() {
    let mut rig = Rig::initialised(Config::default());
    for variable in [ControlVariable::Sharpness, ControlVariable::Denoise, ControlVariable::LedIntensity] {
        assert_eq!(rig.camera.set_control(variable, 0), Err(Ov2640Error::Unsupported), "{}", variable.name());
        assert_eq!(rig.camera.control(variable), None);
    }
    for (variable, value) in [
        (ControlVariable::Quality, 3),
        (ControlVariable::Quality, 64),
        (ControlVariable::Brightness, 3),
        (ControlVariable::Contrast, -3),
        (ControlVariable::SpecialEffect, 7),
        (ControlVariable::WhiteBalanceMode, -1),
        (ControlVariable::ExposureValue, 1201),
        (ControlVariable::GainValue, 31),
        (ControlVariable::GainCeiling, 7),
        (ControlVariable::FrameSize, 14),
        (ControlVariable::HorizontalMirror, 2),
    ] {
        assert_eq!(
            rig.camera.set_control(variable, value),
            Err(Ov2640Error::OutOfRange),
            "{} = {value}",
            variable.name()
        );
    }
    assert_eq!(rig.camera.init_jpeg(Config { frame_size: FrameSize::Vga, quality: 2 }), Err(Ov2640Error::OutOfRange));
    assert_eq!(rig.take_log(), "");
    assert_eq!(Ov2640Error::<FakeError>::OutOfRange.to_string(), "the value is out of range");
}

#[test]
fn every_frame_size_gets_a_centred_window_of_its_aspect_ratio() {
    let mut table = String::from("size       mode  offset     window     output\n");
    for frame_size in FrameSize::ALL {
        let window = Window::for_frame_size(frame_size);
        let (full_width, full_height) = window.mode.size();
        assert!(window.width.is_multiple_of(4) && window.height.is_multiple_of(4));
        assert!(window.output_width <= window.width && window.output_height <= window.height);
        assert_eq!(window.offset_x * 2 + window.width, full_width);
        assert_eq!(window.offset_y * 2 + window.height, full_height);
        table.push_str(&format!(
            "{:<10} {:<5} {:>4},{:<4}  {:>4}x{:<4}  {}x{}\n",
            frame_size.name(),
            format!("{:?}", window.mode),
            window.offset_x,
            window.offset_y,
            window.width,
            window.height,
            window.output_width,
            window.output_height
        ));
    }
    insta::assert_snapshot!(table);
}

#[test]
fn read_out_modes_follow_esp32_camera_boundaries() {
    assert_eq!(SensorMode::covering(400, 296), SensorMode::Cif);
    assert_eq!(SensorMode::covering(480, 320), SensorMode::Svga);
    assert_eq!(SensorMode::covering(800, 600), SensorMode::Svga);
    assert_eq!(SensorMode::covering(1024, 768), SensorMode::Uxga);
}

#[test]
fn gain_register_encodes_gain_plus_one_and_decodes_back() {
    let expected = [
        0x00, 0x10, 0x18, 0x30, 0x34, 0x38, 0x3C, 0x70, 0x72, 0x74, 0x76, 0x78, 0x7A, 0x7C, 0x7E, 0xF0, 0xF1, 0xF2,
        0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
    ];
    for (agc_gain, register) in (0u8..=30).zip(expected) {
        assert_eq!(gain_register(agc_gain), register, "agc_gain {agc_gain}");
        assert_eq!(agc_gain_from_register(register), agc_gain);
    }
    assert_eq!(agc_gain_from_register(0x35), 4, "5.25x rounds down to 5x");
}
