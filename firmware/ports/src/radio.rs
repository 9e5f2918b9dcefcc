//! The ESP-NOW radio as the protocol sees it: frames of at most 1470 bytes
//! (v2; a radio may allow fewer, v1's 250) to
//! and from 6-byte addresses, a bounded transmit queue, a send report per
//! frame that tells whether the 802.11 MAC acknowledgement arrived, and a
//! PHY rate per peer ([`PhyRate`], [`Radio::set_rate`]).

use nowcam_proto::MacAddress;

/// The largest frame ESP-NOW v2 carries (`ESP_NOW_MAX_DATA_LEN_V2`): the
/// size of a buffer that holds any received frame. A radio configured for
/// smaller frames (ESP-NOW v1: 250 bytes) refuses longer sends with
/// [`SendError::FrameTooLong`].
pub const MAX_FRAME_LEN: usize = 1470;

/// The largest frame ESP-NOW v1 carries (`ESP_NOW_MAX_DATA_LEN`).
pub const V1_MAX_FRAME_LEN: usize = 250;

/// Names one accepted send, so that its report can be matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendHandle(pub u32);

/// The outcome of one send, as the MAC saw it.
///
/// `acknowledged == false` means the frame was lost, or it arrived and every
/// acknowledgement was lost: it is a hint, never proof of loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendReport {
    pub handle: SendHandle,
    pub acknowledged: bool,
}

/// A frame the radio received, copied into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Received {
    pub source: MacAddress,
    pub destination: MacAddress,
    pub len: usize,
    /// Signal strength in dBm, when the radio reports it.
    pub rssi: Option<i8>,
}

/// Why the radio refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// the transmit queue is full (ESP-NOW's `ESP_ERR_ESPNOW_NO_MEM`)
    QueueFull,
    /// the frame is longer than the radio's frame size
    FrameTooLong,
    /// the destination is not a registered peer and could not be added
    UnknownPeer,
    /// the radio driver failed
    Driver,
    /// the radio cannot do what was asked (set a PHY rate it has no control of)
    Unsupported,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SendError::QueueFull => "the transmit queue is full",
            SendError::FrameTooLong => "the frame is longer than the radio's frame size",
            SendError::UnknownPeer => "the destination is not a registered peer",
            SendError::Driver => "the radio driver failed",
            SendError::Unsupported => "the radio cannot do what was asked",
        })
    }
}

impl core::error::Error for SendError {}

/// The PHY rate ESP-NOW frames are sent at: the 802.11b/g/n rates of a
/// 20 MHz channel that esp-radio's `WifiPhyRate` offers (DSSS and CCK with
/// the long preamble, ERP-OFDM, HT MCS0 to MCS7 with the long guard
/// interval). What a frame costs at each rate is the link model's business
/// (`nowcam_link::airtime`); here a rate is only named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PhyRate {
    /// 1 Mbps DSSS, long preamble: the ESP-NOW default.
    #[default]
    Dsss1Mbps,
    /// 2 Mbps DSSS, long preamble.
    Dsss2Mbps,
    /// 5.5 Mbps CCK, long preamble.
    Cck5_5Mbps,
    /// 11 Mbps CCK, long preamble.
    Cck11Mbps,
    /// 6 Mbps ERP-OFDM.
    Ofdm6Mbps,
    /// 9 Mbps ERP-OFDM.
    Ofdm9Mbps,
    /// 12 Mbps ERP-OFDM.
    Ofdm12Mbps,
    /// 18 Mbps ERP-OFDM.
    Ofdm18Mbps,
    /// 24 Mbps ERP-OFDM.
    Ofdm24Mbps,
    /// 36 Mbps ERP-OFDM.
    Ofdm36Mbps,
    /// 48 Mbps ERP-OFDM.
    Ofdm48Mbps,
    /// 54 Mbps ERP-OFDM.
    Ofdm54Mbps,
    /// HT MCS0 (BPSK 1/2), 6.5 Mbps with the long guard interval.
    HtMcs0,
    /// HT MCS1 (QPSK 1/2), 13 Mbps.
    HtMcs1,
    /// HT MCS2 (QPSK 3/4), 19.5 Mbps.
    HtMcs2,
    /// HT MCS3 (16-QAM 1/2), 26 Mbps.
    HtMcs3,
    /// HT MCS4 (16-QAM 3/4), 39 Mbps.
    HtMcs4,
    /// HT MCS5 (64-QAM 2/3), 52 Mbps.
    HtMcs5,
    /// HT MCS6 (64-QAM 3/4), 58.5 Mbps.
    HtMcs6,
    /// HT MCS7 (64-QAM 5/6), 65 Mbps.
    HtMcs7,
}

