//! mDNS on the host: `nowcam serve` answers queries for its API with the
//! receiver's own responder (`nowcam_http::mdns`), and `nowcam discover`
//! asks with a one-shot query (RFC 6762 section 6.7) and lists the
//! receivers that answer.
//!
//! Both sides work on any UDP address: the mDNS group on port 5353 for real
//! use, or a loopback address, where the tests run them without touching
//! the network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use nowcam_http::mdns::{self, Announcement, MDNS_GROUP, MDNS_PORT, MESSAGE_BYTES};

/// The standard mDNS destination, 224.0.0.251:5353.
pub const MDNS_DESTINATION: SocketAddr = SocketAddr::V4(SocketAddrV4::new(MDNS_GROUP, MDNS_PORT));

/// Where `nowcam serve` listens for mDNS queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdnsBind {
    /// Port 5353 on every interface, joined to the mDNS group (real use).
    Group,
    /// One UDP address, unicast only (the tests: 127.0.0.1:0).
    Address(SocketAddr),
}

impl std::str::FromStr for MdnsBind {
    type Err = std::net::AddrParseError;

    /// `224.0.0.251:5353` is the group; any other address is bound as is.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let address: SocketAddr = text.parse()?;
        Ok(if address == MDNS_DESTINATION { MdnsBind::Group } else { MdnsBind::Address(address) })
    }
}

/// Why mDNS could not be set up or a discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("binding {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("joining the mDNS group 224.0.0.251: {0}")]
    Join(std::io::Error),
    #[error("sending the query to {address}: {source}")]
    Send { address: SocketAddr, source: std::io::Error },
    #[error("receiving answers: {0}")]
    Receive(std::io::Error),
    #[error("building the query: {0}")]
    Query(mdns::MdnsError),
}

/// The responder's socket, bound.
#[derive(Debug)]
pub struct MdnsListener {
    pub socket: UdpSocket,
    /// Joined to the mDNS group on port 5353.
    pub group: bool,
}

/// Binds the responder's socket.
pub fn bind_responder(bind: MdnsBind) -> Result<MdnsListener, DiscoveryError> {
    match bind {
        MdnsBind::Address(address) => UdpSocket::bind(address)
            .map(|socket| MdnsListener { socket, group: false })
            .map_err(|source| DiscoveryError::Bind { address, source }),
        MdnsBind::Group => {
            use socket2::{Domain, Protocol, Socket, Type};
            let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, MDNS_PORT));
            let bind_error = |source| DiscoveryError::Bind { address, source };
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(bind_error)?;
            // Other responders (avahi, a browser) share port 5353.
            socket.set_reuse_address(true).map_err(bind_error)?;
            #[cfg(unix)]
            socket.set_reuse_port(true).map_err(bind_error)?;
            socket.bind(&address.into()).map_err(bind_error)?;
            socket.join_multicast_v4(&MDNS_GROUP, &Ipv4Addr::UNSPECIFIED).map_err(DiscoveryError::Join)?;
            socket.set_multicast_loop_v4(true).map_err(DiscoveryError::Join)?;
            // RFC 6762 section 11: mDNS packets go out with an IP TTL of 255.
            socket.set_multicast_ttl_v4(255).map_err(DiscoveryError::Join)?;
            Ok(MdnsListener { socket: socket.into(), group: true })
        }
    }
}

/// Answers queries on `socket` forever. A query from port 5353 in group
/// mode gets its answer on the group; every other one by unicast to its
/// sender. Malformed packets get no answer.
pub async fn respond(socket: &tokio::net::UdpSocket, announcement: Announcement<'_>, group: bool) {
    let mut packet = vec![0u8; MESSAGE_BYTES];
    let mut answer = vec![0u8; MESSAGE_BYTES];
    loop {
        let Ok((len, source)) = socket.recv_from(&mut packet).await else {
            // An ICMP error of an earlier answer and the like: keep listening.
            continue;
        };
        let legacy = source.port() != MDNS_PORT;
        let Ok(Some(answer_len)) = announcement.answer(&packet[..len], legacy, &mut answer) else {
            continue;
        };
        let destination = if group && !legacy { MDNS_DESTINATION } else { source };
        // A lost answer is asked again by the querier.
        let _ = socket.send_to(&answer[..answer_len], destination).await;
    }
}

