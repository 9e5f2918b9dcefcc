//! The OV2640 as a `FrameSource`: the sensor set up over SCCB by
//! `nowcam-ov2640`, frames read from the LCD_CAM camera port (DVP) by DMA.
//!
//! A capture runs in [`CameraSource::prepare`], which the camera's loop
//! awaits when the node says a capture is due: it sleeps while the DMA
//! fills the ring, so the executor (the radio pump) runs meanwhile. The
//! node's `capture` then only hands the prepared frame over.
//!
//! The DMA runs only while a capture runs. It streams into a small ring in
//! internal RAM (the DMA cannot fill PSRAM through the stream buffer), and
//! the CPU copies each frame into the frame buffer, in PSRAM when the board
//! has it. Between captures the camera port is idle, so the DMA never falls
//! behind while the node is busy sending.

use embassy_time::{Duration, Instant, Timer};
use esp_hal::delay::Delay;
use esp_hal::dma::DmaRxStreamBuf;
use esp_hal::i2c::master::{self as i2c, I2c};
use esp_hal::lcd_cam::cam::{self, Camera, CameraTransfer};
use esp_hal::lcd_cam::LcdCam;
use esp_hal::peripherals::{DMA_CH0, I2C0, LCD_CAM};
use esp_hal::psram::Psram;
use esp_hal::time::Rate;
use esp_hal::Blocking;
use nowcam_ov2640::{jpeg_len, ChipId, Ov2640, Ov2640Error};
use nowcam_ports::{CaptureError, ControlError, FrameSource};
use nowcam_proto::wire::control::{ControlVariable, FrameSize};

use crate::board::CameraPins;

/// The sensor's input clock; the OV2640's PLL and the JPEG pixel-clock
/// dividers in `nowcam-ov2640` assume 20 MHz.
const XCLK: Rate = Rate::from_mhz(20);

/// The frame buffer in PSRAM: a UXGA JPEG at quality 10 stays well under
/// it, and it matches the sender's transfer capacity (32 × 68 chunks of
/// 241 bytes).
pub const PSRAM_FRAME_BUFFER_LEN: usize = 512 * 1024;

/// The frame buffer on the heap when the board has no working PSRAM: room
/// for VGA at quality 12 and below.
pub const INTERNAL_FRAME_BUFFER_LEN: usize = 64 * 1024;

/// Frames thrown away after set-up and after a frame-size change, while the
/// exposure and white balance settle.
const SETTLE_FRAMES: u8 = 2;

/// Corrupt frames tolerated in one capture before it fails.
const ATTEMPTS: u8 = 3;

/// The longest a capture may take: a partial frame, the settling frames and
/// the attempts, at UXGA's slowest frame rate.
const CAPTURE_TIMEOUT: Duration = Duration::from_millis(3_000);

/// How long a capture sleeps when the ring is empty. The ring holds 32 KB;
/// at the OV2640's fastest JPEG rate (8 bits per 20 MHz pixel clock, only
/// within HREF) half a millisecond fills at most 10 KB of it.
const RING_POLL: Duration = Duration::from_micros(500);

/// SCCB runs at the standard I2C rate; the OV2640 accepts up to 400 kHz but
/// the modules' long flex cables do not always.
const SCCB_RATE: Rate = Rate::from_khz(100);

/// Why the camera did not start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartError {
    /// the camera port refused its configuration
    CameraPort(cam::ConfigError),
    /// the I2C driver refused its configuration
    I2c(i2c::ConfigError),
    /// the sensor did not set up
    Sensor(Ov2640Error<i2c::Error>),
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::CameraPort(error) => write!(f, "the camera port refused its configuration: {error:?}"),
            StartError::I2c(error) => write!(f, "the I2C driver refused its configuration: {error:?}"),
            StartError::Sensor(error) => write!(f, "the OV2640 did not set up: {error}"),
        }
    }
}

impl core::error::Error for StartError {}

