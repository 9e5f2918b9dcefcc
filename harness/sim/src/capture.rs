//! Captures of ESP-NOW traffic that Wireshark opens: pcap (link types 105 and
//! 127) and pcapng with a comment on every frame the link model dropped or
//! duplicated.
//!
//! Each ESP-NOW frame is wrapped as the 802.11 Action frame the radio really
//! sends (shared/ESPNOW-FACTS.md, "On the air"), so a capture from a real
//! board and one from the simulator read the same way.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::time::Duration as StdDuration;

use nowcam_ports::PhyRate;
use nowcam_proto::MacAddress;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

/// The pcapng comment on a frame that the link model dropped.
pub const DROPPED_COMMENT: &str = "dropped by link model";
/// The pcapng comment on the second copy of a duplicated frame.
pub const DUPLICATE_COMMENT: &str = "duplicate";

/// The largest body ESP-NOW carries: v2's 1470 bytes (v1: 250).
pub const MAX_BODY_LEN: usize = 1470;

/// The most body bytes in one vendor-specific element: its length is one
/// byte, 5 of it the element's OUI, type and version. A v2 body goes on the
/// air in elements of at most this many bytes, joined by the receiver.
const ELEMENT_BODY_LEN: usize = 250;
const ELEMENT_HEADER_LEN: usize = 7;

/// The version in each element's low 4 bits: 1 for a v1 frame; 2 is this
/// project's assumption for the elements of a v2 frame (ESP-IDF documents
/// the element split, not this byte), and the reader takes any version.
const VERSION_V1: u8 = 0x01;
const VERSION_V2: u8 = 0x02;

const ESPRESSIF_OUI: [u8; 3] = [0x18, 0xfe, 0x34];
const MAC_HEADER_LEN: usize = 24;
const BODY_OFFSET: usize = 39;
const FCS_LEN: usize = 4;
const RADIOTAP_LEN: usize = 14;
/// Radiotap flags bit: the frame ends with its FCS.
const RADIOTAP_FLAG_FCS: u8 = 0x10;
/// Radiotap flags bit: the capturing radio saw a bad FCS.
const RADIOTAP_FLAG_BAD_FCS: u8 = 0x40;
/// Radiotap channel flags: 2 GHz spectrum, and CCK (DSSS and CCK rates) or OFDM modulation.
const RADIOTAP_CHANNEL_2GHZ: u16 = 0x0080;
const RADIOTAP_CHANNEL_CCK: u16 = 0x0020;
const RADIOTAP_CHANNEL_OFDM: u16 = 0x0040;
/// Radiotap present bits: flags, rate and channel (a DSSS, CCK or OFDM frame).
const RADIOTAP_PRESENT_RATE: u32 = (1 << 1) | (1 << 2) | (1 << 3);
/// Radiotap present bits: flags, channel and MCS (an HT frame).
const RADIOTAP_PRESENT_MCS: u32 = (1 << 1) | (1 << 3) | (1 << 19);
/// The header of an HT frame: flags, a pad byte, channel, MCS.
const RADIOTAP_HT_LEN: usize = 17;

/// What happened to a frame on the simulated air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    /// it reached its destination
    Delivered,
    /// the link model dropped it
    Dropped,
    /// a second copy the link model made
    Duplicate,
}

impl Fate {
    fn comment(self) -> Option<&'static str> {
        match self {
            Fate::Delivered => None,
            Fate::Dropped => Some(DROPPED_COMMENT),
            Fate::Duplicate => Some(DUPLICATE_COMMENT),
        }
    }

    fn from_comment(comment: &str) -> Fate {
        match comment {
            DROPPED_COMMENT => Fate::Dropped,
            DUPLICATE_COMMENT => Fate::Duplicate,
            _ => Fate::Delivered,
        }
    }
}

/// One ESP-NOW frame as seen on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Nanoseconds since the start of the capture.
    pub time_ns: u64,
    pub source: MacAddress,
    pub destination: MacAddress,
    /// The ESP-NOW payload, at most 1470 bytes (v2; 250 for v1).
    pub body: Vec<u8>,
    pub fate: Fate,
    /// The PHY rate the frame went at, written in the radiotap header (its
    /// Rate field, or its MCS field for an HT rate); `None` when a capture
    /// does not say (802.11 without radiotap, or a radiotap layout other
    /// than the two this writes): written as 1 Mbps.
    pub rate: Option<PhyRate>,
}