/// A receiver that answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receiver {
    /// Its DNS-SD instance label.
    pub instance: String,
    /// esp32-camera's `cam_name`, from the TXT record.
    pub cam_name: String,
    /// The address of its A record, else where the answer came from.
    pub address: IpAddr,
    pub port: u16,
    pub url: String,
}

/// What a discovery heard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub receivers: Vec<Receiver>,
    /// HTTP services without a `cam_name` (not nowcam receivers).
    pub other_services: usize,
    /// Packets that were no well-formed DNS message.
    pub malformed: usize,
}

/// Sends one one-shot query for `_http._tcp.local` to `via` and gathers the
/// answers for `timeout`.
pub fn discover(via: SocketAddr, timeout: Duration) -> Result<Discovery, DiscoveryError> {
    let local: SocketAddr = match via.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(ip) if ip.is_loopback() => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).map_err(|source| DiscoveryError::Bind { address: local, source })?;
    if via.ip().is_multicast() {
        if let Err(source) = socket.set_multicast_ttl_v4(255) {
            return Err(DiscoveryError::Send { address: via, source });
        }
    }
    let mut packet = vec![0u8; MESSAGE_BYTES];
    // Any id will do: answers come to this socket's own port.
    let id = (std::process::id() as u16) | 1;
    let len = mdns::query(id, &mut packet).map_err(DiscoveryError::Query)?;
    socket.send_to(&packet[..len], via).map_err(|source| DiscoveryError::Send { address: via, source })?;
    let deadline = Instant::now() + timeout;
    let mut discovery = Discovery::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left)).map_err(DiscoveryError::Receive)?;
        let (len, source) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                break
            }
            // The query went to a closed port (loopback): nobody answers.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(error) => return Err(DiscoveryError::Receive(error)),
        };
        let Ok(found) = mdns::parse_response(&packet[..len]) else {
            discovery.malformed += 1;
            continue;
        };
        for service in found {
            let Some(cam_name) = service.cam_name else {
                discovery.other_services += 1;
                continue;
            };
            let address = service.address.map_or(source.ip(), IpAddr::V4);
            let url = match address {
                IpAddr::V4(ip) => format!("http://{ip}:{}/", service.port),
                IpAddr::V6(ip) => format!("http://[{ip}]:{}/", service.port),
            };
            let receiver = Receiver {
                instance: service.instance.as_str().into(),
                cam_name: cam_name.as_str().into(),
                address,
                port: service.port,
                url,
            };
            if !discovery.receivers.contains(&receiver) {
                discovery.receivers.push(receiver);
            }
        }
    }
    Ok(discovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_address_means_group_mode() {
        assert_eq!("224.0.0.251:5353".parse(), Ok(MdnsBind::Group));
        assert_eq!("127.0.0.1:0".parse(), Ok(MdnsBind::Address("127.0.0.1:0".parse().expect("an address"))));
        assert!("nowhere".parse::<MdnsBind>().is_err());
    }

    /// A responder on loopback that sends garbage, then a good answer: the
    /// garbage is counted, the receiver found.
    #[test]
    fn malformed_answers_are_counted_and_skipped() {
        let responder = UdpSocket::bind("127.0.0.1:0").expect("a loopback socket");
        let via = responder.local_addr().expect("an address");
        let thread = std::thread::spawn(move || {
            let mut query = [0u8; MESSAGE_BYTES];
            responder.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
            let (len, source) = responder.recv_from(&mut query).expect("the query arrives");
            responder.send_to(&[0xff; 7], source).expect("sent");
            let announcement =
                Announcement::new("nowcam-test", "nowcam-test", "bench", 8080, Ipv4Addr::UNSPECIFIED).expect("names");
            let mut answer = [0u8; MESSAGE_BYTES];
            let answer_len =
                announcement.answer(&query[..len], true, &mut answer).expect("a query").expect("an answer");
            responder.send_to(&answer[..answer_len], source).expect("sent");
        });
        let discovery = discover(via, Duration::from_millis(1500)).expect("discovery runs");
        thread.join().expect("the responder ends");
        assert_eq!(discovery.malformed, 1);
        assert_eq!(
            discovery.receivers,
            vec![Receiver {
                instance: "nowcam-test".into(),
                cam_name: "bench".into(),
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 8080,
                url: "http://127.0.0.1:8080/".into(),
            }]
        );
    }
}
