//! Discovery: the receiver announces its HTTP API over mDNS as
//! `nowcam-XXXXXX._http._tcp.local` (the last three bytes of its MAC) with
//! TXT `cam_name=nowcam`, the answers `nowcam serve` gives too
//! (`nowcam_http::mdns`). It announces itself twice once it has an
//! address, then answers queries: one-shot queries (from a port other than
//! 5353, as `nowcam discover` sends) by unicast, others on the group.

use core::fmt::Write as _;

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_time::{Duration, Timer};
use esp_println::println;
use nowcam_http::mdns::{Announcement, MDNS_GROUP, MDNS_PORT};
use nowcam_ports::MacAddress;

/// Bytes of one mDNS message here: a query or the receiver's answer (about
/// 200 bytes) fits with room to spare; longer packets are dropped by the
/// socket and get no answer.
const MESSAGE: usize = 512;

/// The HTTP API's port.
const HTTP_PORT: u16 = 80;

/// What `/status` calls the receiver (`http::IDENTITY`'s name).
const CAM_NAME: &str = "nowcam";

#[embassy_executor::task]
pub async fn run(stack: Stack<'static>, mac: MacAddress) {
    let mut name = heapless::String::<16>::new();
    let [.., a, b, c] = mac.0;
    // 13 characters always fit the 16 of `name`.
    let _ = write!(name, "nowcam-{a:02x}{b:02x}{c:02x}");
    let Ok(announcement) = Announcement::new(&name, &name, CAM_NAME, HTTP_PORT, core::net::Ipv4Addr::UNSPECIFIED)
    else {
        println!("error: mDNS: the receiver's name {name} is no DNS label");
        return;
    };
    stack.wait_config_up().await;
    if let Err(error) = stack.join_multicast_group(IpAddress::Ipv4(MDNS_GROUP)) {
        println!("error: mDNS: joining 224.0.0.251: {error:?}");
        return;
    }
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_meta = [PacketMetadata::EMPTY; 2];
    let mut rx_buffer = [0; MESSAGE];
    let mut tx_buffer = [0; MESSAGE];
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx_buffer, &mut tx_meta, &mut tx_buffer);
    if let Err(error) = socket.bind(MDNS_PORT) {
        println!("error: mDNS: binding port 5353: {error:?}");
        return;
    }
    println!("mDNS: {name}._http._tcp.local (cam_name {CAM_NAME})");
    let group = IpEndpoint::new(IpAddress::Ipv4(MDNS_GROUP), MDNS_PORT);
    let mut packet = [0; MESSAGE];
    let mut answer = [0; MESSAGE];
    // RFC 6762 section 8.3: announce twice, a second apart.
    for _ in 0..2 {
        let Some(announcement) = at_current_address(stack, announcement) else {
            break;
        };
        if let Ok(len) = announcement.announce(&mut answer) {
            let _ = socket.send_to(&answer[..len], group).await;
        }
        Timer::after(Duration::from_secs(1)).await;
    }
    loop {
        let Ok((len, meta)) = socket.recv_from(&mut packet).await else {
            continue;
        };
        // DHCP may hand out another address after the access point comes back.
        let Some(announcement) = at_current_address(stack, announcement) else {
            continue;
        };
        let legacy = meta.endpoint.port != MDNS_PORT;
        // Malformed queries and queries for other names get no answer.
        let Ok(Some(answer_len)) = announcement.answer(&packet[..len], legacy, &mut answer) else {
            continue;
        };
        let destination = if legacy { meta.endpoint } else { group };
        // A lost answer is asked for again by the querier.
        let _ = socket.send_to(&answer[..answer_len], destination).await;
    }
}

/// The announcement with the stack's address now, while it has one.
fn at_current_address<'a>(stack: Stack<'_>, announcement: Announcement<'a>) -> Option<Announcement<'a>> {
    stack.config_v4().map(|config| announcement.with_address(config.address.address()))
}
