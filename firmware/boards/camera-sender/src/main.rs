//! nowcam camera sender: an ESP32-S3 board with an OV2640 captures JPEGs and
//! sends them over ESP-NOW to a nowcam receiver.
//!
//! This crate is built only in GitHub Actions (`.github/workflows/xtensa.yml`,
//! through `cargo xtask firmware --chip esp32s3`): the ESP32-S3 is an Xtensa
//! chip, and its Rust toolchain (`espup`, the `esp` channel) is not installed
//! where the rest of nowcam is developed and tested. It has not run on
//! hardware from this repository yet.
//!
//! Boards, one Cargo feature each: `xiao-esp32s3-sense` (the default) and
//! `esp32s3-eye` (`--no-default-features --features esp32s3-eye`).
//! Build-time configuration: `NOWCAM_CHANNEL` (1 to 13) fixes the channel;
//! without it the camera hops channels until the receiver answers.
#![no_std]
#![no_main]

extern crate alloc;

mod board;
mod camera;
mod node;

use embassy_executor::Spawner;
use embassy_time::{Duration, Timer};
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::psram::{Psram, PsramConfig};
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use nowcam_esp_adapters::boot::restart_after;
use nowcam_esp_adapters::wifi;
use nowcam_esp_adapters::{EspNowRadio, EspTelemetry, RadioPump, Watchdog};
use nowcam_ov2640::{Ov2640Error, Sensor};
use nowcam_proto::auth::Key;
use nowcam_proto::wire::control::FrameSize;

use crate::camera::{CameraSource, StartError};

esp_bootloader_esp_idf::esp_app_desc!();

/// The channel fixed at build time, if any.
const CHANNEL: Option<u8> = wifi::build_channel(option_env!("NOWCAM_CHANNEL"));

/// The key of the authenticated mode, fixed at build time (`NOWCAM_KEY`, 64
/// hexadecimal digits); unset, the default mode. A malformed key fails the build.
const KEY: Option<Key> = nowcam_esp_adapters::key::build_key(option_env!("NOWCAM_KEY"));

/// The set-up at boot: VGA at quality 12 makes JPEGs of about 20 to 40 KB,
/// a fraction of a second on a clean link. The receiver can change both.
const SENSOR_CONFIG: nowcam_ov2640::Config = nowcam_ov2640::Config { frame_size: FrameSize::Vga, quality: 12 };

/// How long the sensor's clock runs before the first SCCB access.
const SENSOR_POWER_UP: Duration = Duration::from_millis(100);

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // The radio's buffers need internal RAM; PSRAM holds the frame buffer
    // only, never the heap (atomics do not work in PSRAM on the ESP32-S3).
    // 72 KB of the 160 KB sit in the RAM the second-stage bootloader used
    // (`.dram2_uninit`, 72 KB on the S3), which the app may take once it runs.
    esp_alloc::heap_allocator!(#[link_section = ".dram2_uninit"] size: 72 * 1024);
    esp_alloc::heap_allocator!(size: 88 * 1024);
    let timers = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timers.timer0, peripherals.FROM_CPU_INTR0);
    nowcam_esp_adapters::boot::report_reset_reason();
    let mut watchdog = Watchdog::start(peripherals.RTC_TIMER, timers.wdt);

    let psram = Psram::new(peripherals.PSRAM, PsramConfig::default());
    let frame = camera::frame_buffer(&psram);

    let pins = board::camera_pins!(peripherals);
    let (port, sccb) = match camera::start_port(peripherals.LCD_CAM, peripherals.DMA_CH0, peripherals.I2C0, pins) {
        Ok(started) => started,
        Err(error) => restart_after("the camera port did not start", error).await,
    };
    Timer::after(SENSOR_POWER_UP).await;
    // A ring of 32 descriptors of 1 KB: the CPU copies each chunk out long
    // before the ring wraps, even at UXGA's burst rate.
    let ring = esp_hal::dma_rx_stream_buffer!(32 * 1024, 1024);
    let (source, chip) = match CameraSource::new(port, ring, sccb, frame, SENSOR_CONFIG) {
        Ok(started) => started,
        // Another sensor will not turn into an OV2640 by restarting: say so, and stay up.
        Err(StartError::Sensor(Ov2640Error::UnsupportedSensor(sensor))) => unsupported(sensor, watchdog).await,
        Err(error) => restart_after("the camera did not start", error).await,
    };
    println!(
        "nowcam camera sender on {}: OV2640 id {:#04x} {:#04x}, frame buffer {} KB",
        board::BOARD_NAME,
        chip.product,
        chip.version,
        source.capacity() / 1024
    );

    let controller = match wifi::start(peripherals.WIFI, Default::default()) {
        Ok(controller) => controller,
        Err(error) => restart_after("the WiFi driver did not start", DebugText(error)).await,
    };
    let esp_now = controller.esp_now();
    let channel = CHANNEL.unwrap_or(1);
    if let Err(error) = esp_now.set_channel(channel) {
        restart_after("ESP-NOW refused the channel", DebugText(error)).await;
    }
    let address = wifi::station_address();
    let (mut radio, pump) = EspNowRadio::new(esp_now, address, channel);
    radio.apply_build_encryption();
    spawner.spawn(radio_pump(pump).expect("the radio pump task is spawned once"));

    println!("mac {address}, channel {channel}");
    match CHANNEL {
        Some(channel) => println!("channel {channel} fixed at build time"),
        None => println!("no NOWCAM_CHANNEL: hopping channels 1 to 13 until the receiver answers"),
    }

    // esp-hal 1.2.2 has no temperature sensor driver on the ESP32-S3.
    let telemetry = EspTelemetry::new();
    let seed = nowcam_esp_adapters::boot::random_seed();
    watchdog.feed();
    node::run(radio, source, telemetry, seed, CHANNEL, KEY, watchdog).await
}

/// Says, every ten seconds, that the camera module carries a sensor this
/// firmware does not drive, feeding the watchdog meanwhile.
async fn unsupported(sensor: Sensor, mut watchdog: Watchdog) -> ! {
    loop {
        println!(
            "error: the camera module has an {sensor} sensor, which this firmware does not support (only the OV2640); not restarting"
        );
        for _ in 0..10 {
            watchdog.feed();
            Timer::after(Duration::from_secs(1)).await;
        }
    }
}

#[embassy_executor::task]
async fn radio_pump(pump: RadioPump<false>) {
    pump.run().await
}

/// Shows a driver error that has only `Debug`.
struct DebugText<T>(T);

impl<T: core::fmt::Debug> core::fmt::Display for DebugText<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
