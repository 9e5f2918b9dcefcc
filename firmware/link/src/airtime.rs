//! How long ESP-NOW frames occupy the air, and the transfer lower bound the
//! benchmarks compare against.
//!
//! All durations are nanoseconds in a `u64`, so that half-microsecond
//! quantities such as the 67.5 µs mean backoff stay exact.
//!
//! What is assumed, beyond the numbers in `shared/ESPNOW-FACTS.md`:
//! - DSSS and CCK rates (1, 2, 5.5, 11 Mbps) use the long preamble: a 192 µs
//!   PLCP, then the MPDU at the data rate, rounded up to a whole microsecond as
//!   the 802.11b LENGTH field is.
//! - OFDM rates (6 to 54 Mbps) use ERP-OFDM timing at 2.4 GHz (IEEE 802.11-2020
//!   §17.4.3 and §18.5.2): 16 µs preamble, 4 µs SIGNAL, 4 µs symbols carrying
//!   16 service bits, the MPDU and 6 tail bits, then the 6 µs signal extension
//!   that ERP-OFDM adds after every frame:
//!   `T = 16 + 4 + 4 × ceil((16 + 8L + 6) / N_DBPS) + 6` µs.
//!   With SIFS at 10 µs this makes the 16 µs gap of 5 GHz OFDM.
//! - HT rates (MCS0 to MCS7) use the 802.11n mixed format (IEEE 802.11-2020
//!   §19.4.3), 20 MHz, one spatial stream, long guard interval, BCC: a 36 µs
//!   preamble (L-STF 8, L-LTF 8, L-SIG 4, HT-SIG 8, HT-STF 4, one HT-LTF 4),
//!   then 4 µs symbols as for ERP-OFDM with N_DBPS 26, 52, 78, 104, 156, 208,
//!   234 and 260, then the same 6 µs signal extension at 2.4 GHz:
//!   `T = 36 + 4 × ceil((16 + 8L + 6) / N_DBPS) + 6` µs.
//! - The MPDU of a payload of P bytes is `36 + 7 × max(1, ceil(P / 250)) + P`
//!   bytes: an ESP-NOW v2 body goes in vendor elements of at most 250 bytes,
//!   each with its own 7-byte header (`shared/ESPNOW-FACTS.md`, "Beyond v1 at
//!   1 Mbps", after ESP-IDF's "x = 1512 (1470 + 6 × 7)"); up to 250 bytes this
//!   is the v1 frame of `P + 43` bytes, and an empty payload still has its one
//!   element.
//! - SIFS is 10 µs at every rate (2.4 GHz); DIFS is the 28 µs and the backoff
//!   slot the 9 µs seen on the ESP32 (short slot: DIFS = SIFS + 2 slots).
//! - The contention window starts at 15 slots and doubles per retry up to
//!   1023, as in 802.11; the mean backoff is half the window.
//! - The MAC ACK goes at the highest basic rate not above the data rate, with
//!   the basic rate sets {1, 2} Mbps for DSSS/CCK and {6, 12, 24} Mbps for OFDM.
//! - A unicast attempt whose data or ACK is lost costs the same as one that
//!   succeeds: the sender waits out an ACK timeout of about SIFS + ACK.

use core::fmt;

pub use nowcam_ports::radio::{PhyRate, UnknownPhyRateError};

/// The largest ESP-NOW v1 payload (`ESP_NOW_MAX_DATA_LEN`).
pub const MAX_PAYLOAD_LEN: usize = 250;

/// The largest ESP-NOW v2 payload (`ESP_NOW_MAX_DATA_LEN_V2`).
pub const MAX_PAYLOAD_LEN_V2: usize = 1470;

/// Bytes an ESP-NOW v1 frame adds around its payload: MAC header 24, category 1,
/// OUI 3, random 4, vendor element header 7, FCS 4.
pub const FRAME_OVERHEAD_LEN: usize = 43;

/// Bytes every ESP-NOW frame has outside its vendor elements: MAC header 24,
/// category 1, OUI 3, random 4, FCS 4.
pub const FRAME_FIXED_LEN: usize = 36;

/// Header bytes of one vendor-specific element: id, length, OUI 3, type, version.
pub const ELEMENT_HEADER_LEN: usize = 7;