impl PhyRate {
    /// Every rate: DSSS and CCK, then ERP-OFDM, then HT, each slowest first.
    pub const ALL: [PhyRate; 20] = [
        PhyRate::Dsss1Mbps,
        PhyRate::Dsss2Mbps,
        PhyRate::Cck5_5Mbps,
        PhyRate::Cck11Mbps,
        PhyRate::Ofdm6Mbps,
        PhyRate::Ofdm9Mbps,
        PhyRate::Ofdm12Mbps,
        PhyRate::Ofdm18Mbps,
        PhyRate::Ofdm24Mbps,
        PhyRate::Ofdm36Mbps,
        PhyRate::Ofdm48Mbps,
        PhyRate::Ofdm54Mbps,
        PhyRate::HtMcs0,
        PhyRate::HtMcs1,
        PhyRate::HtMcs2,
        PhyRate::HtMcs3,
        PhyRate::HtMcs4,
        PhyRate::HtMcs5,
        PhyRate::HtMcs6,
        PhyRate::HtMcs7,
    ];

    /// The rate in units of 500 kb/s, as radiotap's rate field carries it;
    /// `None` for HT rates, which radiotap gives in its MCS field instead.
    pub const fn radiotap_rate(self) -> Option<u8> {
        Some(match self {
            PhyRate::Dsss1Mbps => 2,
            PhyRate::Dsss2Mbps => 4,
            PhyRate::Cck5_5Mbps => 11,
            PhyRate::Cck11Mbps => 22,
            PhyRate::Ofdm6Mbps => 12,
            PhyRate::Ofdm9Mbps => 18,
            PhyRate::Ofdm12Mbps => 24,
            PhyRate::Ofdm18Mbps => 36,
            PhyRate::Ofdm24Mbps => 48,
            PhyRate::Ofdm36Mbps => 72,
            PhyRate::Ofdm48Mbps => 96,
            PhyRate::Ofdm54Mbps => 108,
            PhyRate::HtMcs0
            | PhyRate::HtMcs1
            | PhyRate::HtMcs2
            | PhyRate::HtMcs3
            | PhyRate::HtMcs4
            | PhyRate::HtMcs5
            | PhyRate::HtMcs6
            | PhyRate::HtMcs7 => return None,
        })
    }

    /// The HT MCS index of an HT rate.
    pub const fn mcs(self) -> Option<u8> {
        match self {
            PhyRate::HtMcs0 => Some(0),
            PhyRate::HtMcs1 => Some(1),
            PhyRate::HtMcs2 => Some(2),
            PhyRate::HtMcs3 => Some(3),
            PhyRate::HtMcs4 => Some(4),
            PhyRate::HtMcs5 => Some(5),
            PhyRate::HtMcs6 => Some(6),
            PhyRate::HtMcs7 => Some(7),
            _ => None,
        }
    }

    /// Data bits per 4 µs OFDM symbol (N_DBPS); `None` for DSSS and CCK.
    pub const fn data_bits_per_symbol(self) -> Option<u64> {
        Some(match self {
            PhyRate::Dsss1Mbps | PhyRate::Dsss2Mbps | PhyRate::Cck5_5Mbps | PhyRate::Cck11Mbps => return None,
            PhyRate::Ofdm6Mbps => 24,
            PhyRate::Ofdm9Mbps => 36,
            PhyRate::Ofdm12Mbps => 48,
            PhyRate::Ofdm18Mbps => 72,
            PhyRate::Ofdm24Mbps => 96,
            PhyRate::Ofdm36Mbps => 144,
            PhyRate::Ofdm48Mbps => 192,
            PhyRate::Ofdm54Mbps => 216,
            PhyRate::HtMcs0 => 26,
            PhyRate::HtMcs1 => 52,
            PhyRate::HtMcs2 => 78,
            PhyRate::HtMcs3 => 104,
            PhyRate::HtMcs4 => 156,
            PhyRate::HtMcs5 => 208,
            PhyRate::HtMcs6 => 234,
            PhyRate::HtMcs7 => 260,
        })
    }

