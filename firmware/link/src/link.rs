//! The link itself: given a frame and the time it is handed to the air, says
//! how long the exchange takes and what the receiver and the sender see.
//!
//! Sans-IO: the caller (the simulator's discrete-event loop) owns time and
//! queues; the link only decides.

use core::fmt;

use crate::airtime::{self, Backoff, PhyRate, MAX_PAYLOAD_LEN_V2};
use crate::config::{check_channel, LinkConfig, LinkConfigError, MacRetry};
use crate::direction::{Direction, Station};
use crate::error_rate;
use crate::stream::{LossState, Stream};

/// Why a send was refused before it reached the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkError {
    /// the payload is longer than the 250 bytes ESP-NOW carries
    FrameTooLong { len: usize },
    /// the transmit queue is full (ESP-NOW's `ESP_ERR_ESPNOW_NO_MEM`)
    QueueFull,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkError::FrameTooLong { len } => {
                write!(f, "the payload of {len} bytes is longer than the {MAX_PAYLOAD_LEN_V2} ESP-NOW v2 carries")
            }
            LinkError::QueueFull => f.write_str("the transmit queue is full"),
        }
    }
}

impl core::error::Error for LinkError {}

/// Why a frame did not arrive, for counters and capture comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DropReason {
    /// the sender and the receiver are on different channels
    ChannelMismatch,
    /// the frame was sent during a scheduled outage
    Outage,
    /// the direction's loss model dropped it
    LossModel,
    /// noise: the frame's rate and length at the direction's SNR
    Noise,
}

impl DropReason {
    /// A short name for traces.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::ChannelMismatch => "channel",
            DropReason::Outage => "outage",
            DropReason::LossModel => "loss",
            DropReason::Noise => "noise",
        }
    }
}

impl fmt::Display for DropReason {
    /// The text a capture comment carries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::ChannelMismatch => "dropped by channel mismatch",
            DropReason::Outage => "dropped by outage",
            DropReason::LossModel => "dropped by link model",
            DropReason::Noise => "dropped by noise",
        })
    }
}

/// One copy of a frame handed to the receiving application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Delivery {
    /// When it arrives, counted from the end of the exchange.
    pub delay_ns: u64,
    /// Whether this is the extra copy of the duplication model.
    pub duplicate: bool,
}

/// What became of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transmission {
    pub direction: Direction,
    /// The payload length.
    pub frame_len: usize,
    pub broadcast: bool,
    /// How long the exchange holds the air, every attempt included: the
    /// sender's next frame can start no earlier than `now + airtime_ns`.
    pub airtime_ns: u64,
    /// From `now` to the start of the last attempt's data frame, for capture timestamps.
    pub data_offset_ns: u64,
    /// Air attempts used (1 + MAC retries spent).
    pub attempts: u8,
    /// The copies the receiver gets: none, the frame, or the frame and a duplicate.
    pub copies: [Option<Delivery>; 2],
    /// Frame slots the receiver's copies are held back behind later frames (0: in order).
    pub hold_back_slots: u8,
    /// The sender's send status: the MAC ACK arrived. Always true for broadcast, as in ESP-IDF.
    pub acknowledged: bool,
    /// Why the frame did not arrive on its last attempt, when it never did.
    pub drop: Option<DropReason>,
    /// Why the ACK of a delivered unicast frame did not come back on the last attempt.
    pub ack_drop: Option<DropReason>,
}

impl Transmission {
    /// Whether the receiver got at least one copy.
    pub fn delivered(&self) -> bool {
        self.copies[0].is_some()
    }

    /// The copies the receiver gets, the original first. A duplicate usually
    /// arrives after the original, but not always: the original may hit a delay spike.
    pub fn deliveries(&self) -> impl Iterator<Item = Delivery> + '_ {
        self.copies.iter().flatten().copied()
    }
}

/// Writes nanoseconds as microseconds, with only the fraction digits needed: 2945.5us.
struct Micros(u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 1_000, self.0 % 1_000);
        if fraction == 0 {
            write!(f, "{whole}us")
        } else if fraction % 100 == 0 {
            write!(f, "{whole}.{}us", fraction / 100)
        } else if fraction % 10 == 0 {
            write!(f, "{whole}.{:02}us", fraction / 10)
        } else {
            write!(f, "{whole}.{fraction:03}us")
        }
    }
}