/// The file layout of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// pcap, link type 105: the 802.11 frame without its FCS.
    Pcap80211,
    /// pcap, link type 127: a radiotap header, the 802.11 frame and its FCS.
    PcapRadiotap,
    /// pcapng, link type 127, with a comment on dropped and duplicated frames.
    PcapNg,
}

impl CaptureFormat {
    /// Picks the format from a file name: `.pcapng` is pcapng, anything else radiotap pcap.
    pub fn from_path(path: &std::path::Path) -> CaptureFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("pcapng") => CaptureFormat::PcapNg,
            _ => CaptureFormat::PcapRadiotap,
        }
    }
}

/// Why a capture could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capture io: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed capture: {0}")]
    Pcap(#[from] pcap_file::PcapError),
    #[error("not a pcap or pcapng file (magic {0:02x?})")]
    UnknownMagic([u8; 4]),
    #[error("unsupported link type {0:?}: expected 105 (802.11) or 127 (radiotap)")]
    UnsupportedLinkType(DataLink),
    #[error("frame body of {0} bytes is longer than ESP-NOW v2's 1470")]
    BodyTooLong(usize),
}

/// Lays out one ESP-NOW frame as an 802.11 Action frame, without FCS: a
/// body of up to 250 bytes (v1) in one vendor-specific element, a longer
/// one (v2, up to 1470) in as many elements of 250 as it needs, each with
/// its own 7-byte header (shared/ESPNOW-FACTS.md: 1470 bytes make 6
/// elements and a 1548-byte MPDU).
///
/// `sequence` fills the 802.11 sequence number and seeds the 4 bytes the
/// ESP-NOW driver randomises, so that the same trace gives the same file.
pub fn action_frame(
    source: MacAddress,
    destination: MacAddress,
    sequence: u16,
    body: &[u8],
) -> Result<Vec<u8>, CaptureError> {
    if body.len() > MAX_BODY_LEN {
        return Err(CaptureError::BodyTooLong(body.len()));
    }
    let elements = body.len().div_ceil(ELEMENT_BODY_LEN).max(1);
    let mut frame =
        Vec::with_capacity(BODY_OFFSET - ELEMENT_HEADER_LEN + elements * ELEMENT_HEADER_LEN + body.len() + FCS_LEN);
    frame.extend_from_slice(&[0xd0, 0x00, 0x00, 0x00]);
    frame.extend_from_slice(&destination.0);
    frame.extend_from_slice(&source.0);
    frame.extend_from_slice(&MacAddress::BROADCAST.0);
    frame.extend_from_slice(&((sequence & 0x0fff) << 4).to_le_bytes());
    frame.push(0x7f);
    frame.extend_from_slice(&ESPRESSIF_OUI);
    frame.extend_from_slice(
        &scramble(u32::from(sequence) ^ u32::from_le_bytes([source.0[2], source.0[3], source.0[4], source.0[5]]))
            .to_le_bytes(),
    );
    let version = if body.len() > ELEMENT_BODY_LEN { VERSION_V2 } else { VERSION_V1 };
    let mut parts = body.chunks(ELEMENT_BODY_LEN).peekable();
    if parts.peek().is_none() {
        push_element(&mut frame, version, &[]);
    }
    for part in parts {
        push_element(&mut frame, version, part);
    }
    debug_assert_eq!(frame.len(), BODY_OFFSET + (elements - 1) * ELEMENT_HEADER_LEN + body.len());
    Ok(frame)
}

/// One vendor-specific element of at most [`ELEMENT_BODY_LEN`] body bytes.
fn push_element(frame: &mut Vec<u8>, version: u8, part: &[u8]) {
    frame.push(0xdd);
    // The length fits a byte: 5 + at most 250.
    frame.push((5 + part.len()) as u8);
    frame.extend_from_slice(&ESPRESSIF_OUI);
    frame.push(0x04);
    frame.push(version);
    frame.extend_from_slice(part);
}

