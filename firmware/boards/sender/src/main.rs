//! nowcam sender (ESP32-C3, ESP32-C6): sends a compiled-in JPEG over ESP-NOW,
//! or the image a host loaded over the test console.
//!
//! Build-time configuration: `NOWCAM_CHANNEL` (1 to 13) fixes the channel;
//! without it the sender hops channels until the receiver answers.
//! `NOWCAM_PHY_RATE` (1, 2, 5.5, 11, 6 ... 54, mcs0 ... mcs7) sends every
//! frame at that rate, and `auto` lets the rate controller pick each
//! chunk's rate (the radio pump sets it per frame: see
//! `nowcam_esp_adapters::radio`); without it the sender keeps esp-radio's 1 Mbps.
//!
//! The test console (`nowcam_esp_adapters::test_console`) runs on the
//! console port. Until a host speaks, the sender waits [`node::HOST_WINDOW`]
//! after boot and then sends the fixture every ten seconds on its own; once
//! a host has spoken, it sends only when the host asks. With the feature
//! `serial-radio` (the Wokwi build) WiFi is never started and frames travel
//! as console messages.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use nowcam_app::SenderNode;
use nowcam_console::{RadioKind, Role};
use nowcam_esp_adapters::test_console::{self, ConsoleInput, Identity, SenderAccess};
use nowcam_esp_adapters::{wifi, EspTelemetry, LoadedSource, TestRadio, Watchdog};
use nowcam_ports::MacAddress;
use nowcam_proto::auth::Key;
use nowcam_proto::wire::control::FrameSize;
use static_cell::{ConstStaticCell, StaticCell};

esp_bootloader_esp_idf::esp_app_desc!();

/// The channel fixed at build time, if any; a channel the country does not allow fails the build.
const CHANNEL: Option<u8> = wifi::build_channel(option_env!("NOWCAM_CHANNEL"));

/// The key of the authenticated mode, fixed at build time (`NOWCAM_KEY`, 64
/// hexadecimal digits); unset, the default mode. A malformed key fails the build.
const KEY: Option<Key> = nowcam_esp_adapters::key::build_key(option_env!("NOWCAM_KEY"));

/// The PHY rate asked at build time (`NOWCAM_PHY_RATE`); unset, 1 Mbps.
const PHY_RATE: nowcam_esp_adapters::radio::BuildRate =
    nowcam_esp_adapters::radio::build_phy_rate(option_env!("NOWCAM_PHY_RATE"));

/// The ~20 KB VGA fixture the harness also uses, so on-air and simulated runs move the same bytes.
const FIXTURE: &[u8] = include_bytes!("../../../../fixtures/vga-q12-20k.jpg");

/// RAM for an image the host loads: 128 KiB on the C3 (400 KB of SRAM; the
/// radio, the heap and the node take about 100 KB), 224 KiB on the C6 (512 KB
/// of SRAM), which holds every fixture in `fixtures/` (the largest is 217 KiB).
#[cfg(feature = "esp32c3")]
const LOAD_BUFFER_LEN: usize = 128 * 1024;
#[cfg(feature = "esp32c6")]
const LOAD_BUFFER_LEN: usize = 224 * 1024;

/// The radio under the test console's fault injector: ESP-NOW, or the
/// console itself in the serial-radio build.
#[cfg(not(feature = "serial-radio"))]
pub type BoardRadio = nowcam_esp_adapters::EspNowRadio;
#[cfg(feature = "serial-radio")]
pub type BoardRadio = test_console::ConsoleRadio;

pub type Node =
    SenderNode<TestRadio<BoardRadio>, LoadedSource, EspTelemetry, { nowcam_esp_adapters::chip::SENDER_WORDS }>;
pub type SharedNode = Mutex<NoopRawMutex, BoardNode>;

nowcam_esp_adapters::board_node!(Node, BoardRadio);

impl SenderAccess for BoardNode {
    fn source(&self) -> &LoadedSource {
        self.0.source()
    }

    fn source_mut(&mut self) -> &mut LoadedSource {
        self.0.source_mut()
    }

    fn transfer_in_progress(&self) -> bool {
        self.0.transfer().is_some()
    }

    fn capture_now(&mut self) {
        self.0.capture_now()
    }

    fn receiver(&self) -> Option<MacAddress> {
        self.0.receiver()
    }

