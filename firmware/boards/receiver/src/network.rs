//! The WiFi side of the receiver: ESP-NOW from boot, and an access point,
//! when one is configured at build time, joined in the background.
//!
//! ESP-NOW starts at once on `NOWCAM_CHANNEL` (or channel 1), whether or not
//! an access point is configured, so cameras are heard while the access
//! point is away. Once the station joins, ESP-NOW runs on the access
//! point's channel (the radio has one channel for both) and the cameras
//! follow it by probing. When the access point goes away, the receiver
//! keeps listening on that channel, and tries to join again after 5 s, then
//! after twice as long each time, up to 5 minutes: each attempt scans the
//! other channels, during which the receiver hears no camera.

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_time::{with_timeout, Duration, Timer};
use esp_println::println;
use esp_radio::esp_now::EspNow;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config, ControllerConfig, Interface, SecondaryChannel, WifiController,
};
use nowcam_esp_adapters::boot::{random_seed, restart_after};
use nowcam_esp_adapters::{radio, wifi};
use static_cell::StaticCell;

/// The access point to join, from the build environment; never in source.
const SSID: Option<&str> = option_env!("NOWCAM_WIFI_SSID");
const PASSWORD: Option<&str> = option_env!("NOWCAM_WIFI_PASSWORD");

/// Sockets: the HTTP server's connections, mDNS, DHCP, and one spare.
const SOCKETS: usize = crate::http::SOCKETS + 3;

/// The wait before the first attempt to join again, doubled after each failure.
const RETRY_FIRST: Duration = Duration::from_secs(5);

/// The longest wait between two attempts to join.
const RETRY_CAP: Duration = Duration::from_secs(300);

/// One join attempt (a scan of every channel, authentication, association)
/// that has not ended after this long is given up.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

/// What the node needs from the WiFi side.
pub struct Link {
    pub esp_now: EspNow,
    /// The channel ESP-NOW runs on now.
    pub channel: u8,
    /// The IP stack, when an access point is configured (it comes up once joined).
    pub stack: Option<Stack<'static>>,
}

/// Starts WiFi and ESP-NOW on `channel`; joins the configured access point in the background.
pub async fn start(spawner: Spawner, device: esp_hal::peripherals::WIFI<'static>, channel: u8) -> Link {
    let station = match SSID {
        Some(ssid) => Some((ssid, station_config(ssid).await)),
        None => None,
    };
    let config = match &station {
        Some((_, station)) => ControllerConfig::default().with_initial_config(Config::Station(station.clone())),
        None => ControllerConfig::default(),
    };
    let controller = match wifi::start(device, config) {
        Ok(controller) => controller,
        Err(error) => restart_after("the WiFi driver did not start", error).await,
    };
    let esp_now = controller.esp_now();
    if let Err(error) = esp_now.set_channel(channel) {
        restart_after("ESP-NOW refused the channel", error).await;
    }
    let Some((ssid, _)) = station else {
        println!("no NOWCAM_WIFI_SSID at build time: running ESP-NOW only, without HTTP");
        // ESP-NOW holds its own reference to the driver, so the controller may go.
        drop(controller);
        return Link { esp_now, channel, stack: None };
    };

    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        random_seed(),
    );
    spawner.spawn(net_task(runner).expect("the network task is spawned once"));
    spawner.spawn(stay_joined(controller, ssid, channel).expect("the WiFi task is spawned once"));
    spawner.spawn(report_address(stack).expect("the address task is spawned once"));
    println!("joining {ssid} in the background");
    Link { esp_now, channel, stack: Some(stack) }
}

/// The station configuration for `ssid`, with the password from the build environment.
async fn station_config(ssid: &'static str) -> StationConfig {
    let authentication = match PASSWORD {
        Some(password) if !password.is_empty() => match password.try_into() {
            Ok(password) => AuthenticationMethodConfig::Wpa2Personal(password),
            Err(error) => restart_after("NOWCAM_WIFI_PASSWORD is not a valid WiFi password", error).await,
        },
        _ => AuthenticationMethodConfig::Open,
    };
    let ssid_config = match ssid.try_into() {
        Ok(ssid) => ssid,
        Err(error) => restart_after("NOWCAM_WIFI_SSID is not a valid SSID", error).await,
    };
    StationConfig::default().with_ssid(ssid_config).with_authentication(authentication)
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}

/// Joins the access point, stays joined, and joins again whenever the link
/// drops, backing off between attempts; between attempts the radio listens
/// on the channel the cameras use.
#[embassy_executor::task]
async fn stay_joined(mut controller: WifiController<'static>, ssid: &'static str, mut listening: u8) {
    let mut retry = RETRY_FIRST;
    loop {
        match with_timeout(JOIN_TIMEOUT, controller.connect_async()).await {
            Ok(Ok(info)) => {
                println!("joined {ssid}: ESP-NOW on its channel {}", info.channel);
                listening = info.channel;
                radio::follow_access_point(Some(info.channel));
                retry = RETRY_FIRST;
                // The reason code matters less than joining again; the console shows the join errors.
                let _ = controller.wait_for_disconnect_async().await;
                radio::follow_access_point(None);
                println!("left {ssid}: listening on channel {listening}");
            }
            Ok(Err(error)) => println!("could not join {ssid}: {error}"),
            Err(_) => {
                println!("could not join {ssid} within {} s", JOIN_TIMEOUT.as_secs());
                let _ = controller.disconnect_async().await;
            }
        }
        // The attempt scanned other channels: back to where the cameras are.
        if let Err(error) = controller.set_channel(listening, SecondaryChannel::None) {
            println!("error: the radio did not return to channel {listening}: {error}");
        }
        println!("joining {ssid} again in {} s", retry.as_secs());
        Timer::after(retry).await;
        retry = (retry * 2).min(RETRY_CAP);
    }
}

#[embassy_executor::task]
async fn report_address(stack: Stack<'static>) {
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        println!("ip {} (http://{}/image, /status)", config.address, config.address.address());
    }
}