impl fmt::Display for Transmission {
    /// One line of a human-readable trace, for example
    /// `a->b unicast 250B air=2945.5us attempts=1 delivered(+0us) acked`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.broadcast { "broadcast" } else { "unicast" };
        write!(
            f,
            "{} {kind} {}B air={} attempts={}",
            self.direction,
            self.frame_len,
            Micros(self.airtime_ns),
            self.attempts
        )?;
        if let Some(reason) = self.drop {
            write!(f, " lost({})", reason.name())?;
        } else {
            f.write_str(" delivered(")?;
            for (index, copy) in self.deliveries().enumerate() {
                let separator = if index == 0 { "" } else { ", " };
                let label = if copy.duplicate { "dup " } else { "" };
                write!(f, "{separator}{label}+{}", Micros(copy.delay_ns))?;
            }
            f.write_str(")")?;
        }
        if self.hold_back_slots > 0 {
            write!(f, " held={}", self.hold_back_slots)?;
        }
        if self.broadcast {
            Ok(())
        } else if self.acknowledged {
            f.write_str(" acked")
        } else if let Some(reason) = self.ack_drop {
            write!(f, " no-ack(ack {})", reason.name())
        } else {
            f.write_str(" no-ack")
        }
    }
}

/// What happened in one direction so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DirectionCounters {
    /// Sends (calls of [`Link::transmit`]).
    pub sent: u64,
    /// Air attempts of data frames.
    pub attempts: u64,
    /// Sends that reached the receiver at least once.
    pub delivered: u64,
    /// Sends that never reached the receiver.
    pub lost: u64,
    /// Lost sends whose last attempt the loss model dropped.
    pub lost_to_model: u64,
    /// Lost sends whose last attempt was lost to noise (the direction's SNR).
    pub lost_to_noise: u64,
    /// Lost sends whose last attempt fell in an outage.
    pub lost_to_outage: u64,
    /// Lost sends that met a channel mismatch.
    pub lost_to_channel: u64,
    /// Sends delivered twice.
    pub duplicated: u64,
    /// Sends held back behind later frames.
    pub reordered: u64,
    /// MAC ACKs travelling this way (answers to frames of the other direction).
    pub acks_sent: u64,
    /// Of those, the ones that did not arrive.
    pub acks_lost: u64,
}

/// A counter of frames waiting for the air at one station, refusing the
/// one past the limit as ESP-NOW does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TxQueue {
    limit: usize,
    queued: usize,
}

impl TxQueue {
    /// An empty queue that holds at most `limit` frames.
    pub const fn new(limit: usize) -> Self {
        TxQueue { limit, queued: 0 }
    }

    /// Takes one more frame, or fails with [`LinkError::QueueFull`].
    pub fn try_push(&mut self) -> Result<(), LinkError> {
        if self.queued >= self.limit {
            return Err(LinkError::QueueFull);
        }
        self.queued += 1;
        Ok(())
    }

    /// Lets one frame go (its exchange finished); does nothing when empty.
    pub fn pop(&mut self) {
        self.queued = self.queued.saturating_sub(1);
    }

    pub const fn len(&self) -> usize {
        self.queued
    }

    pub const fn is_empty(&self) -> bool {
        self.queued == 0
    }

    pub const fn is_full(&self) -> bool {
        self.queued >= self.limit
    }

    pub const fn limit(&self) -> usize {
        self.limit
    }
}

#[derive(Debug, Clone)]
struct DirectionState {
    stream: Stream,
    loss: LossState,
    counters: DirectionCounters,
}

/// The ESP-NOW link between stations A and B, seeded.
///
/// Architecture Invariant: the link does no IO and reads no clock; every
/// random decision comes from the stream of the direction it concerns, so the
/// same seed and the same calls give the same trace.
#[derive(Debug, Clone)]
pub struct Link {
    config: LinkConfig,
    seed: u64,
    states: [DirectionState; 2],
}

impl Link {
    /// Validates `config` and sets up one random stream per direction from `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Result<Link, LinkConfigError> {
        config.validate()?;
        let state = |direction| DirectionState {
            stream: Stream::new(seed, direction),
            loss: LossState::default(),
            counters: DirectionCounters::default(),
        };
        Ok(Link { config, seed, states: [state(Direction::AToB), state(Direction::BToA)] })
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The counters of one direction.
    pub fn counters(&self, direction: Direction) -> DirectionCounters {
        self.states[direction.index()].counters
    }

