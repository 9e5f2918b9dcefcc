//! nowcam receiver (ESP32-C3, ESP32-C6; the classic ESP32 in GitHub Actions):
//! stores images received over ESP-NOW in the flash partition `images` and
//! serves them over HTTP.
//!
//! Build-time configuration: ESP-NOW starts at boot on `NOWCAM_CHANNEL` or
//! channel 1. `NOWCAM_WIFI_SSID` and `NOWCAM_WIFI_PASSWORD` name an access
//! point, joined in the background; once joined, ESP-NOW runs on the access
//! point's channel, and HTTP is served. Without them the receiver runs
//! ESP-NOW only and serves no HTTP.
//!
//! The test console (`nowcam_esp_adapters::test_console`) runs on the
//! console port in every build. With the feature `serial-radio` (the Wokwi
//! build) WiFi is never started: the node's frames travel as console
//! messages, and the harness relays them between simulations.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embedded_storage::nor_flash::ReadNorFlash;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use nowcam_app::{ReceiverNode, ReceiverNodeConfig};
use nowcam_console::{RadioKind, Role};
use nowcam_esp_adapters::boot::{self, random_seed, restart_after};
use nowcam_esp_adapters::test_console::{self, ConsoleInput, Identity, ReceiverAccess};
use nowcam_esp_adapters::{images_partition, wifi, EspTelemetry, ImagesFlash, TestRadio, Watchdog};
use nowcam_proto::auth::Key;
use nowcam_store::Store;
use static_cell::StaticCell;

#[cfg(not(feature = "serial-radio"))]
mod http;
#[cfg(not(feature = "serial-radio"))]
mod mdns;
#[cfg(not(feature = "serial-radio"))]
mod network;
mod node;

esp_bootloader_esp_idf::esp_app_desc!();

/// The radio under the test console's fault injector: ESP-NOW, or the
/// console itself in the serial-radio build.
#[cfg(not(feature = "serial-radio"))]
type BoardRadio = nowcam_esp_adapters::EspNowRadio;
#[cfg(feature = "serial-radio")]
type BoardRadio = test_console::ConsoleRadio;

/// The node and everything it owns; the HTTP tasks borrow it between polls.
pub type Node = ReceiverNode<
    TestRadio<BoardRadio>,
    Store<ImagesFlash>,
    EspTelemetry,
    { nowcam_esp_adapters::chip::RECEIVER_TRANSFERS },
    { nowcam_esp_adapters::chip::TRANSFER_WORDS },
>;
pub type SharedNode = Mutex<NoopRawMutex, BoardNode>;
/// What the HTTP server remembers of the node's events; the main loop feeds it.
pub type SharedJournal = nowcam_http::Journal<NoopRawMutex>;

nowcam_esp_adapters::board_node!(Node, BoardRadio);

impl nowcam_http::ReceiverAccess for BoardNode {
    fn newest_image(&self) -> Option<nowcam_ports::ImageInfo> {
        self.0.newest_image()
    }

    fn images(&self, out: &mut [nowcam_ports::ImageInfo]) -> usize {
        self.0.images(out)
    }

    fn read_image(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, nowcam_ports::StoreError> {
        self.0.read_image(sequence, offset, buffer)
    }

    fn cameras(&self) -> &[nowcam_app::CameraInfo] {
        nowcam_http::ReceiverAccess::cameras(&self.0)
    }

    fn own_status(&mut self) -> nowcam_http::OwnStatus {
        self.0.own_status()
    }

    fn request_control(
        &mut self,
        now: nowcam_ports::Instant,
        camera: nowcam_ports::MacAddress,
        command: nowcam_proto::wire::ControlCommand,
        variable: nowcam_proto::wire::control::ControlVariable,
        value: i32,
    ) -> Result<u16, nowcam_app::receiver::ControlRequestError> {
        nowcam_http::ReceiverAccess::request_control(&mut self.0, now, camera, command, variable, value)
    }
}

impl ReceiverAccess for BoardNode {
    type Store = Store<ImagesFlash>;