/// A fixed mixing function standing in for the driver's random bytes.
fn scramble(mut x: u32) -> u32 {
    x = x.wrapping_mul(0x9e37_79b9) ^ (x >> 16);
    x.wrapping_mul(0x85eb_ca6b) ^ (x >> 13)
}

fn fcs(frame: &[u8]) -> [u8; 4] {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(frame).to_le_bytes()
}

/// The radiotap header of shared/ESPNOW-FACTS.md: flags, rate and channel present.
/// The radiotap header of a frame at `rate`: flags, rate and channel for a
/// DSSS, CCK or ERP-OFDM rate (14 bytes); flags, channel and MCS (20 MHz,
/// long guard interval) for an HT rate (17 bytes).
fn radiotap_header(channel: u8, rate: PhyRate) -> Vec<u8> {
    let frequency: u16 = if channel == 14 { 2484 } else { 2407 + 5 * u16::from(channel) };
    let modulation = if rate.is_ofdm() || rate.is_ht() { RADIOTAP_CHANNEL_OFDM } else { RADIOTAP_CHANNEL_CCK };
    let (len, present, second) = match rate.radiotap_rate() {
        Some(units) => (RADIOTAP_LEN, RADIOTAP_PRESENT_RATE, units),
        // The byte after the flags is padding: the channel field is 2-aligned.
        None => (RADIOTAP_HT_LEN, RADIOTAP_PRESENT_MCS, 0),
    };
    let mut header = Vec::with_capacity(len);
    header.extend_from_slice(&[0x00, 0x00, len as u8, 0x00]);
    header.extend_from_slice(&present.to_le_bytes());
    header.extend_from_slice(&[RADIOTAP_FLAG_FCS, second]);
    header.extend_from_slice(&frequency.to_le_bytes());
    header.extend_from_slice(&(RADIOTAP_CHANNEL_2GHZ | modulation).to_le_bytes());
    if let Some(mcs) = rate.mcs() {
        // Known: bandwidth, MCS index and guard interval; flags 0: 20 MHz, long GI.
        header.extend_from_slice(&[0x07, 0x00, mcs]);
    }
    debug_assert_eq!(header.len(), len);
    header
}

/// The rate the frames of a capture were written at: their own, else 1 Mbps.
fn written_rate(frame: &CapturedFrame) -> PhyRate {
    frame.rate.unwrap_or(PhyRate::Dsss1Mbps)
}

/// The rate a radiotap header of one of the two layouts above gives.
fn radiotap_rate(header: &[u8]) -> Option<PhyRate> {
    let present = u32::from_le_bytes(header.get(4..8)?.try_into().ok()?);
    match present {
        RADIOTAP_PRESENT_RATE => {
            let units = *header.get(9)?;
            PhyRate::ALL.into_iter().find(|rate| rate.radiotap_rate() == Some(units))
        }
        RADIOTAP_PRESENT_MCS => {
            let mcs = *header.get(16)?;
            PhyRate::ALL.into_iter().find(|rate| rate.mcs() == Some(mcs))
        }
        _ => None,
    }
}

fn radiotap_packet(channel: u8, rate: PhyRate, frame: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(RADIOTAP_HT_LEN + frame.len() + FCS_LEN);
    packet.extend_from_slice(&radiotap_header(channel, rate));
    packet.extend_from_slice(frame);
    packet.extend_from_slice(&fcs(frame));
    packet
}

