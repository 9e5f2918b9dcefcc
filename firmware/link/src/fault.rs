//! On-device fault injection: a [`Radio`] wrapper that loses and duplicates
//! frames with the link model's loss and duplication, in the manner of
//! smoltcp's `FaultInjector`.
//!
//! Only the frame-by-frame features apply here: loss (of frames and of MAC
//! ACKs) and duplication. Reordering, delay, outages and airtime need the
//! simulator's clock and are ignored.

use nowcam_ports::radio::{PhyRate, Radio, Received, SendError, SendHandle, SendReport, MAX_FRAME_LEN};
use nowcam_ports::MacAddress;

use crate::config::{DirectionConfig, LinkConfigError};
use crate::direction::Direction;
use crate::link::DirectionCounters;
use crate::stream::{LossState, Stream};

/// Sends the inner radio may have in flight through the injector, twice the
/// ESP-NOW queue so that duplicates fit too.
const IN_FLIGHT: usize = 64;

/// Reports of frames the injector dropped, waiting to be polled.
const DROPPED_REPORTS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct InFlight {
    inner: SendHandle,
    /// The handle the caller holds; `None` for an injected duplicate, whose report nobody expects.
    outer: Option<SendHandle>,
    broadcast: bool,
}

#[derive(Debug, Clone)]
struct Side {
    config: DirectionConfig,
    stream: Stream,
    loss: LossState,
    counters: DirectionCounters,
}

impl Side {
    fn new(config: DirectionConfig, seed: u64, direction: Direction) -> Result<Side, LinkConfigError> {
        config.validate(direction)?;
        Ok(Side {
            config,
            stream: Stream::new(seed, direction),
            loss: LossState::default(),
            counters: DirectionCounters::default(),
        })
    }

    /// Draws (lost, duplicated) for one frame; both are drawn every time.
    fn next_fate(&mut self) -> (bool, bool) {
        let lost = self.loss.next_lost(&self.config.loss, &mut self.stream);
        let duplicate = self.stream.chance(self.config.duplicate);
        (lost, duplicate)
    }
}

/// A radio that loses and duplicates frames on their way out and in.
///
/// Outgoing frames use the stream and the errors' name of direction a->b,
/// incoming frames and the MAC ACKs of outgoing unicast frames those of b->a.
/// A frame dropped on the way out never reaches the inner radio; its report
/// says "not acknowledged" (unicast) or "acknowledged" (broadcast, as in
/// ESP-IDF). A lost ACK turns an acknowledged report into a failure, which is
/// what makes the application resend a frame that did arrive.
#[derive(Debug)]
pub struct FaultInjector<R: Radio> {
    radio: R,
    outgoing: Side,
    incoming: Side,
    in_flight: [Option<InFlight>; IN_FLIGHT],
    dropped_reports: [SendReport; DROPPED_REPORTS],
    dropped_head: usize,
    dropped_len: usize,
    held_duplicate: Option<(Received, [u8; MAX_FRAME_LEN])>,
    next_handle: u32,
}

impl<R: Radio> FaultInjector<R> {
    /// Wraps `radio`; `outgoing` and `incoming` are validated, and only their
    /// loss and duplication are used.
    pub fn new(
        radio: R,
        outgoing: DirectionConfig,
        incoming: DirectionConfig,
        seed: u64,
    ) -> Result<Self, LinkConfigError> {
        Ok(FaultInjector {
            radio,
            outgoing: Side::new(outgoing, seed, Direction::AToB)?,
            incoming: Side::new(incoming, seed, Direction::BToA)?,
            in_flight: [None; IN_FLIGHT],
            dropped_reports: [SendReport { handle: SendHandle(0), acknowledged: false }; DROPPED_REPORTS],
            dropped_head: 0,
            dropped_len: 0,
            held_duplicate: None,
            next_handle: 0,
        })
    }

