//! Discovery: the receiver announces its HTTP API over mDNS (RFC 6762) as
//! a DNS-SD service (RFC 6763) of type `_http._tcp` with a TXT record
//! `cam_name=...`, and `nowcam discover` asks for it.
//!
//! Only messages live here, no sockets: the chip answers with embassy-net's
//! UDP socket and `nowcam serve` with tokio's, both through
//! [`Announcement::answer`]. The messages are built and parsed by
//! `edge-mdns` over NLnet Labs' `domain`; every packet is untrusted and a
//! bad one is a [`MdnsError`], never a panic.

use core::net::Ipv4Addr;

use edge_mdns::domain::base::iana::Class;
use edge_mdns::domain::base::{Message, ParsedName, Question, Rtype, ToName};
use edge_mdns::domain::rdata::AllRecordData;
use edge_mdns::host::{Host, Service, ServiceAnswers};
use edge_mdns::{
    HostAnswersMdnsHandler, HostQuestion, HostQuestions, MdnsHandler, MdnsRequest, MdnsResponse, NameSlice,
};

/// The mDNS port.
pub const MDNS_PORT: u16 = 5353;

/// The mDNS IPv4 multicast group.
pub const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);

/// Bytes of the largest mDNS message this crate builds or reads (RFC 6762
/// section 17: a message fits one Ethernet frame unless fragmented).
pub const MESSAGE_BYTES: usize = 1500;

/// The DNS-SD service type the receiver announces.
const SERVICE: &str = "_http";
const PROTOCOL: &str = "_tcp";
const DOMAIN: &str = "local";

/// How long the answers may be cached, in seconds (RFC 6762 section 10:
/// 120 s for records that name a host).
const TTL_SECONDS: u32 = 120;

/// The TXT key that carries the receiver's name (esp32-camera's `cam_name`).
pub const CAM_NAME_KEY: &str = "cam_name";

/// Why an mDNS message could not be read or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MdnsError {
    /// the packet is not a well-formed DNS message
    Malformed,
    /// the buffer is too small for the message
    BufferTooSmall,
}

impl core::fmt::Display for MdnsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MdnsError::Malformed => "the packet is not a well-formed DNS message",
            MdnsError::BufferTooSmall => "the buffer is too small for the message",
        })
    }
}

impl core::error::Error for MdnsError {}

impl From<edge_mdns::MdnsError> for MdnsError {
    fn from(error: edge_mdns::MdnsError) -> Self {
        match error {
            edge_mdns::MdnsError::ShortBuf => MdnsError::BufferTooSmall,
            edge_mdns::MdnsError::InvalidMessage => MdnsError::Malformed,
        }
    }
}

/// Why an announcement's names were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameError {
    /// a DNS label must be 1 to 63 bytes without a dot
    InvalidLabel,
    /// the TXT entry `cam_name=...` must fit 255 bytes
    CamNameTooLong,
}

impl core::fmt::Display for NameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NameError::InvalidLabel => "a DNS label must be 1 to 63 bytes without a dot",
            NameError::CamNameTooLong => "the TXT entry cam_name=... must fit 255 bytes",
        })
    }
}

impl core::error::Error for NameError {}

fn check_label(label: &str) -> Result<&str, NameError> {
    match label.len() {
        1..=63 if !label.contains('.') => Ok(label),
        _ => Err(NameError::InvalidLabel),
    }
}

/// What a receiver announces: the service instance `<instance>._http._tcp.local`
/// on `<host>.local:<port>`, with `cam_name` in its TXT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement<'a> {
    instance: &'a str,
    host: &'a str,
    cam_name: &'a str,
    port: u16,
    address: Ipv4Addr,
}