/// Body bytes one vendor-specific element carries at most.
pub const ELEMENT_BODY_LEN: usize = 250;

/// The MPDU length, FCS included, of an ESP-NOW frame carrying `payload_len`
/// bytes: `36 + 7 × max(1, ceil(payload_len / 250)) + payload_len`, so 293 for
/// 250 bytes and 1548 for 1470.
pub const fn frame_len(payload_len: usize) -> usize {
    let elements = payload_len.div_ceil(ELEMENT_BODY_LEN);
    let elements = if elements == 0 { 1 } else { elements };
    FRAME_FIXED_LEN + ELEMENT_HEADER_LEN * elements + payload_len
}

/// Length of an 802.11 ACK frame, FCS included.
pub const ACK_LEN: usize = 14;

/// Short interframe space at 2.4 GHz.
pub const SIFS_NS: u64 = 10_000;

/// DCF interframe space as seen on the ESP32.
pub const DIFS_NS: u64 = 28_000;

/// Backoff slot time as seen on the ESP32.
pub const SLOT_NS: u64 = 9_000;

/// Initial contention window, in slots.
pub const CW_MIN: u32 = 15;

/// Largest contention window, in slots.
pub const CW_MAX: u32 = 1023;

/// The rate the MAC ACK for a frame at this rate goes at: the highest
/// basic rate of the same modulation class not above this one; an HT
/// frame is answered at the highest ERP-OFDM basic rate not above it.
pub const fn ack_rate(rate: PhyRate) -> PhyRate {
    match rate {
        PhyRate::Dsss1Mbps => PhyRate::Dsss1Mbps,
        PhyRate::Dsss2Mbps | PhyRate::Cck5_5Mbps | PhyRate::Cck11Mbps => PhyRate::Dsss2Mbps,
        PhyRate::Ofdm6Mbps | PhyRate::Ofdm9Mbps | PhyRate::HtMcs0 => PhyRate::Ofdm6Mbps,
        PhyRate::Ofdm12Mbps | PhyRate::Ofdm18Mbps | PhyRate::HtMcs1 | PhyRate::HtMcs2 => PhyRate::Ofdm12Mbps,
        PhyRate::Ofdm24Mbps
        | PhyRate::Ofdm36Mbps
        | PhyRate::Ofdm48Mbps
        | PhyRate::Ofdm54Mbps
        | PhyRate::HtMcs3
        | PhyRate::HtMcs4
        | PhyRate::HtMcs5
        | PhyRate::HtMcs6
        | PhyRate::HtMcs7 => PhyRate::Ofdm24Mbps,
    }
}

/// Air time of one PPDU carrying an MPDU of `mpdu_len` bytes (FCS included).
pub const fn ppdu_ns(rate: PhyRate, mpdu_len: usize) -> u64 {
    let bits = 8 * mpdu_len as u64;
    match rate.data_bits_per_symbol() {
        Some(bits_per_symbol) => {
            let symbols = (16 + bits + 6).div_ceil(bits_per_symbol);
            let preamble_us = if rate.is_ht() { 36 } else { 16 + 4 };
            (preamble_us + 4 * symbols + 6) * 1_000
        }
        None => {
            // Microseconds = bits / Mbps = 2 × bits / (500 kb/s units), rounded up.
            let units = match rate {
                PhyRate::Dsss1Mbps => 2,
                PhyRate::Dsss2Mbps => 4,
                PhyRate::Cck5_5Mbps => 11,
                _ => 22,
            };
            (192 + (2 * bits).div_ceil(units)) * 1_000
        }
    }
}

/// How the random backoff before each attempt is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Backoff {
    /// Half the contention window, the figure the lower bound uses (67.5 µs on the first attempt).
    #[default]
    Mean,
    /// Uniform over 0 to the contention window in whole slots, drawn from the sender's stream.
    Sampled,
}

/// The contention window, in slots, before air attempt `attempt` (0 for the first).
pub const fn contention_window(attempt: u32) -> u32 {
    let shift = if attempt > 16 { 16 } else { attempt };
    let window = ((CW_MIN + 1) << shift) - 1;
    if window > CW_MAX {
        CW_MAX
    } else {
        window
    }
}