/// Writes `frames` on WiFi channel `channel` in `format`.
///
/// Plain pcap cannot mark a frame, so it holds only what receivers got
/// (delivered frames and duplicates); pcapng holds every frame sent, the
/// dropped ones with a comment.
pub fn write_capture<W: Write>(
    writer: W,
    format: CaptureFormat,
    channel: u8,
    frames: &[CapturedFrame],
) -> Result<(), CaptureError> {
    let mut sequences: std::collections::HashMap<MacAddress, u16> = std::collections::HashMap::new();
    let mut next_sequence = |source: MacAddress| {
        let counter = sequences.entry(source).or_insert(0);
        let value = *counter;
        *counter = counter.wrapping_add(1);
        value
    };
    match format {
        CaptureFormat::Pcap80211 | CaptureFormat::PcapRadiotap => {
            let datalink =
                if format == CaptureFormat::Pcap80211 { DataLink::IEEE802_11 } else { DataLink::IEEE802_11_RADIOTAP };
            let header = PcapHeader {
                datalink,
                snaplen: 65535,
                ts_resolution: TsResolution::MicroSecond,
                endianness: Endianness::Little,
                ..PcapHeader::default()
            };
            let mut pcap = PcapWriter::with_header(writer, header)?;
            for frame in frames.iter().filter(|f| f.fate != Fate::Dropped) {
                let wrapped = action_frame(frame.source, frame.destination, next_sequence(frame.source), &frame.body)?;
                let data = if format == CaptureFormat::Pcap80211 {
                    wrapped
                } else {
                    radiotap_packet(channel, written_rate(frame), &wrapped)
                };
                let packet = PcapPacket::new(StdDuration::from_nanos(frame.time_ns), data.len() as u32, &data);
                pcap.write_packet(&packet)?;
            }
            pcap.into_writer().flush()?;
        }
        CaptureFormat::PcapNg => {
            let mut pcapng = PcapNgWriter::new(writer)?;
            let interface =
                InterfaceDescriptionBlock { linktype: DataLink::IEEE802_11_RADIOTAP, snaplen: 65535, options: vec![] };
            pcapng.write_pcapng_block(interface)?;
            for frame in frames {
                let wrapped = action_frame(frame.source, frame.destination, next_sequence(frame.source), &frame.body)?;
                let data = radiotap_packet(channel, written_rate(frame), &wrapped);
                let options =
                    frame.fate.comment().map(|c| EnhancedPacketOption::Comment(Cow::Borrowed(c))).into_iter().collect();
                let block = EnhancedPacketBlock {
                    interface_id: 0,
                    // pcapng's default resolution is microseconds, and the crate writes `as_nanos` raw.
                    timestamp: StdDuration::from_nanos(frame.time_ns / 1_000),
                    original_len: data.len() as u32,
                    data: Cow::Owned(data),
                    options,
                };
                pcapng.write_pcapng_block(block)?;
            }
            pcapng.into_inner().flush()?;
        }
    }
    Ok(())
}

/// What a capture holds: its ESP-NOW frames, and how many frames a radio
/// would have dropped for a wrong FCS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureContents {
    pub frames: Vec<CapturedFrame>,
    /// Packets whose FCS (radiotap flags 0x10) does not match the frame, or
    /// that the capturing radio marked as failing it (flags 0x40): the chip's
    /// MAC drops them before ESP-NOW sees them, so the replay does too.
    pub fcs_errors: u64,
}

/// Reads every ESP-NOW frame from a pcap or pcapng capture; frames with a
/// wrong FCS are left out (see [`read_capture_checked`] for their count).
pub fn read_capture<R: Read>(reader: R) -> Result<Vec<CapturedFrame>, CaptureError> {
    Ok(read_capture_checked(reader)?.frames)
}

/// Reads every ESP-NOW frame from a pcap or pcapng capture, and counts the
/// frames dropped for a wrong FCS.
///
/// Packets that are not ESP-NOW Action frames (other 802.11 traffic, a
/// truncated frame) are skipped rather than refused: real captures carry
/// beacons and acknowledgements too. The FCS is checked where the capture
/// carries one: link type 127 (radiotap, in pcap or pcapng) with the FCS
/// flag set; link type 105 carries none.
pub fn read_capture_checked<R: Read>(mut reader: R) -> Result<CaptureContents, CaptureError> {
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic)?;
    let chained = std::io::Cursor::new(magic).chain(reader);
    let mut frames = Vec::new();
    let mut fcs_errors = 0u64;
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let mut pcapng = PcapNgReader::new(chained)?;
            let mut links: Vec<DataLink> = Vec::new();
            while let Some(block) = pcapng.next_block() {
                match block? {
                    Block::SectionHeader(_) => links.clear(),
                    Block::InterfaceDescription(interface) => links.push(interface.linktype),
                    Block::EnhancedPacket(packet) => {
                        let link =
                            links.get(packet.interface_id as usize).copied().unwrap_or(DataLink::IEEE802_11_RADIOTAP);
                        let fate = packet
                            .options
                            .iter()
                            .find_map(|o| match o {
                                EnhancedPacketOption::Comment(c) => Some(Fate::from_comment(c)),
                                _ => None,
                            })
                            .unwrap_or(Fate::Delivered);
                        // The interface resolution defaults to microseconds; see `write_capture`.
                        let time_ns = (packet.timestamp.as_nanos() as u64).saturating_mul(1_000);
                        match parse_packet(link, &packet.data, time_ns, fate)? {
                            Packet::Frame(frame) => frames.push(frame),
                            Packet::BadFcs => fcs_errors += 1,
                            Packet::Other => {}
                        }
                    }
                    _ => {}
                }
            }
        }
        [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => {
            let mut pcap = PcapReader::new(chained)?;
            let link = pcap.header().datalink;
            while let Some(packet) = pcap.next_packet() {
                let packet = packet?;
                match parse_packet(link, &packet.data, packet.timestamp.as_nanos() as u64, Fate::Delivered)? {
                    Packet::Frame(frame) => frames.push(frame),
                    Packet::BadFcs => fcs_errors += 1,
                    Packet::Other => {}
                }
            }
        }
        other => return Err(CaptureError::UnknownMagic(other)),
    }
    Ok(CaptureContents { frames, fcs_errors })
}