impl<'a> Announcement<'a> {
    /// `instance` and `host` are single DNS labels; `address` may be
    /// unspecified (no A record is sent then, and a client takes the
    /// answer's source address).
    pub fn new(
        instance: &'a str,
        host: &'a str,
        cam_name: &'a str,
        port: u16,
        address: Ipv4Addr,
    ) -> Result<Self, NameError> {
        if CAM_NAME_KEY.len() + 1 + cam_name.len() > 255 {
            return Err(NameError::CamNameTooLong);
        }
        Ok(Announcement { instance: check_label(instance)?, host: check_label(host)?, cam_name, port, address })
    }

    /// The same announcement at another address (the chip learns its address from DHCP).
    pub fn with_address(self, address: Ipv4Addr) -> Self {
        Announcement { address, ..self }
    }

    fn with_answers<T>(&self, f: impl FnOnce(ServiceAnswers<'_>) -> T) -> T {
        let host = Host {
            hostname: self.host,
            ipv4: self.address,
            ipv6: core::net::Ipv6Addr::UNSPECIFIED,
            ttl: edge_mdns::domain::base::Ttl::from_secs(TTL_SECONDS),
        };
        let txt = [(CAM_NAME_KEY, self.cam_name)];
        let service = Service {
            name: self.instance,
            priority: 0,
            weight: 0,
            service: SERVICE,
            protocol: PROTOCOL,
            port: self.port,
            service_subtypes: &[],
            txt_kvs: &txt,
        };
        f(ServiceAnswers::new(&host, &service))
    }

    /// The answer to `query` in `out`, or `None` when the query asks
    /// nothing this receiver has (or is not a query). `legacy`: the query
    /// came from a port other than 5353 (a one-shot querier, RFC 6762
    /// section 6.7), which gets its id and questions back and is answered
    /// by unicast.
    pub fn answer(&self, query: &[u8], legacy: bool, out: &mut [u8]) -> Result<Option<usize>, MdnsError> {
        self.with_answers(|answers| {
            let request = MdnsRequest::Request { legacy, multicast: !legacy, data: query };
            match HostAnswersMdnsHandler::new(answers).handle(request, out)? {
                MdnsResponse::Reply { data, .. } => Ok(Some(data.len())),
                MdnsResponse::None => Ok(None),
            }
        })
    }

    /// An unsolicited announcement of every record (RFC 6762 section 8.3).
    pub fn announce(&self, out: &mut [u8]) -> Result<usize, MdnsError> {
        self.with_answers(|answers| match HostAnswersMdnsHandler::new(answers).handle(MdnsRequest::None, out)? {
            MdnsResponse::Reply { data, .. } => Ok(data.len()),
            MdnsResponse::None => Err(MdnsError::BufferTooSmall),
        })
    }
}

/// The question for every `_http._tcp` service.
struct HttpServices;

impl HostQuestions for HttpServices {
    fn visit<F, E>(&self, mut f: F) -> Result<(), E>
    where
        F: FnMut(HostQuestion) -> Result<(), E>,
        E: From<edge_mdns::MdnsError>,
    {
        f(Question::new(NameSlice::new(&[SERVICE, PROTOCOL, DOMAIN]), Rtype::PTR, Class::IN))
    }
}

/// A one-shot query for `_http._tcp.local` PTR records with message id `id`, in `out`.
pub fn query(id: u16, out: &mut [u8]) -> Result<usize, MdnsError> {
    Ok(HttpServices.query(id, out)?)
}

/// A service a response describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The instance label (`nowcam-a1b2c3` of `nowcam-a1b2c3._http._tcp.local`).
    pub instance: heapless::String<63>,
    pub port: u16,
    /// The target host's address, when the response carries its A record.
    pub address: Option<Ipv4Addr>,
    /// The TXT record's `cam_name`, when it has one (cut at 63 bytes).
    pub cam_name: Option<heapless::String<63>>,
}

/// Services described at most in one response.
pub const FOUND_PER_RESPONSE: usize = 4;

type ParsedRecordData<'a> = AllRecordData<&'a [u8], ParsedName<&'a [u8]>>;