    fn set_receiver(&mut self, receiver: MacAddress) {
        self.0.set_receiver(Some(receiver))
    }
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // The heap sits in the RAM the second-stage bootloader used, which the
    // app may take once it runs (`.dram2_uninit`: 64.8 KB on the C3, 64 KB
    // on the C6), leaving main DRAM to the load buffer, statics and the stack.
    esp_alloc::heap_allocator!(#[link_section = ".dram2_uninit"] size: 64 * 1024);
    let timers = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timers.timer0, peripherals.FROM_CPU_INTR0);
    nowcam_esp_adapters::boot::report_reset_reason();
    let watchdog = Watchdog::start(peripherals.RTC_TIMER, timers.wdt);
    let address = wifi::station_address();
    let channel = CHANNEL.unwrap_or(1);

    #[cfg(not(feature = "serial-radio"))]
    let (radio, radio_kind) = {
        let controller = match wifi::start(peripherals.WIFI, Default::default()) {
            Ok(controller) => controller,
            Err(error) => nowcam_esp_adapters::boot::restart_after("the WiFi driver did not start", error).await,
        };
        let esp_now = controller.esp_now();
        if let Err(error) = esp_now.set_channel(channel) {
            nowcam_esp_adapters::boot::restart_after("ESP-NOW refused the channel", error).await;
        }
        let (mut radio, pump) = nowcam_esp_adapters::EspNowRadio::with_rates(esp_now, address, channel);
        radio.apply_build_encryption();
        spawner.spawn(radio_pump(pump).expect("the radio pump task is spawned once"));
        (radio, RadioKind::EspNow)
    };
    #[cfg(feature = "serial-radio")]
    let (radio, radio_kind) = {
        println!("serial radio: frames travel over the console, WiFi is off");
        (test_console::ConsoleRadio::new(address, channel), RadioKind::Serial)
    };

    println!("nowcam sender: mac {address}, channel {channel}");
    match CHANNEL {
        Some(channel) => println!("channel {channel} fixed at build time"),
        None if radio_kind == RadioKind::EspNow => {
            println!("no NOWCAM_CHANNEL: hopping channels 1 to 13 until the receiver answers")
        }
        None => {}
    }

    // Zeroed in `.bss` at start-up: `StaticCell::init` would take the
    // array by value, which only the optimiser keeps off the stack (128 or
    // 224 KiB, more than the stack region holds).
    static LOAD_BUFFER: ConstStaticCell<[u8; LOAD_BUFFER_LEN]> = ConstStaticCell::new([0; LOAD_BUFFER_LEN]);
    let source = LoadedSource::new(FIXTURE, LOAD_BUFFER.take(), FrameSize::Vga);
    let telemetry = EspTelemetry::new(peripherals.TSENS);
    let seed = nowcam_esp_adapters::boot::random_seed();
    let mut radio = TestRadio::new(radio);
    // Discovery waits for the host's choice of receiver, or for the host window to pass.
    radio.hold(true);
    let mut config = node::config(CHANNEL.is_some() || radio_kind == RadioKind::Serial, KEY, PHY_RATE);
    // ESP-NOW v2's 1470-byte frames to a receiver that takes them; 250 over a serial radio.
    config.max_frame_len = nowcam_esp_adapters::chip::node_frame_len(radio_kind);
    // In a static rather than in this task's future: the node holds the
    // transfer state, and the static keeps it out of every stack frame.
    static NODE: StaticCell<SharedNode> = StaticCell::new();
    let node: &'static SharedNode =
        NODE.init(Mutex::new(BoardNode(SenderNode::new(config, radio, source, telemetry, seed))));

    // The console listens on the USB-Serial-JTAG port and on UART0 (its RX pin named here).
    #[cfg(feature = "esp32c3")]
    let input = ConsoleInput::new(peripherals.USB_DEVICE, peripherals.UART0, peripherals.GPIO20);
    #[cfg(feature = "esp32c6")]
    let input = ConsoleInput::new(peripherals.USB_DEVICE, peripherals.UART0, peripherals.GPIO17);
    match input {
        Ok(input) => {
            let identity = Identity { role: Role::Sender, mac: address, channel, radio: radio_kind };
            spawner.spawn(console(input, node, identity).expect("the console task is spawned once"));
        }
        Err(error) => println!("error: the test console did not start: {error}"),
    }
    node::run(node, watchdog).await
}

#[cfg(not(feature = "serial-radio"))]
#[embassy_executor::task]
async fn radio_pump(pump: nowcam_esp_adapters::RadioPump<true>) {
    pump.run().await
}

#[embassy_executor::task]
async fn console(input: ConsoleInput, node: &'static SharedNode, identity: Identity) {
    test_console::run_sender(input, node, identity).await
}

mod node;
