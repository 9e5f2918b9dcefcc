//! The WiFi side of the receiver: an access point when one is configured at
//! build time, ESP-NOW on its channel either way.

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_time::{Duration, Timer};
use esp_println::println;
use esp_radio::esp_now::EspNow;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController};
use nowcam_esp_adapters::boot::{random_seed, restart_after};
use nowcam_esp_adapters::wifi;
use static_cell::StaticCell;

/// The access point to join, from the build environment; never in source.
const SSID: Option<&str> = option_env!("NOWCAM_WIFI_SSID");
const PASSWORD: Option<&str> = option_env!("NOWCAM_WIFI_PASSWORD");

/// Sockets: two HTTP connections, DHCP, and one spare.
const SOCKETS: usize = 4;

/// How long to wait between attempts to join the access point.
const RETRY: Duration = Duration::from_secs(5);

/// What the node needs from the WiFi side.
pub struct Link {
    pub esp_now: EspNow,
    pub channel: u8,
    /// The station follows the access point's channel, so ESP-NOW cannot hop.
    pub tied_to_access_point: bool,
    /// The IP stack, when an access point was configured.
    pub stack: Option<Stack<'static>>,
}

/// Starts WiFi; returns once ESP-NOW can run (after joining the access point, if there is one).
pub async fn start(spawner: Spawner, device: esp_hal::peripherals::WIFI<'static>, fixed_channel: Option<u8>) -> Link {
    match SSID {
        Some(ssid) => join(spawner, device, ssid).await,
        None => esp_now_only(device, fixed_channel).await,
    }
}

async fn esp_now_only(device: esp_hal::peripherals::WIFI<'static>, fixed_channel: Option<u8>) -> Link {
    println!("no NOWCAM_WIFI_SSID at build time: running ESP-NOW only, without HTTP");
    let controller = match wifi::start(device, ControllerConfig::default()) {
        Ok(controller) => controller,
        Err(error) => restart_after("the WiFi driver did not start", error).await,
    };
    let esp_now = controller.esp_now();
    let channel = fixed_channel.unwrap_or(1);
    if let Err(error) = esp_now.set_channel(channel) {
        restart_after("ESP-NOW refused the channel", error).await;
    }
    // ESP-NOW holds its own reference to the driver, so the controller may go.
    drop(controller);
    Link { esp_now, channel, tied_to_access_point: false, stack: None }
}

async fn join(spawner: Spawner, device: esp_hal::peripherals::WIFI<'static>, ssid: &'static str) -> Link {
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
    let station = StationConfig::default().with_ssid(ssid_config).with_authentication(authentication);
    let config = ControllerConfig::default().with_initial_config(Config::Station(station));
    let mut controller = match wifi::start(device, config) {
        Ok(controller) => controller,
        Err(error) => restart_after("the WiFi driver did not start", error).await,
    };

    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        random_seed(),
    );
    spawner.spawn(net_task(runner).expect("the network task is spawned once"));

    // ESP-NOW must share the access point's channel, so it waits for the first join.
    let channel = loop {
        match controller.connect_async().await {
            Ok(info) => {
                println!("joined {ssid} on channel {}", info.channel);
                break info.channel;
            }
            Err(error) => {
                println!("could not join {ssid}: {error}; retrying in {} s", RETRY.as_secs());
                Timer::after(RETRY).await;
            }
        }
    };
    let esp_now = controller.esp_now();
    spawner.spawn(stay_connected(controller, ssid).expect("the WiFi task is spawned once"));
    spawner.spawn(report_address(stack).expect("the address task is spawned once"));
    Link { esp_now, channel, tied_to_access_point: true, stack: Some(stack) }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}

/// Rejoins the access point whenever the link drops.
#[embassy_executor::task]
async fn stay_connected(mut controller: WifiController<'static>, ssid: &'static str) {
    loop {
        // The reason code matters less than rejoining; the console shows the join errors.
        let _ = controller.wait_for_disconnect_async().await;
        println!("left {ssid}; rejoining");
        while let Err(error) = controller.connect_async().await {
            println!("could not rejoin {ssid}: {error}; retrying in {} s", RETRY.as_secs());
            Timer::after(RETRY).await;
        }
        println!("rejoined {ssid}");
    }
}

#[embassy_executor::task]
async fn report_address(stack: Stack<'static>) {
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        println!("ip {} (http://{}/image, /status)", config.address, config.address.address());
    }
}