/// The `_http._tcp` services a response (answers and additional records)
/// describes with their port. A query (not a response) describes none.
pub fn parse_response(packet: &[u8]) -> Result<heapless::Vec<Found, FOUND_PER_RESPONSE>, MdnsError> {
    let message = Message::from_octets(packet).map_err(|_| MdnsError::Malformed)?;
    let mut found = heapless::Vec::new();
    if !message.header().qr() {
        return Ok(found);
    }
    let service_type = NameSlice::new(&[SERVICE, PROTOCOL, DOMAIN]);
    let mut instances = heapless::Vec::<ParsedName<&[u8]>, FOUND_PER_RESPONSE>::new();
    let mut records = heapless::Vec::<(ParsedName<&[u8]>, ParsedRecordData<'_>), 24>::new();
    let answers = message.answer().map_err(|_| MdnsError::Malformed)?;
    let additional = message.additional().map_err(|_| MdnsError::Malformed)?;
    for record in answers.chain(additional) {
        let record = record.map_err(|_| MdnsError::Malformed)?;
        let Some(record) = record.into_record::<ParsedRecordData<'_>>().map_err(|_| MdnsError::Malformed)? else {
            continue;
        };
        let owner = *record.owner();
        match record.data() {
            AllRecordData::Ptr(ptr) if owner.name_eq(&service_type) => {
                let instance = *ptr.ptrdname();
                if !instances.iter().any(|known| known.name_eq(&instance)) {
                    // Services past the fourth are left for another response.
                    let _ = instances.push(instance);
                }
            }
            data @ (AllRecordData::Srv(_) | AllRecordData::Txt(_) | AllRecordData::A(_)) => {
                // Records past the 24th are ignored: a receiver sends four.
                let _ = records.push((owner, data.clone()));
            }
            _ => {}
        }
    }
    for instance in &instances {
        let Some((target, port)) = records.iter().find_map(|(owner, data)| match data {
            AllRecordData::Srv(srv) if owner.name_eq(instance) => Some((*srv.target(), srv.port())),
            _ => None,
        }) else {
            continue;
        };
        let address = records.iter().find_map(|(owner, data)| match data {
            AllRecordData::A(a) if owner.name_eq(&target) => Some(a.addr()),
            _ => None,
        });
        let cam_name = records.iter().find_map(|(owner, data)| match data {
            AllRecordData::Txt(txt) if owner.name_eq(instance) => txt.iter().find_map(|entry| {
                let value = entry.strip_prefix(CAM_NAME_KEY.as_bytes())?.strip_prefix(b"=")?;
                Some(text(value))
            }),
            _ => None,
        });
        let _ = found.push(Found { instance: text(instance.first().as_ref()), port, address, cam_name });
    }
    Ok(found)
}