/// The mean backoff before air attempt `attempt`: half the contention window.
pub const fn mean_backoff_ns(attempt: u32) -> u64 {
    contention_window(attempt) as u64 * SLOT_NS / 2
}

/// Air time of an ESP-NOW data frame carrying `payload_len` bytes (v1 or v2,
/// see [`frame_len`]).
pub const fn data_frame_ns(rate: PhyRate, payload_len: usize) -> u64 {
    ppdu_ns(rate, frame_len(payload_len))
}

/// Air time of the MAC ACK answering a data frame sent at `rate`.
pub const fn ack_ns(rate: PhyRate) -> u64 {
    ppdu_ns(ack_rate(rate), ACK_LEN)
}

/// One air attempt with a given backoff: DIFS, backoff, data, and for unicast SIFS and the ACK.
pub const fn attempt_ns(rate: PhyRate, payload_len: usize, broadcast: bool, backoff_ns: u64) -> u64 {
    let sent = DIFS_NS + backoff_ns + data_frame_ns(rate, payload_len);
    if broadcast {
        sent
    } else {
        sent + SIFS_NS + ack_ns(rate)
    }
}

/// One unicast exchange with the mean first-attempt backoff: 2945.5 µs for a
/// 250-byte payload at 1 Mbps.
pub const fn exchange_ns(rate: PhyRate, payload_len: usize) -> u64 {
    attempt_ns(rate, payload_len, false, mean_backoff_ns(0))
}

/// What one broadcast frame costs a station sending back to back: DIFS, the
/// mean first backoff and the frame, or `send_overhead_ns` (the chip's
/// software cost per send, [`crate::CHIP_SEND_OVERHEAD_NS`]) where that is
/// longer, as the simulator spaces a station's sends. The camera's rate
/// controller weighs each rate by it, on the host and on the chip alike.
pub const fn broadcast_send_ns(rate: PhyRate, payload_len: usize, send_overhead_ns: u64) -> u32 {
    let air = attempt_ns(rate, payload_len, true, mean_backoff_ns(0));
    let cost = if air > send_overhead_ns { air } else { send_overhead_ns };
    if cost > u32::MAX as u64 {
        u32::MAX
    } else {
        cost as u32
    }
}

/// Why a lower bound could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LowerBoundError {
    /// the mean loss is not a number in [0, 1)
    MeanLossOutOfRange,
}

impl fmt::Display for LowerBoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LowerBoundError::MeanLossOutOfRange => f.write_str("the mean loss is not a number in [0, 1)"),
        }
    }
}

impl core::error::Error for LowerBoundError {}

/// The transfer lower bound at 1 Mbps: `ceil(S / 250)` frames, each costing
/// one 2945.5 µs exchange per attempt, each attempt lost with probability
/// `mean_loss`, so `N × 2945.5 µs / (1 − p)`, rounded to the nearest nanosecond.
pub fn lower_bound(image_bytes: u64, mean_loss: f64) -> Result<u64, LowerBoundError> {
    lower_bound_at(PhyRate::Dsss1Mbps, image_bytes, mean_loss)
}

/// [`lower_bound`] at another PHY rate.
pub fn lower_bound_at(rate: PhyRate, image_bytes: u64, mean_loss: f64) -> Result<u64, LowerBoundError> {
    lower_bound_with(rate, MAX_PAYLOAD_LEN, image_bytes, mean_loss)
}

/// [`lower_bound_at`] with frames of `frame_len` payload bytes (ESP-NOW v2
/// frames up to 1470; clamped to 1..=1470): `ceil(S / frame_len)` frames of
/// one exchange each.
pub fn lower_bound_with(
    rate: PhyRate,
    frame_len: usize,
    image_bytes: u64,
    mean_loss: f64,
) -> Result<u64, LowerBoundError> {
    if !(0.0..1.0).contains(&mean_loss) {
        return Err(LowerBoundError::MeanLossOutOfRange);
    }
    let frame_len = frame_len.clamp(1, MAX_PAYLOAD_LEN_V2);
    let frames = image_bytes.div_ceil(frame_len as u64);
    let ideal = frames as f64 * exchange_ns(rate, frame_len) as f64;
    // Adding one half then truncating rounds a positive value to the nearest
    // integer; `f64::round` is not in `core`.
    Ok((ideal / (1.0 - mean_loss) + 0.5) as u64)
}