    fn store_mut(&mut self) -> &mut Store<ImagesFlash> {
        self.0.store_mut()
    }
}

/// The channel for ESP-NOW-only operation, fixed at build time.
const CHANNEL: Option<u8> = wifi::build_channel(option_env!("NOWCAM_CHANNEL"));

/// The key of the authenticated mode, fixed at build time (`NOWCAM_KEY`, 64
/// hexadecimal digits); unset, the default mode. A malformed key fails the build.
const KEY: Option<Key> = nowcam_esp_adapters::key::build_key(option_env!("NOWCAM_KEY"));

/// Sectors of the image partition (esp-storage erases 4 KiB at a time).
const ERASE_SIZE: u32 = 4096;

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // WiFi, TCP sockets and ESP-NOW's receive queue allocate from this heap,
    // 96 KB in all. Most of it sits in the RAM the second-stage bootloader
    // used, which the app may take once it runs (`.dram2_uninit`, as the
    // esp-hal examples do): 96 KB of the ESP32's 96.5 KB there, which keeps
    // its 192 KB main DRAM for statics and the stack; 64 KB of the 64.8 KB
    // (C3) and 64 KB (C6) there, plus 32 KB of main DRAM.
    #[cfg(feature = "esp32")]
    esp_alloc::heap_allocator!(#[link_section = ".dram2_uninit"] size: 96 * 1024);
    #[cfg(not(feature = "esp32"))]
    {
        esp_alloc::heap_allocator!(#[link_section = ".dram2_uninit"] size: 64 * 1024);
        esp_alloc::heap_allocator!(size: 32 * 1024);
    }
    let timers = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timers.timer0, peripherals.FROM_CPU_INTR0);
    let address = wifi::station_address();
    println!("nowcam receiver: mac {address}");
    boot::report_reset_reason();
    let watchdog = Watchdog::start(peripherals.RTC_TIMER, timers.wdt);

    let flash = match images_partition(peripherals.FLASH) {
        Ok(flash) => flash,
        Err(error) => restart_after("the image partition did not open", error).await,
    };
    let mut config = ReceiverNodeConfig::default();
    config.receiver.key = KEY;
    // An encrypted unicast reply could not be read by a camera that does not know us yet.
    config.broadcast_probe_replies = nowcam_esp_adapters::key::UNICAST_ENCRYPTION.is_some();
    match KEY {
        Some(_) => println!("authenticated mode: NOWCAM_KEY set at build time"),
        None => println!("default mode: no NOWCAM_KEY"),
    }
    let max_image = config.receiver.limits.max_image_len;
    let store_config = match nowcam_store::Config::for_partition(flash.capacity() as u32, ERASE_SIZE, max_image) {
        Ok(store_config) => store_config,
        Err(error) => restart_after("the image partition is too small", error).await,
    };
    let store = match Store::mount(flash, store_config) {
        Ok(store) => store,
        Err(error) => restart_after("the image store did not mount", error).await,
    };
    println!(
        "image store: {} slots of {} KiB, {}",
        store_config.slot_count,
        store_config.slot_size / 1024,
        match nowcam_ports::ImageStore::newest(&store) {
            Some(info) => NewestImage::Sequence(info.sequence),
            None => NewestImage::None,
        }
    );

    #[cfg(not(feature = "serial-radio"))]
    let (radio, channel, radio_kind, stack) = {
        let link = network::start(spawner, peripherals.WIFI, CHANNEL.unwrap_or(1)).await;
        let (mut radio, pump) = nowcam_esp_adapters::EspNowRadio::new(link.esp_now, address, link.channel);
        radio.apply_build_encryption();
        spawner.spawn(radio_pump(pump).expect("the radio pump task is spawned once"));
        println!("ESP-NOW on channel {}", link.channel);
        (radio, link.channel, RadioKind::EspNow, link.stack)
    };
    #[cfg(feature = "serial-radio")]
    let (radio, channel, radio_kind) = {
        let channel = CHANNEL.unwrap_or(1);
        println!("serial radio: frames travel over the console, WiFi is off");
        (test_console::ConsoleRadio::new(address, channel), channel, RadioKind::Serial)
    };

    #[cfg(not(feature = "esp32"))]
    let telemetry = EspTelemetry::new(peripherals.TSENS);
    #[cfg(feature = "esp32")]
    let telemetry = EspTelemetry::new();
    // ESP-NOW v2's 1470-byte frames, announced to cameras that ask; 250 over a serial radio.
    config.receiver.max_frame_len = nowcam_esp_adapters::chip::node_frame_len(radio_kind);
    static NODE: StaticCell<SharedNode> = StaticCell::new();
    let radio = TestRadio::new(radio);
    let node: &'static SharedNode =
        NODE.init(Mutex::new(BoardNode(ReceiverNode::new(config, radio, store, telemetry, random_seed()))));
    static JOURNAL: StaticCell<SharedJournal> = StaticCell::new();
    let journal: &'static SharedJournal = JOURNAL.init(SharedJournal::new());

    // The console listens on the USB-Serial-JTAG port and on UART0 (its RX pin named here).
    #[cfg(feature = "esp32c3")]
    let input = ConsoleInput::new(peripherals.USB_DEVICE, peripherals.UART0, peripherals.GPIO20);
    #[cfg(feature = "esp32c6")]
    let input = ConsoleInput::new(peripherals.USB_DEVICE, peripherals.UART0, peripherals.GPIO17);
    #[cfg(feature = "esp32")]
    let input = ConsoleInput::new(peripherals.UART0, peripherals.GPIO3);
    match input {
        Ok(input) => {
            let identity = Identity { role: Role::Receiver, mac: address, channel, radio: radio_kind };
            spawner.spawn(console(input, node, identity).expect("the console task is spawned once"));
        }
        Err(error) => println!("error: the test console did not start: {error}"),
    }
    #[cfg(not(feature = "serial-radio"))]
    if let Some(stack) = stack {
        http::spawn(spawner, stack, node, journal);
        spawner.spawn(mdns::run(stack, address).expect("the mDNS task is spawned once"));
    }
    node::run(node, journal, watchdog).await
}

/// The boot line's description of the newest stored image.
enum NewestImage {
    Sequence(u32),
    None,
}

impl core::fmt::Display for NewestImage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NewestImage::Sequence(sequence) => write!(f, "newest image {sequence}"),
            NewestImage::None => f.write_str("no image stored"),
        }
    }
}

#[cfg(not(feature = "serial-radio"))]
#[embassy_executor::task]
async fn radio_pump(pump: nowcam_esp_adapters::RadioPump<false>) {
    pump.run().await
}

#[embassy_executor::task]
async fn console(input: ConsoleInput, node: &'static SharedNode, identity: Identity) {
    test_console::run_receiver(input, node, identity).await
}
