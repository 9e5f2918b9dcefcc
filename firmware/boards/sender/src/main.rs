//! nowcam sender (ESP32-C3, ESP32-C6): sends a compiled-in JPEG over ESP-NOW.
//!
//! Build-time configuration: `NOWCAM_CHANNEL` (1 to 14) fixes the channel;
//! without it the sender hops channels until the receiver answers.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use nowcam_app::SenderNode;
use nowcam_esp_adapters::boot::restart_after;
use nowcam_esp_adapters::wifi;
use nowcam_esp_adapters::{EspNowRadio, EspTelemetry, FixtureSource, RadioPump};
use nowcam_proto::wire::control::FrameSize;
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// The channel fixed at build time, if any.
const CHANNEL: Option<u8> = wifi::parse_channel(option_env!("NOWCAM_CHANNEL"));

/// The ~20 KB VGA fixture the harness also uses, so on-air and simulated runs move the same bytes.
const FIXTURE: &[u8] = include_bytes!("../../../../fixtures/vga-q12-20k.jpg");

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(size: 64 * 1024);
    let timers = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timers.timer0, peripherals.FROM_CPU_INTR0);

    let controller = match wifi::start(peripherals.WIFI, Default::default()) {
        Ok(controller) => controller,
        Err(error) => restart_after("the WiFi driver did not start", error).await,
    };
    let esp_now = controller.esp_now();
    let channel = CHANNEL.unwrap_or(1);
    if let Err(error) = esp_now.set_channel(channel) {
        restart_after("ESP-NOW refused the channel", error).await;
    }
    let address = wifi::station_address();
    let (radio, pump) = EspNowRadio::new(esp_now, address, channel, false);
    spawner.spawn(radio_pump(pump).expect("the radio pump task is spawned once"));

    println!("nowcam sender: mac {address}, channel {channel}");
    match CHANNEL {
        Some(channel) => println!("channel {channel} fixed at build time"),
        None => println!("no NOWCAM_CHANNEL: hopping channels 1 to 13 until the receiver answers"),
    }

    let source = FixtureSource::new(FIXTURE, FrameSize::Vga);
    let telemetry = EspTelemetry::new(peripherals.TSENS);
    let seed = nowcam_esp_adapters::boot::random_seed();
    // In a static rather than in this task's future: the node holds the
    // transfer state, and the static keeps it out of every stack frame.
    let node = NODE.init(SenderNode::new(node::config(CHANNEL.is_some()), radio, source, telemetry, seed));
    node::run(node).await
}

static NODE: StaticCell<node::Node> = StaticCell::new();

#[embassy_executor::task]
async fn radio_pump(pump: RadioPump) {
    pump.run().await
}

mod node;