    /// The long-run loss of one direction's model.
    pub fn mean_loss(&self, direction: Direction) -> f64 {
        self.config.direction(direction).mean_loss()
    }

    /// An empty transmit queue with the configured limit, one per station.
    pub fn tx_queue(&self) -> TxQueue {
        TxQueue::new(self.config.tx_queue_limit)
    }

    /// Changes the signal-to-noise ratio of one direction from now on (`None`:
    /// no loss to noise), as when a camera moves: a step the rate controller
    /// must follow. Refused outside [`crate::SNR_RANGE_DB`].
    pub fn set_snr(&mut self, direction: Direction, snr_db: Option<f64>) -> Result<(), LinkConfigError> {
        let mut settings = *self.config.direction(direction);
        settings.snr_db = snr_db;
        settings.validate(direction)?;
        *self.config.direction_mut(direction) = settings;
        Ok(())
    }

    /// Moves a station to another channel (1 to 14), as `Radio::set_channel` does.
    pub fn set_channel(&mut self, station: Station, channel: u8) -> Result<(), LinkConfigError> {
        check_channel(station, channel)?;
        match station {
            Station::A => self.config.channel_a = channel,
            Station::B => self.config.channel_b = channel,
        }
        Ok(())
    }

    /// Sends one frame of `frame_len` payload bytes in `direction`, handed to
    /// the air at `now_ns`.
    ///
    /// Each attempt draws a backoff and a loss decision from the sender's
    /// stream and, for unicast, an ACK loss decision from the reverse
    /// direction's stream, whether or not the data arrived: an attempt is a
    /// slot in both directions. So with [`MacRetry::Off`], how the other
    /// direction's channel evolves does not depend on this one's parameters. After the attempts come the duplication, reordering and
    /// delay draws, also made every time.
    pub fn transmit(
        &mut self,
        now_ns: u64,
        direction: Direction,
        frame_len: usize,
        broadcast: bool,
    ) -> Result<Transmission, LinkError> {
        self.transmit_at(now_ns, direction, frame_len, broadcast, self.config.phy_rate)
    }