/// The frame buffer: the start of PSRAM when it is there, else the heap.
pub fn frame_buffer(psram: &Psram) -> &'static mut [u8] {
    let (start, size) = psram.raw_parts();
    if size >= PSRAM_FRAME_BUFFER_LEN {
        // SAFETY: the PSRAM mapping lasts as long as the program, and
        // nothing else uses it: the heap has no PSRAM region. Zeroing first
        // makes every byte initialised before the slice exists.
        unsafe {
            start.write_bytes(0, PSRAM_FRAME_BUFFER_LEN);
            return core::slice::from_raw_parts_mut(start, PSRAM_FRAME_BUFFER_LEN);
        }
    }
    alloc::vec![0u8; INTERNAL_FRAME_BUFFER_LEN].leak()
}

/// Starts the camera port, which also starts the sensor's clock, and the
/// SCCB bus. The sensor needs its clock running for a while before it
/// answers on SCCB: wait before [`CameraSource::new`].
pub fn start_port(
    lcd_cam: LCD_CAM<'static>,
    dma: DMA_CH0<'static>,
    i2c: I2C0<'static>,
    pins: CameraPins,
) -> Result<(Camera<'static>, I2c<'static, Blocking>), StartError> {
    let CameraPins { xclk, pclk, vsync, href, data: [d0, d1, d2, d3, d4, d5, d6, d7], sda, scl } = pins;
    // The defaults fit the OV2640 in JPEG mode: 8-bit data qualified by
    // HREF (data-enable mode), and the end of each frame marked by VSYNC.
    let config = cam::Config::default().with_frequency(XCLK);
    let lcd_cam = LcdCam::new(lcd_cam);
    let camera = Camera::new(lcd_cam.cam, dma, config)
        .map_err(StartError::CameraPort)?
        .with_master_clock(xclk)
        .with_pixel_clock(pclk)
        .with_vsync(vsync)
        .with_h_enable(href)
        .with_data0(d0)
        .with_data1(d1)
        .with_data2(d2)
        .with_data3(d3)
        .with_data4(d4)
        .with_data5(d5)
        .with_data6(d6)
        .with_data7(d7);
    let sccb = I2c::new(i2c, i2c::Config::default().with_frequency(SCCB_RATE))
        .map_err(StartError::I2c)?
        .with_sda(sda)
        .with_scl(scl);
    Ok((camera, sccb))
}

/// An OV2640 on the camera port, as the sender node's frame source.
pub struct CameraSource {
    /// The port and its DMA ring while no capture runs.
    idle: Option<(Camera<'static>, DmaRxStreamBuf)>,
    sensor: Ov2640<I2c<'static, Blocking>, Delay>,
    frame: &'static mut [u8],
    len: usize,
    frames_to_skip: u8,
    /// The outcome of the last [`CameraSource::prepare`], until `capture` takes it.
    prepared: Option<Result<usize, CaptureError>>,
}

impl CameraSource {
    /// Sets the sensor up for JPEG at `config` and returns the source with
    /// the chip id it read.
    pub fn new(
        camera: Camera<'static>,
        ring: DmaRxStreamBuf,
        sccb: I2c<'static, Blocking>,
        frame: &'static mut [u8],
        config: nowcam_ov2640::Config,
    ) -> Result<(Self, ChipId), StartError> {
        let mut sensor = Ov2640::new(sccb, Delay::new());
        let id = sensor.init_jpeg(config).map_err(StartError::Sensor)?;
        let source = CameraSource {
            idle: Some((camera, ring)),
            sensor,
            frame,
            len: 0,
            frames_to_skip: SETTLE_FRAMES,
            prepared: None,
        };
        Ok((source, id))
    }

    /// The frame buffer's size: the largest JPEG a capture can hold.
    pub fn capacity(&self) -> usize {
        self.frame.len()
    }