    pub fn inner(&self) -> &R {
        &self.radio
    }

    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.radio
    }

    pub fn into_inner(self) -> R {
        self.radio
    }

    /// What happened to outgoing frames (`sent`, `lost`, `duplicated`, `delivered`).
    pub fn outgoing_counters(&self) -> DirectionCounters {
        self.outgoing.counters
    }

    /// What happened to incoming frames, and to the ACKs of outgoing ones (`acks_sent`, `acks_lost`).
    pub fn incoming_counters(&self) -> DirectionCounters {
        self.incoming.counters
    }

    fn allocate_handle(&mut self) -> SendHandle {
        let handle = SendHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        handle
    }

    fn free_slot(&self) -> Option<usize> {
        self.in_flight.iter().position(Option::is_none)
    }
}

impl<R: Radio> Radio for FaultInjector<R> {
    fn address(&self) -> MacAddress {
        self.radio.address()
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(SendError::FrameTooLong);
        }
        let broadcast = destination.is_broadcast();
        let (lost, duplicate) = self.outgoing.next_fate();
        if lost {
            if self.dropped_len == DROPPED_REPORTS {
                return Err(SendError::QueueFull);
            }
            let handle = self.allocate_handle();
            let tail = (self.dropped_head + self.dropped_len) % DROPPED_REPORTS;
            self.dropped_reports[tail] = SendReport { handle, acknowledged: broadcast };
            self.dropped_len += 1;
            self.outgoing.counters.sent += 1;
            self.outgoing.counters.lost += 1;
            self.outgoing.counters.lost_to_model += 1;
            return Ok(handle);
        }

        let slot = self.free_slot().ok_or(SendError::QueueFull)?;
        let inner = self.radio.send(destination, frame)?;
        let handle = self.allocate_handle();
        self.in_flight[slot] = Some(InFlight { inner, outer: Some(handle), broadcast });
        self.outgoing.counters.sent += 1;
        self.outgoing.counters.delivered += 1;
        // The duplicate is best effort: when the inner queue or the table is
        // full, the frame simply goes once.
        if duplicate {
            if let Some(slot) = self.free_slot() {
                if let Ok(inner) = self.radio.send(destination, frame) {
                    self.in_flight[slot] = Some(InFlight { inner, outer: None, broadcast });
                    self.outgoing.counters.duplicated += 1;
                }
            }
        }
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        if self.dropped_len > 0 {
            let report = self.dropped_reports[self.dropped_head];
            self.dropped_head = (self.dropped_head + 1) % DROPPED_REPORTS;
            self.dropped_len -= 1;
            return Some(report);
        }
        loop {
            let report = self.radio.poll_send_report()?;
            // A report for a send that did not go through the injector has no
            // handle the caller knows; it is passed over.
            let Some(slot) =
                self.in_flight.iter().position(|entry| entry.is_some_and(|entry| entry.inner == report.handle))
            else {
                continue;
            };
            let Some(entry) = self.in_flight[slot].take() else {
                continue;
            };
            let Some(handle) = entry.outer else {
                continue;
            };
            let mut acknowledged = report.acknowledged;
            if !entry.broadcast {
                let (ack_lost, _) = self.incoming.next_fate();
                if acknowledged {
                    self.incoming.counters.acks_sent += 1;
                    if ack_lost {
                        self.incoming.counters.acks_lost += 1;
                        acknowledged = false;
                    }
                }
            }
            return Some(SendReport { handle, acknowledged });
        }
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        if let Some((received, bytes)) = self.held_duplicate.take() {
            *buffer = bytes;
            return Some(received);
        }
        loop {
            let received = self.radio.receive(buffer)?;
            let (lost, duplicate) = self.incoming.next_fate();
            self.incoming.counters.sent += 1;
            if lost {
                self.incoming.counters.lost += 1;
                self.incoming.counters.lost_to_model += 1;
                continue;
            }
            self.incoming.counters.delivered += 1;
            if duplicate {
                self.incoming.counters.duplicated += 1;
                self.held_duplicate = Some((received, *buffer));
            }
            return Some(received);
        }
    }

    fn channel(&self) -> u8 {
        self.radio.channel()
    }

    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        self.radio.set_channel(channel)
    }

    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        self.radio.set_rate(peer, rate)
    }
}