    /// [`Link::transmit`] at `rate` rather than the configured one: the
    /// frame's airtime and its loss to noise follow `rate`; the ACK goes at
    /// the basic rate that answers it.
    pub fn transmit_at(
        &mut self,
        now_ns: u64,
        direction: Direction,
        frame_len: usize,
        broadcast: bool,
        rate: PhyRate,
    ) -> Result<Transmission, LinkError> {
        if frame_len > MAX_PAYLOAD_LEN_V2 {
            return Err(LinkError::FrameTooLong { len: frame_len });
        }
        let reverse = direction.reverse();
        let channels_match = self.config.channel_a == self.config.channel_b;
        let retry = if broadcast { MacRetry::Off } else { self.config.mac_retry };

        let mut elapsed = 0u64;
        let mut data_offset = 0u64;
        let mut attempts = 0u8;
        let mut delivered = false;
        let mut acknowledged = false;
        let mut drop = None;
        let mut ack_drop = None;

        // `attempt` counts from 0; the loop ends on an ACK, on a broadcast, or
        // when the retry policy gives up after `attempt` failed attempts.
        let mut attempt = 0u32;
        loop {
            if attempt > 0 && !retry.retries_after(attempt, elapsed) {
                break;
            }
            attempt += 1;
            attempts = attempts.saturating_add(1);
            let attempt = attempt - 1;
            let window = airtime::contention_window(attempt);
            let sender = &mut self.states[direction.index()];
            let sampled_slots = sender.stream.up_to(u64::from(window));
            let backoff_ns = match self.config.backoff {
                Backoff::Mean => airtime::mean_backoff_ns(attempt),
                Backoff::Sampled => sampled_slots * airtime::SLOT_NS,
            };
            elapsed += airtime::DIFS_NS + backoff_ns;
            data_offset = elapsed;
            let lost_to_model = sender.loss.next_lost(&self.config.direction(direction).loss, &mut sender.stream);
            // Drawn only with an SNR, so that the presets' draws stay as they were.
            let lost_to_noise = self.config.direction(direction).snr_db.is_some_and(|snr_db| {
                let intact = error_rate::frame_success_probability(rate, snr_db, airtime::frame_len(frame_len));
                sender.stream.unit() >= intact
            });
            sender.counters.attempts += 1;
            let data_drop = if !channels_match {
                Some(DropReason::ChannelMismatch)
            } else if self.config.outages.contains(now_ns.saturating_add(elapsed)) {
                Some(DropReason::Outage)
            } else if lost_to_model {
                Some(DropReason::LossModel)
            } else if lost_to_noise {
                Some(DropReason::Noise)
            } else {
                None
            };
            elapsed += airtime::data_frame_ns(rate, frame_len);
            drop = data_drop;
            delivered |= data_drop.is_none();
            if broadcast {
                break;
            }

            elapsed += airtime::SIFS_NS;
            let ack_start = now_ns.saturating_add(elapsed);
            let answerer = &mut self.states[reverse.index()];
            let ack_lost_to_model = answerer.loss.next_lost(&self.config.direction(reverse).loss, &mut answerer.stream);
            let ack_lost_to_noise = self.config.direction(reverse).snr_db.is_some_and(|snr_db| {
                let intact = error_rate::frame_success_probability(airtime::ack_rate(rate), snr_db, airtime::ACK_LEN);
                answerer.stream.unit() >= intact
            });
            elapsed += airtime::ack_ns(rate);
            if data_drop.is_some() {
                ack_drop = None;
                continue;
            }
            answerer.counters.acks_sent += 1;
            ack_drop = if self.config.outages.contains(ack_start) {
                Some(DropReason::Outage)
            } else if ack_lost_to_model {
                Some(DropReason::LossModel)
            } else if ack_lost_to_noise {
                Some(DropReason::Noise)
            } else {
                None
            };
            if ack_drop.is_some() {
                answerer.counters.acks_lost += 1;
            } else {
                acknowledged = true;
                break;
            }
        }
        // The MAC drops retransmissions it has already received, so a frame
        // that got through on an earlier attempt counts as delivered even if
        // the last attempt was lost.
        if delivered {
            drop = None;
        }

        let settings = *self.config.direction(direction);
        let sender = &mut self.states[direction.index()];
        let duplicate = sender.stream.chance(settings.duplicate);
        let held = sender.stream.chance(settings.reorder.probability);
        let slot_span = u64::from(settings.reorder.max_slots - settings.reorder.min_slots);
        let hold_slots = settings.reorder.min_slots + sender.stream.up_to(slot_span) as u8;
        let mut delay = || {
            let jitter = sender.stream.up_to(settings.delay.jitter_ns.saturating_mul(2));
            let spike = sender.stream.chance(settings.delay.spike_probability);
            // Validation keeps the jitter within the base, so this never goes below 0.
            let base = (settings.delay.base_ns - settings.delay.jitter_ns).saturating_add(jitter);
            if spike {
                base.saturating_add(settings.delay.spike_ns)
            } else {
                base
            }
        };
        let first_delay = delay();
        let second_delay = delay();

        sender.counters.sent += 1;
        let mut copies = [None, None];
        let mut hold_back_slots = 0;
        if delivered {
            sender.counters.delivered += 1;
            copies[0] = Some(Delivery { delay_ns: first_delay, duplicate: false });
            if duplicate {
                sender.counters.duplicated += 1;
                // The extra copy stands for a resend, which needs the air
                // once more and then has a delay of its own.
                let resend_ns = airtime::attempt_ns(rate, frame_len, broadcast, airtime::mean_backoff_ns(0));
                copies[1] = Some(Delivery { delay_ns: resend_ns.saturating_add(second_delay), duplicate: true });
            }
            if held {
                sender.counters.reordered += 1;
                hold_back_slots = hold_slots;
            }
        } else {
            sender.counters.lost += 1;
            match drop {
                Some(DropReason::ChannelMismatch) => sender.counters.lost_to_channel += 1,
                Some(DropReason::Outage) => sender.counters.lost_to_outage += 1,
                Some(DropReason::Noise) => sender.counters.lost_to_noise += 1,
                Some(DropReason::LossModel) | None => sender.counters.lost_to_model += 1,
            }
        }

        Ok(Transmission {
            direction,
            frame_len,
            broadcast,
            airtime_ns: elapsed,
            data_offset_ns: data_offset,
            attempts,
            copies,
            hold_back_slots,
            acknowledged: broadcast || acknowledged,
            drop,
            ack_drop: if acknowledged || broadcast { None } else { ack_drop },
        })
    }
}