    /// Captures one frame into the frame buffer, sleeping whenever the DMA
    /// ring is empty; the next `capture` hands it over. Takes one to a few
    /// frame times (a partial frame is always skipped), at most 3 s.
    pub async fn prepare(&mut self) {
        self.len = 0;
        let Some((camera, ring)) = self.idle.take() else {
            self.prepared = Some(Err(CaptureError::Sensor));
            return;
        };
        let mut transfer = match camera.receive(ring) {
            Ok(transfer) => transfer,
            Err((_, camera, ring)) => {
                self.idle = Some((camera, ring));
                self.prepared = Some(Err(CaptureError::Sensor));
                return;
            }
        };
        let result = receive_jpeg(&mut transfer, self.frame, self.frames_to_skip).await;
        self.idle = Some(transfer.stop());
        if let Ok(len) = result {
            self.frames_to_skip = 0;
            self.len = len;
        }
        self.prepared = Some(result);
    }
}

impl FrameSource for CameraSource {
    /// Hands over the frame [`CameraSource::prepare`] captured; `NotReady`
    /// until one was prepared, so that the node never waits on the camera.
    fn capture(&mut self) -> Result<usize, CaptureError> {
        self.prepared.take().unwrap_or(Err(CaptureError::NotReady))
    }

    fn frame(&self) -> &[u8] {
        &self.frame[..self.len]
    }

    /// Applies the setting to the sensor; the boards have no flash LED, so
    /// `led_intensity` is unsupported with the sensor's own gaps.
    fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), ControlError> {
        self.sensor.set_control(variable, value).map_err(|error| match error {
            Ov2640Error::Unsupported => ControlError::Unsupported,
            Ov2640Error::OutOfRange => ControlError::OutOfRange,
            Ov2640Error::I2c(_) | Ov2640Error::UnsupportedSensor(_) | Ov2640Error::UnknownChip { .. } => {
                ControlError::Sensor
            }
        })?;
        if variable == ControlVariable::FrameSize {
            self.frames_to_skip = SETTLE_FRAMES;
        }
        Ok(())
    }

    fn control(&self, variable: ControlVariable) -> Option<i32> {
        self.sensor.control(variable)
    }

    fn frame_size(&self) -> FrameSize {
        self.sensor.frame_size()
    }
}

/// Copies one whole JPEG frame from a running transfer into `frame` and
/// returns the JPEG's length (the sensor pads frames past the image's end).
///
/// The transfer starts wherever the sensor is in its frame, so the bytes up
/// to the first end of frame are thrown away, then `skip` more frames.
async fn receive_jpeg(
    transfer: &mut CameraTransfer<'static, DmaRxStreamBuf>,
    frame: &mut [u8],
    skip: u8,
) -> Result<usize, CaptureError> {
    let started = Instant::now();
    let mut frames_to_discard = 1 + u32::from(skip);
    let mut attempts_left = ATTEMPTS;
    let mut len = 0;
    let mut overflowed = false;
    loop {
        if started.elapsed() > CAPTURE_TIMEOUT {
            return Err(CaptureError::Sensor);
        }
        let (data, end_of_frame) = transfer.peek_until_eof();
        if data.is_empty() {
            // An idle ring with a stopped port means the DMA ran out of
            // descriptors: bytes were lost and the frame is gone.
            if transfer.is_done() {
                return Err(CaptureError::Sensor);
            }
            Timer::after(RING_POLL).await;
            continue;
        }
        let count = data.len();
        if frames_to_discard == 0 && !overflowed {
            match frame.get_mut(len..len + count) {
                Some(destination) => {
                    destination.copy_from_slice(data);
                    len += count;
                }
                None => overflowed = true,
            }
        }
        transfer.consume(count);
        if !end_of_frame {
            continue;
        }
        if frames_to_discard > 0 {
            frames_to_discard -= 1;
            continue;
        }
        if overflowed {
            return Err(CaptureError::Overflow);
        }
        match jpeg_len(&frame[..len]) {
            Ok(jpeg) => return Ok(jpeg),
            Err(_) if attempts_left > 1 => {
                attempts_left -= 1;
                len = 0;
            }
            Err(_) => return Err(CaptureError::Sensor),
        }
    }
}