/// Bytes as text, invalid UTF-8 replaced, cut at `N` bytes.
fn text<const N: usize>(bytes: &[u8]) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars().chain(if chunk.invalid().is_empty() { None } else { Some('\u{fffd}') }) {
            if out.push(c).is_err() {
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    fn receiver() -> Announcement<'static> {
        Announcement::new("nowcam-a1b2c3", "nowcam-a1b2c3", "nowcam", 80, Ipv4Addr::new(192, 0, 2, 7))
            .expect("valid names")
    }

    fn response_to_query() -> Vec<u8> {
        let mut query_buffer = [0; MESSAGE_BYTES];
        let len = query(0x1234, &mut query_buffer).expect("the query fits");
        let mut out = [0; MESSAGE_BYTES];
        let len = receiver().answer(&query_buffer[..len], true, &mut out).expect("a query").expect("an answer");
        out[..len].to_vec()
    }

    #[test]
    fn a_legacy_query_gets_the_service_with_its_port_address_and_cam_name() {
        let response = response_to_query();
        assert_eq!(&response[..2], &[0x12, 0x34], "a legacy query gets its id back");
        let found = parse_response(&response).expect("a response");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].instance.as_str(), "nowcam-a1b2c3");
        assert_eq!(found[0].port, 80);
        assert_eq!(found[0].address, Some(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(found[0].cam_name.as_deref(), Some("nowcam"));
    }

    #[test]
    fn an_unsolicited_announcement_describes_the_service() {
        let mut out = [0; MESSAGE_BYTES];
        let len = receiver().announce(&mut out).expect("fits");
        let found = parse_response(&out[..len]).expect("a response");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].port, 80);
    }

    #[test]
    fn a_query_for_another_service_gets_no_answer_and_a_query_describes_nothing() {
        let mut buffer = [0; MESSAGE_BYTES];
        // The query for _http._tcp.local with its service type's first label changed to _ipp_.
        let len = query(1, &mut buffer).expect("fits");
        let position = buffer[..len].windows(5).position(|w| w == b"_http").expect("the service type");
        buffer[position..position + 5].copy_from_slice(b"_ipp_");
        let mut out = [0; MESSAGE_BYTES];
        assert_eq!(receiver().answer(&buffer[..len], true, &mut out), Ok(None));
        let len = query(1, &mut buffer).expect("fits");
        assert_eq!(parse_response(&buffer[..len]).map(|found| found.len()), Ok(0));
    }

    #[test]
    fn an_answer_that_does_not_fit_is_buffer_too_small() {
        let mut query_buffer = [0; MESSAGE_BYTES];
        let len = query(1, &mut query_buffer).expect("fits");
        let mut out = [0; 40];
        assert_eq!(receiver().answer(&query_buffer[..len], true, &mut out), Err(MdnsError::BufferTooSmall));
    }

    #[test]
    fn names_are_checked() {
        let long = "x".repeat(64);
        let any = Ipv4Addr::UNSPECIFIED;
        assert_eq!(Announcement::new(&long, "h", "c", 80, any), Err(NameError::InvalidLabel));
        assert_eq!(Announcement::new("a.b", "h", "c", 80, any), Err(NameError::InvalidLabel));
        assert_eq!(Announcement::new("i", "", "c", 80, any), Err(NameError::InvalidLabel));
        assert_eq!(Announcement::new("i", "h", &"c".repeat(247), 80, any), Err(NameError::CamNameTooLong));
        assert!(Announcement::new("i", "h", &"c".repeat(246), 80, any).is_ok());
    }

    #[test]
    fn empty_and_short_packets_are_malformed() {
        let mut out = [0; MESSAGE_BYTES];
        for packet in [&[][..], &[0u8; 5][..], &[0xff; 11][..]] {
            assert_eq!(parse_response(packet), Err(MdnsError::Malformed), "{packet:?}");
            assert_eq!(receiver().answer(packet, true, &mut out), Err(MdnsError::Malformed), "{packet:?}");
        }
    }

    proptest! {
        /// Any bytes: a typed result, never a panic.
        #[test]
        fn arbitrary_packets_never_panic(packet in proptest::collection::vec(any::<u8>(), 0..600), legacy: bool) {
            let _ = parse_response(&packet);
            let mut out = [0; MESSAGE_BYTES];
            let _ = receiver().answer(&packet, legacy, &mut out);
        }

        /// A response cut short or with one byte changed: a typed result,
        /// never a panic; cut short it never describes a service wrongly.
        #[test]
        fn damaged_responses_never_panic(cut in 0usize..400, at in 0usize..400, value: u8) {
            let response = response_to_query();
            let cut = cut.min(response.len());
            match parse_response(&response[..cut]) {
                Ok(found) => {
                    for service in found {
                        prop_assert_eq!(service.port, 80);
                    }
                }
                Err(error) => prop_assert_eq!(error, MdnsError::Malformed),
            }
            let mut changed = response.clone();
            let at = at % changed.len();
            changed[at] = value;
            let _ = parse_response(&changed);
            let mut out = [0; MESSAGE_BYTES];
            let _ = receiver().answer(&changed, true, &mut out);
        }
    }
}