    /// Whether this is an HT (802.11n) rate.
    pub const fn is_ht(self) -> bool {
        self.mcs().is_some()
    }

    /// Whether this is an OFDM rate, ERP-OFDM or HT (as opposed to DSSS or CCK).
    pub const fn is_ofdm(self) -> bool {
        self.data_bits_per_symbol().is_some()
    }

    /// The name used in scenario files and reports: the rate in Mbps, or `mcs0` to `mcs7`.
    pub const fn name(self) -> &'static str {
        match self {
            PhyRate::Dsss1Mbps => "1",
            PhyRate::Dsss2Mbps => "2",
            PhyRate::Cck5_5Mbps => "5.5",
            PhyRate::Cck11Mbps => "11",
            PhyRate::Ofdm6Mbps => "6",
            PhyRate::Ofdm9Mbps => "9",
            PhyRate::Ofdm12Mbps => "12",
            PhyRate::Ofdm18Mbps => "18",
            PhyRate::Ofdm24Mbps => "24",
            PhyRate::Ofdm36Mbps => "36",
            PhyRate::Ofdm48Mbps => "48",
            PhyRate::Ofdm54Mbps => "54",
            PhyRate::HtMcs0 => "mcs0",
            PhyRate::HtMcs1 => "mcs1",
            PhyRate::HtMcs2 => "mcs2",
            PhyRate::HtMcs3 => "mcs3",
            PhyRate::HtMcs4 => "mcs4",
            PhyRate::HtMcs5 => "mcs5",
            PhyRate::HtMcs6 => "mcs6",
            PhyRate::HtMcs7 => "mcs7",
        }
    }
}

impl core::fmt::Display for PhyRate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_ht() {
            f.write_str(self.name())
        } else {
            write!(f, "{} Mbps", self.name())
        }
    }
}

/// A PHY rate name that is not one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 or mcs0 to mcs7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownPhyRateError;

impl core::fmt::Display for UnknownPhyRateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "unknown phy rate, expected one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 (Mbps) or mcs0 to mcs7",
        )
    }
}

impl core::error::Error for UnknownPhyRateError {}

impl core::str::FromStr for PhyRate {
    type Err = UnknownPhyRateError;

    /// Parses the rate in Mbps, with an optional `Mbps` suffix: `"1"`, `"5.5 Mbps"`, `"54mbps"`,
    /// or an HT rate by its MCS: `"mcs7"`, `"MCS0"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let number = match s.len().checked_sub(4) {
            Some(cut) if s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case("mbps") => s[..cut].trim_end(),
            _ => s,
        };
        PhyRate::ALL.into_iter().find(|rate| rate.name().eq_ignore_ascii_case(number)).ok_or(UnknownPhyRateError)
    }
}

/// An ESP-NOW radio, polled: nothing here blocks or waits.
pub trait Radio {
    /// This station's own address.
    fn address(&self) -> MacAddress;

    /// Queues one frame for `destination`; [`MacAddress::BROADCAST`] sends without acknowledgement.
    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError>;

    /// The next report of a finished send, if any.
    fn poll_send_report(&mut self) -> Option<SendReport>;

    /// Copies the next received frame into `buffer`, if any.
    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received>;

    /// Whether [`Radio::receive`] may have a frame: `false` only when it
    /// surely has none, which spares the caller a frame buffer. The default
    /// does not know and says `true`.
    fn may_have_frames(&self) -> bool {
        true
    }

    /// The WiFi channel (1 to 14) the radio listens and sends on.
    fn channel(&self) -> u8;

    /// Moves to another channel; radios tied to an access point refuse.
    fn set_channel(&mut self, channel: u8) -> Result<(), SendError>;

    /// Sends the frames to `peer` handed over from now on at `rate`
    /// ([`MacAddress::BROADCAST`]: the broadcast frames), as esp-radio's
    /// `set_peer_rate` does; a frame already queued keeps the rate it was
    /// queued under where the radio can tell. Until this is called every
    /// frame goes at ESP-NOW's default, [`PhyRate::Dsss1Mbps`] (a simulated
    /// radio: its link's configured rate).
    ///
    /// The default refuses with [`SendError::Unsupported`]: a radio that
    /// cannot choose its rate says so rather than pretend, and its frames
    /// stay at its one rate.
    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        let _ = (peer, rate);
        Err(SendError::Unsupported)
    }
}