/// What one captured packet is.
enum Packet {
    Frame(CapturedFrame),
    /// An 802.11 frame whose FCS is wrong.
    BadFcs,
    /// Anything else: another kind of 802.11 frame, a truncated one.
    Other,
}

/// The radiotap flags field, when the header has one: the present words
/// (chained by bit 31), then TSFT (bit 0, 8 bytes aligned to 8) when
/// present, then the flags byte (bit 1).
fn radiotap_flags(header: &[u8]) -> Option<u8> {
    let present = u32::from_le_bytes(header.get(4..8)?.try_into().ok()?);
    let mut offset = 8;
    let mut word = present;
    while word & (1 << 31) != 0 {
        word = u32::from_le_bytes(header.get(offset..offset + 4)?.try_into().ok()?);
        offset += 4;
    }
    if present & 0b10 == 0 {
        return None;
    }
    if present & 1 != 0 {
        offset = offset.next_multiple_of(8) + 8;
    }
    header.get(offset).copied()
}

fn parse_packet(link: DataLink, data: &[u8], time_ns: u64, fate: Fate) -> Result<Packet, CaptureError> {
    let mut rate = None;
    let frame = match link {
        DataLink::IEEE802_11 => data,
        DataLink::IEEE802_11_RADIOTAP => {
            let Some(len) = data.get(2..4).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))) else {
                return Ok(Packet::Other);
            };
            let (Some(header), Some(rest)) = (data.get(..len), data.get(len..)) else {
                return Ok(Packet::Other);
            };
            let flags = radiotap_flags(header).unwrap_or(0);
            rate = radiotap_rate(header);
            if flags & RADIOTAP_FLAG_BAD_FCS != 0 {
                return Ok(Packet::BadFcs);
            }
            if flags & RADIOTAP_FLAG_FCS != 0 {
                let Some(split) = rest.len().checked_sub(FCS_LEN) else {
                    return Ok(Packet::BadFcs);
                };
                let (frame, fcs_bytes) = rest.split_at(split);
                if fcs(frame) != fcs_bytes {
                    return Ok(Packet::BadFcs);
                }
                frame
            } else {
                rest
            }
        }
        other => return Err(CaptureError::UnsupportedLinkType(other)),
    };
    Ok(parse_action_frame(frame).map_or(Packet::Other, |(source, destination, body)| {
        Packet::Frame(CapturedFrame { time_ns, source, destination, body, fate, rate })
    }))
}

/// Finds the ESP-NOW body in an 802.11 frame (with or without FCS),
/// joining the bodies of its vendor-specific elements (one for v1, up to
/// six for v2).
///
/// Returns the source, the destination and the body, or `None` when the
/// frame is not an ESP-NOW vendor-specific Action frame.
pub fn parse_action_frame(frame: &[u8]) -> Option<(MacAddress, MacAddress, Vec<u8>)> {
    if frame.len() < BODY_OFFSET || frame[0] != 0xd0 || frame[MAC_HEADER_LEN] != 0x7f || frame[25..28] != ESPRESSIF_OUI
    {
        return None;
    }
    let is_element = |at: usize| {
        frame.get(at) == Some(&0xdd)
            && frame.get(at + 2..at + 5) == Some(&ESPRESSIF_OUI[..])
            && frame.get(at + 5) == Some(&0x04)
    };
    let mut at = BODY_OFFSET - ELEMENT_HEADER_LEN;
    if !is_element(at) {
        return None;
    }
    let mut body = Vec::new();
    // Elements follow one another; what comes after the last (the FCS, when
    // the capture keeps it) is not one: 4 bytes are too short to be.
    while is_element(at) && body.len() < MAX_BODY_LEN {
        let len = usize::from(frame[at + 1]).checked_sub(5)?;
        body.extend_from_slice(frame.get(at + ELEMENT_HEADER_LEN..at + ELEMENT_HEADER_LEN + len)?);
        at += ELEMENT_HEADER_LEN + len;
    }
    let mac = |at: usize| {
        let mut octets = [0u8; 6];
        octets.copy_from_slice(&frame[at..at + 6]);
        MacAddress(octets)
    };
    Some((mac(10), mac(4), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: MacAddress = MacAddress([0x24, 0x6f, 0x28, 0x01, 0x02, 0x03]);
    const DST: MacAddress = MacAddress([0x24, 0x6f, 0x28, 0x0a, 0x0b, 0x0c]);

    #[test]
    fn action_frame_has_the_documented_layout() {
        let frame = action_frame(SRC, DST, 1, b"hi").unwrap();
        assert_eq!(frame.len(), 39 + 2);
        assert_eq!(&frame[0..2], &[0xd0, 0x00]);
        assert_eq!(&frame[4..10], &DST.0);
        assert_eq!(&frame[10..16], &SRC.0);
        assert_eq!(&frame[16..22], &[0xff; 6]);
        assert_eq!(&frame[22..24], &[0x10, 0x00]);
        assert_eq!(frame[24], 0x7f);
        assert_eq!(&frame[25..28], &[0x18, 0xfe, 0x34]);
        assert_eq!(&frame[32..39], &[0xdd, 7, 0x18, 0xfe, 0x34, 0x04, 0x01]);
        assert_eq!(&frame[39..], b"hi");
    }

    #[test]
    fn a_full_payload_makes_a_293_byte_mpdu() {
        let frame = action_frame(SRC, DST, 0, &[0u8; 250]).unwrap();
        assert_eq!(frame.len() + FCS_LEN, 293);
        assert!(matches!(action_frame(SRC, DST, 0, &[0u8; 1471]), Err(CaptureError::BodyTooLong(1471))));
    }

    /// ESPNOW-FACTS.md: 1470 bytes go in 6 elements, a 1548-byte MPDU.
    #[test]
    fn a_v2_body_is_split_into_elements_of_250() {
        let body: Vec<u8> = (0..1470u32).map(|i| (i * 7) as u8).collect();
        let frame = action_frame(SRC, DST, 0, &body).unwrap();
        assert_eq!(frame.len() + FCS_LEN, 1548);
        let mut at = 32;
        let mut lengths = Vec::new();
        while at < frame.len() {
            assert_eq!(&frame[at..at + 1], &[0xdd], "an element at {at}");
            assert_eq!(&frame[at + 2..at + 7], &[0x18, 0xfe, 0x34, 0x04, 0x02]);
            lengths.push(frame[at + 1] as usize - 5);
            at += 7 + frame[at + 1] as usize - 5;
        }
        assert_eq!(lengths, [250, 250, 250, 250, 250, 220]);
        // 251 bytes: two elements; an empty body: one empty element.
        assert_eq!(action_frame(SRC, DST, 0, &[1u8; 251]).unwrap().len(), 39 + 7 + 251);
        assert_eq!(action_frame(SRC, DST, 0, &[]).unwrap().len(), 39);
        let (source, destination, joined) = parse_action_frame(&frame).unwrap();
        assert_eq!((source, destination), (SRC, DST));
        assert_eq!(joined, body);
        // With the FCS behind it, and with a truncated last element.
        let mut with_fcs = frame.clone();
        with_fcs.extend_from_slice(&fcs(&frame));
        assert_eq!(parse_action_frame(&with_fcs).unwrap().2, body);
        assert_eq!(parse_action_frame(&frame[..frame.len() - 1]), None);
    }

    #[test]
    fn v1_and_v2_frames_read_back_from_every_format() {
        let frames: Vec<CapturedFrame> = [0usize, 1, 250, 251, 500, 1461, 1470]
            .iter()
            .enumerate()
            .map(|(i, &len)| CapturedFrame {
                time_ns: 1_000 * i as u64,
                source: SRC,
                destination: DST,
                body: (0..len).map(|b| (b ^ i) as u8).collect(),
                fate: Fate::Delivered,
                rate: Some(PhyRate::ALL[i * 3 % PhyRate::ALL.len()]),
            })
            .collect();
        for format in [CaptureFormat::Pcap80211, CaptureFormat::PcapRadiotap, CaptureFormat::PcapNg] {
            let mut bytes = Vec::new();
            write_capture(&mut bytes, format, 6, &frames).unwrap();
            let back = read_capture(&bytes[..]).unwrap();
            let bodies: Vec<&Vec<u8>> = back.iter().map(|f| &f.body).collect();
            let sent: Vec<&Vec<u8>> = frames.iter().map(|f| &f.body).collect();
            assert_eq!(bodies, sent, "{format:?}");
            // Radiotap keeps each frame's rate, HT ones in its MCS field.
            let rates: Vec<Option<PhyRate>> = back.iter().map(|f| f.rate).collect();
            let sent_rates: Vec<Option<PhyRate>> =
                frames.iter().map(|f| f.rate.filter(|_| format != CaptureFormat::Pcap80211)).collect();
            assert_eq!(rates, sent_rates, "{format:?}");
        }
    }

    #[test]
    fn radiotap_packet_starts_with_the_documented_header_and_ends_with_the_fcs() {
        let frame = action_frame(SRC, DST, 0, b"x").unwrap();
        let packet = radiotap_packet(1, PhyRate::Dsss1Mbps, &frame);
        assert_eq!(
            &packet[..14],
            &[0x00, 0x00, 0x0e, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x10, 0x02, 0x6c, 0x09, 0xa0, 0x00]
        );
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&frame);
        assert_eq!(&packet[packet.len() - 4..], &crc.to_le_bytes());
    }

    /// A frame of the tests, at 1 Mbps.
    fn frame(time_ns: u64, source: MacAddress, destination: MacAddress, body: Vec<u8>, fate: Fate) -> CapturedFrame {
        CapturedFrame { time_ns, source, destination, body, fate, rate: Some(PhyRate::Dsss1Mbps) }
    }

    fn sample() -> Vec<CapturedFrame> {
        vec![
            frame(1_000, SRC, DST, vec![1, 2, 3], Fate::Delivered),
            frame(4_000, SRC, DST, vec![4; 250], Fate::Dropped),
            frame(9_000, DST, SRC, vec![], Fate::Duplicate),
        ]
    }

    #[test]
    fn every_format_reads_back_what_was_written() {
        for format in [CaptureFormat::Pcap80211, CaptureFormat::PcapRadiotap, CaptureFormat::PcapNg] {
            let mut bytes = Vec::new();
            write_capture(&mut bytes, format, 1, &sample()).unwrap();
            let read = read_capture(bytes.as_slice()).unwrap();
            let expected: Vec<CapturedFrame> = match format {
                CaptureFormat::PcapNg => sample(),
                _ => sample()
                    .into_iter()
                    .filter(|f| f.fate != Fate::Dropped)
                    .map(|f| CapturedFrame { fate: Fate::Delivered, ..f })
                    // Plain 802.11 carries no radiotap header, so no rate.
                    .map(|f| CapturedFrame { rate: f.rate.filter(|_| format != CaptureFormat::Pcap80211), ..f })
                    .collect(),
            };
            assert_eq!(read, expected, "{format:?}");
        }
    }

    #[test]
    fn pcap_global_header_is_little_endian_with_the_link_type() {
        let mut bytes = Vec::new();
        write_capture(&mut bytes, CaptureFormat::Pcap80211, 1, &[]).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
        assert_eq!(&bytes[16..20], &65535u32.to_le_bytes());
        assert_eq!(&bytes[20..24], &105u32.to_le_bytes());
    }

    /// A capture of `sample()`'s delivered frames with the FCS of the second one flipped.
    fn with_one_bad_fcs(format: CaptureFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        let frames = vec![
            frame(1_000, SRC, DST, vec![1, 2, 3], Fate::Delivered),
            frame(2_000, SRC, DST, vec![7; 20], Fate::Delivered),
            frame(3_000, DST, SRC, vec![9], Fate::Delivered),
        ];
        write_capture(&mut bytes, format, 1, &frames).unwrap();
        // The second packet's FCS is its last 4 bytes: find it by its body, which ends just before.
        let body_end = bytes.windows(20).position(|w| w == [7; 20]).unwrap() + 20;
        bytes[body_end] ^= 0xff;
        bytes
    }

    #[test]
    fn frames_with_a_wrong_fcs_are_dropped_and_counted() {
        for format in [CaptureFormat::PcapRadiotap, CaptureFormat::PcapNg] {
            let read = read_capture_checked(with_one_bad_fcs(format).as_slice()).unwrap();
            assert_eq!(read.fcs_errors, 1, "{format:?}");
            let bodies: Vec<&[u8]> = read.frames.iter().map(|f| &f.body[..]).collect();
            assert_eq!(bodies, [&[1u8, 2, 3][..], &[9][..]], "{format:?}");
        }
    }

    #[test]
    fn a_flipped_byte_in_the_frame_fails_its_fcs_and_a_capture_without_fcs_is_taken() {
        let frame = action_frame(SRC, DST, 0, b"abc").unwrap();
        let mut packet = radiotap_packet(1, PhyRate::Dsss1Mbps, &frame);
        let at = packet.len() - FCS_LEN - 1;
        packet[at] ^= 1;
        assert!(matches!(parse_packet(DataLink::IEEE802_11_RADIOTAP, &packet, 0, Fate::Delivered), Ok(Packet::BadFcs)));
        // Without the FCS flag there is nothing to check: the frame is taken as it is.
        let mut plain = radiotap_packet(1, PhyRate::Dsss1Mbps, &frame);
        plain[8] = 0;
        plain.truncate(plain.len() - FCS_LEN);
        assert!(matches!(
            parse_packet(DataLink::IEEE802_11_RADIOTAP, &plain, 0, Fate::Delivered),
            Ok(Packet::Frame(_))
        ));
        // The radio's own bad-FCS flag drops the frame too.
        let mut marked = radiotap_packet(1, PhyRate::Dsss1Mbps, &frame);
        marked[8] |= RADIOTAP_FLAG_BAD_FCS;
        assert!(matches!(parse_packet(DataLink::IEEE802_11_RADIOTAP, &marked, 0, Fate::Delivered), Ok(Packet::BadFcs)));
    }

    #[test]
    fn radiotap_flags_follow_tsft_and_chained_present_words() {
        // present: TSFT and flags, one more present word chained; TSFT aligned to 8.
        let mut header = vec![0, 0, 25, 0];
        header.extend_from_slice(&(0b11u32 | 1 << 31).to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&[0; 4]);
        header.extend_from_slice(&[0xaa; 8]);
        header.push(RADIOTAP_FLAG_FCS);
        assert_eq!(radiotap_flags(&header), Some(RADIOTAP_FLAG_FCS));
        assert_eq!(radiotap_flags(&[0, 0, 8, 0, 0, 0, 0, 0]), None);
        assert_eq!(radiotap_flags(&[0, 0, 4, 0]), None);
    }

    #[test]
    fn garbage_is_a_typed_error_and_foreign_frames_are_skipped() {
        assert!(matches!(read_capture(&b"nope, not a capture"[..]), Err(CaptureError::UnknownMagic(_))));
        assert!(read_capture(&b"ab"[..]).is_err());
        let mut beacon = action_frame(SRC, DST, 0, b"x").unwrap();
        beacon[0] = 0x80;
        assert_eq!(parse_action_frame(&beacon), None);
        let mut short = action_frame(SRC, DST, 0, b"xyz").unwrap();
        short.truncate(40);
        assert_eq!(parse_action_frame(&short), None);
    }
}
