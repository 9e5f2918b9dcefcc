//! The discrete-event loop: a virtual clock in nanoseconds, an event queue,
//! one shared medium per WiFi channel, and a seeded link model per pair of
//! stations.
//!
//! A frame holds the air for its whole exchange (backoff, data, SIFS, ACK,
//! and every MAC retry); frames of every station on a channel queue behind
//! each other, so data and the receiver's status share the air as they do on
//! a half-duplex radio. A station has one send in flight: its next frame waits
//! for the send report of the one before.
//!
//! A frame reaches only the stations whose radio is tuned to the channel it
//! was sent on, at the moment it goes on the air. It lands in the receiving
//! radio's queue; a station that is still busy with its last poll (see
//! [`Station::take_busy_ns`]) reads it only when that work is done, and a
//! frame arriving at a full queue is dropped.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use nowcam_link::{airtime, Direction, Link, PhyRate, Station as LinkStation};
use nowcam_ports::radio::{Radio, SendReport};
use nowcam_proto::time::Instant;
use nowcam_proto::MacAddress;

use crate::capture::{CapturedFrame, Fate};
use crate::radio::{Frame, SimRadio};

/// A station the engine drives.
pub trait Station {
    /// Runs the station's state machine at `now`; returns when to call again
    /// if no frame or report arrives first.
    fn poll(&mut self, now: Instant) -> Option<Instant>;
    /// How long the last poll keeps the node busy, in nanoseconds: it reads
    /// no frame and no report before that time has passed. 0 by default.
    fn take_busy_ns(&mut self) -> u64 {
        0
    }
    fn radio(&self) -> &SimRadio;
    fn radio_mut(&mut self) -> &mut SimRadio;
}

/// Counters of everything that crossed the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct AirCounters {
    /// Frames put on the air (each broadcast once).
    pub frames_sent: u64,
    /// Frames (per destination) that did not arrive.
    pub frames_lost: u64,
    /// Extra copies delivered by the duplication model.
    pub frames_duplicated: u64,
    /// Sends refused with `QueueFull`.
    pub sends_refused: u64,
    /// Frames that arrived at a full receive queue (esp-radio's) and were dropped.
    pub frames_dropped_rx_queue: u64,
    /// Frames longer than the receiving radio takes (a v2 frame at a v1 radio), dropped.
    pub frames_dropped_too_long: u64,
    /// The longest frame put on the air, in bytes: the frame size a run used.
    pub largest_frame: u64,
}

/// Indices as `u32` and `u8`, so that an [`Event`] is 32 bytes: the queue
/// moves events on every push and pop.
#[derive(Debug, Clone, Copy)]
enum EventKind {
    /// A station's own deadline.
    Wake { station: u32 },
    /// The exchange of the frame at the head of `station`'s queue is over.
    AirFree { channel: u8, station: u32, acknowledged: bool },
    /// A copy of a frame reaches `station`.
    Deliver { slot: u32, station: u32 },
    /// A station in monitor mode hears a frame sent to someone else.
    Sniff { slot: u32, station: u32 },
}

struct Event {
    at_ns: u64,
    sequence: u64,
    kind: EventKind,
}

const _: () = assert!(std::mem::size_of::<Event>() <= 32);

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ns, self.sequence) == (other.at_ns, other.sequence)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    /// Reversed, so that the max-heap pops the earliest event; ties go to the one scheduled first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ns, other.sequence).cmp(&(self.at_ns, self.sequence))
    }
}

#[derive(Default)]
struct Medium {
    busy: bool,
    waiting: VecDeque<usize>,
}

struct Slot<S> {
    station: S,
    /// When the pending `Wake` event is due (`u64::MAX`: none).
    wake_at_ns: u64,
    /// Until when the station works through its last poll.
    busy_until_ns: u64,
    waiting_for_air: bool,
    /// Hears every frame on its channel (see [`Engine::set_hostile`]).
    monitor: bool,
    /// Goes on the air ahead of every other station waiting for it.
    priority: bool,
    /// The earliest time its next send may start: the chip's per-send
    /// software cost after the start of the last ([`Engine::set_send_overhead`]).
    next_send_ns: u64,
}

/// Which link and direction carry frames from one station to another.
#[derive(Clone, Copy)]
struct Route {
    link: usize,
    direction: Direction,
}

/// The simulation: stations, links between pairs of them, the air and the clock.
pub struct Engine<S> {
    now_ns: u64,
    sequence: u64,
    events: BinaryHeap<Event>,
    media: Vec<Medium>,
    stations: Vec<Slot<S>>,
    links: Vec<Link>,
    /// `routes[from * n + to]`.
    routes: Vec<Option<Route>>,
    in_transit: Vec<Option<Frame>>,
    free_transit: Vec<usize>,
    rate: PhyRate,
    send_overhead_ns: u64,
    counters: AirCounters,
    capture: Option<Vec<CapturedFrame>>,
}

const CHANNELS: usize = 15;

impl<S: Station> Engine<S> {
    /// Stations in the order given; `rate` is the PHY rate for frames between stations without a link.
    /// The chip's software cost per send (`LinkConfig::send_overhead_ns`):
    /// a station starts a frame no sooner than this after its last began.
    pub fn set_send_overhead(&mut self, overhead_ns: u64) {
        self.send_overhead_ns = overhead_ns;
    }

    pub fn new(stations: Vec<S>, rate: PhyRate) -> Engine<S> {
        let n = stations.len();
        Engine {
            now_ns: 0,
            sequence: 0,
            events: BinaryHeap::with_capacity(256),
            media: (0..CHANNELS).map(|_| Medium::default()).collect(),
            stations: stations
                .into_iter()
                .map(|station| Slot {
                    station,
                    wake_at_ns: u64::MAX,
                    busy_until_ns: 0,
                    waiting_for_air: false,
                    monitor: false,
                    priority: false,
                    next_send_ns: 0,
                })
                .collect(),
            links: Vec::new(),
            routes: vec![None; n * n],
            in_transit: Vec::with_capacity(64),
            free_transit: Vec::with_capacity(64),
            rate,
            send_overhead_ns: 0,
            counters: AirCounters::default(),
            capture: None,
        }
    }

    /// Connects station `a` (the link's A side) with station `b`.
    pub fn connect(&mut self, a: usize, b: usize, link: Link) {
        let n = self.stations.len();
        let index = self.links.len();
        self.links.push(link);
        self.routes[a * n + b] = Some(Route { link: index, direction: Direction::AToB });
        self.routes[b * n + a] = Some(Route { link: index, direction: Direction::BToA });
    }

    /// Makes station `index` a hostile one: its radio hears a copy of every
    /// frame sent on its channel (at the end of the frame's first attempt,
    /// whatever the link model does to it), and it takes the air ahead of
    /// the stations that wait for it, as a station ignoring the backoff
    /// rules would.
    pub fn set_hostile(&mut self, index: usize) {
        self.stations[index].monitor = true;
        self.stations[index].priority = true;
    }

    /// Records every frame on the air from now on.
    pub fn enable_capture(&mut self) {
        self.capture = Some(Vec::new());
    }

    /// The frames recorded since `enable_capture`, in time order.
    pub fn take_capture(&mut self) -> Vec<CapturedFrame> {
        let mut frames = self.capture.take().unwrap_or_default();
        frames.sort_by_key(|f| f.time_ns);
        frames
    }

    pub fn now(&self) -> Instant {
        Instant::from_micros(self.now_ns / 1_000)
    }

    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    pub fn counters(&self) -> AirCounters {
        let mut counters = self.counters;
        counters.sends_refused = self.stations.iter().map(|s| s.station.radio().refused()).sum();
        counters.frames_dropped_rx_queue = self.stations.iter().map(|s| s.station.radio().dropped()).sum();
        counters.frames_dropped_too_long = self.stations.iter().map(|s| s.station.radio().dropped_too_long()).sum();
        counters
    }

    pub fn station(&self, index: usize) -> &S {
        &self.stations[index].station
    }

    pub fn station_mut(&mut self, index: usize) -> &mut S {
        &mut self.stations[index].station
    }

    pub fn stations(&self) -> impl Iterator<Item = &S> {
        self.stations.iter().map(|s| &s.station)
    }

    pub fn link(&self, index: usize) -> &Link {
        &self.links[index]
    }

    /// Link `index`, to change it mid-run (an SNR step: [`Link::set_snr`]).
    pub fn link_mut(&mut self, index: usize) -> &mut Link {
        &mut self.links[index]
    }

    pub fn links(&self) -> impl Iterator<Item = &Link> {
        self.links.iter()
    }

    fn schedule(&mut self, at_ns: u64, kind: EventKind) {
        self.sequence += 1;
        self.events.push(Event { at_ns, sequence: self.sequence, kind });
    }

    /// Polls every station once at time zero.
    pub fn start(&mut self) {
        for index in 0..self.stations.len() {
            self.poll_station(index);
        }
    }

    /// Handles the next event if it is due no later than `limit_ns`; returns
    /// the index of the station that was polled, or `None` when nothing is left
    /// before the limit.
    pub fn step(&mut self, limit_ns: u64) -> Option<usize> {
        loop {
            let event = self.events.peek()?;
            if event.at_ns > limit_ns {
                return None;
            }
            let event = self.events.pop()?;
            self.now_ns = event.at_ns;
            match event.kind {
                EventKind::Wake { station } => {
                    let station = station as usize;
                    if self.stations[station].wake_at_ns != event.at_ns {
                        continue;
                    }
                    self.stations[station].wake_at_ns = u64::MAX;
                    self.poll_station(station);
                    return Some(station);
                }
                EventKind::AirFree { channel, station, acknowledged } => {
                    let (channel, station) = (usize::from(channel), station as usize);
                    let radio = self.stations[station].station.radio_mut();
                    radio.on_air = false;
                    if let Some(done) = radio.transmit.pop_front() {
                        radio.reports.push_back(SendReport { handle: done.handle, acknowledged });
                    }
                    self.media[channel].busy = false;
                    self.poll_station(station);
                    self.start_next(channel);
                    return Some(station);
                }
                EventKind::Sniff { slot, station } => {
                    let (slot, station) = (slot as usize, station as usize);
                    let frame = self.in_transit[slot].take().expect("a sniffed frame is in transit");
                    self.free_transit.push(slot);
                    self.stations[station].station.radio_mut().sniff(frame);
                    self.poll_station(station);
                    return Some(station);
                }
                EventKind::Deliver { slot, station } => {
                    let (slot, station) = (slot as usize, station as usize);
                    let frame = self.in_transit[slot].take().expect("a delivered frame is in transit");
                    self.free_transit.push(slot);
                    // A full queue drops the frame; the radio counts it.
                    self.stations[station].station.radio_mut().deliver(frame);
                    self.poll_station(station);
                    return Some(station);
                }
            }
        }
    }

    fn poll_station(&mut self, index: usize) {
        let now_us = self.now_ns / 1_000;
        let busy_until_ns = self.stations[index].busy_until_ns;
        if self.now_ns < busy_until_ns {
            // Still working through its last poll: it reads what arrived once done.
            self.wake_at(index, busy_until_ns);
        } else {
            let slot = &mut self.stations[index];
            let next = slot.station.poll(Instant::from_micros(now_us));
            let busy_ns = slot.station.take_busy_ns();
            if busy_ns > 0 {
                slot.busy_until_ns = self.now_ns + busy_ns;
                self.wake_at(index, self.now_ns + busy_ns);
            }
            if let Some(at) = next {
                // A deadline in the past means "as soon as possible": the next microsecond,
                // so that a station cannot stall the clock.
                let at_ns = at.as_micros().max(now_us + 1).saturating_mul(1_000);
                self.wake_at(index, at_ns);
            }
        }
        // The radio sends what is queued whether or not the node is busy,
        // once the chip's per-send cost since its last send has passed.
        let slot = &mut self.stations[index];
        if slot.station.radio().wants_air() && !slot.waiting_for_air && self.now_ns < slot.next_send_ns {
            let at = slot.next_send_ns;
            self.wake_at(index, at);
            return;
        }
        let slot = &mut self.stations[index];
        if slot.station.radio().wants_air() && !slot.waiting_for_air {
            slot.waiting_for_air = true;
            let channel = usize::from(slot.station.radio().channel()).min(CHANNELS - 1);
            if slot.priority {
                self.media[channel].waiting.push_front(index);
            } else {
                self.media[channel].waiting.push_back(index);
            }
            self.start_next(channel);
        }
    }

    /// Makes sure the station is polled no later than `at_ns`.
    fn wake_at(&mut self, index: usize, at_ns: u64) {
        if at_ns < self.stations[index].wake_at_ns {
            self.stations[index].wake_at_ns = at_ns;
            self.schedule(at_ns, EventKind::Wake { station: index as u32 });
        }
    }

    /// A place for a frame in transit.
    fn transit_slot(&mut self, frame: Frame) -> usize {
        match self.free_transit.pop() {
            Some(slot) => {
                self.in_transit[slot] = Some(frame);
                slot
            }
            None => {
                self.in_transit.push(Some(frame));
                self.in_transit.len() - 1
            }
        }
    }

    /// Puts the next waiting station's head frame on the air, if the air is free.
    fn start_next(&mut self, channel: usize) {
        if self.media[channel].busy {
            return;
        }
        let Some(from) = self.media[channel].waiting.pop_front() else {
            return;
        };
        self.stations[from].waiting_for_air = false;
        self.stations[from].next_send_ns = self.now_ns + self.send_overhead_ns;
        let radio = self.stations[from].station.radio_mut();
        let Some(head) = radio.transmit.front() else {
            return;
        };
        radio.on_air = true;
        let frame = head.frame.clone();
        self.media[channel].busy = true;

        let n = self.stations.len();
        let broadcast = frame.destination.is_broadcast();
        let len = frame.body().len();
        self.counters.largest_frame = self.counters.largest_frame.max(len as u64);
        // The frame's own rate where its radio set one; else the link's (the
        // run's rate), or the engine's between stations without a link.
        let own_rate = frame.rate;
        let engine_rate = own_rate.unwrap_or(self.rate);
        let mut airtime_ns = airtime::attempt_ns(engine_rate, len, broadcast, airtime::mean_backoff_ns(0));
        let mut frame_rate = engine_rate;
        let mut data_offset_ns = airtime::DIFS_NS + airtime::mean_backoff_ns(0);
        let mut acknowledged = broadcast;
        let mut any_delivered = false;
        let mut first = true;
        let mut matched = false;
        self.counters.frames_sent += 1;

        for to in 0..n {
            if to == from {
                continue;
            }
            let address = self.stations[to].station.radio().address();
            if !broadcast && address != frame.destination {
                continue;
            }
            matched = true;
            let Some(route) = self.routes[from * n + to] else {
                // No link between these two: a unicast uses the air and reaches no one;
                // a broadcast is simply not for that station.
                if !broadcast {
                    self.counters.frames_lost += 1;
                }
                continue;
            };
            // The link drops the frame (and, for unicast, every MAC retry) when the
            // receiving radio is not tuned to the channel the frame goes out on.
            let (sending_side, receiving_side) = match route.direction {
                Direction::AToB => (LinkStation::A, LinkStation::B),
                Direction::BToA => (LinkStation::B, LinkStation::A),
            };
            let receiving_channel = self.stations[to].station.radio().channel();
            let link = &mut self.links[route.link];
            if link.set_channel(sending_side, channel as u8).is_err()
                || link.set_channel(receiving_side, receiving_channel).is_err()
            {
                self.counters.frames_lost += 1;
                continue;
            }
            let link = &mut self.links[route.link];
            let rate = own_rate.unwrap_or(link.config().phy_rate);
            let Ok(transmission) = link.transmit_at(self.now_ns, route.direction, len, broadcast, rate) else {
                self.counters.frames_lost += 1;
                continue;
            };
            if first {
                frame_rate = rate;
                airtime_ns = transmission.airtime_ns;
                data_offset_ns = transmission.data_offset_ns;
                acknowledged = transmission.acknowledged;
                first = false;
            }
            if !transmission.delivered() {
                self.counters.frames_lost += 1;
            }
            let end_ns = self.now_ns + transmission.airtime_ns;
            let held_ns =
                u64::from(transmission.hold_back_slots) * airtime::exchange_ns(rate, airtime::MAX_PAYLOAD_LEN);
            for delivery in transmission.deliveries() {
                any_delivered = true;
                if delivery.duplicate {
                    self.counters.frames_duplicated += 1;
                }
                let slot = self.transit_slot(frame.clone());
                let at = end_ns + delivery.delay_ns + held_ns;
                self.schedule(at, EventKind::Deliver { slot: slot as u32, station: to as u32 });
                if delivery.duplicate {
                    if let Some(capture) = &mut self.capture {
                        capture.push(CapturedFrame {
                            time_ns: at,
                            source: frame.source,
                            destination: frame.destination,
                            body: frame.body().to_vec(),
                            fate: Fate::Duplicate,
                            rate: Some(rate),
                        });
                    }
                }
            }
        }
        for to in 0..n {
            let slot = &self.stations[to];
            if to == from || !slot.monitor || usize::from(slot.station.radio().channel()) != channel {
                continue;
            }
            let heard_at = self.now_ns + data_offset_ns + airtime::data_frame_ns(frame_rate, len);
            let transit = self.transit_slot(frame.clone());
            self.schedule(heard_at, EventKind::Sniff { slot: transit as u32, station: to as u32 });
        }
        if !broadcast && !matched {
            // A unicast to an address no station has: the MAC never hears an ACK.
            self.counters.frames_lost += 1;
        }
        if let Some(capture) = &mut self.capture {
            let fate = if any_delivered { Fate::Delivered } else { Fate::Dropped };
            capture.push(CapturedFrame {
                time_ns: self.now_ns + data_offset_ns,
                source: frame.source,
                destination: frame.destination,
                body: frame.body().to_vec(),
                fate,
                rate: Some(frame_rate),
            });
        }
        self.schedule(
            self.now_ns + airtime_ns,
            EventKind::AirFree { channel: channel as u8, station: from as u32, acknowledged },
        );
    }
}

/// The address of station `index` in a simulation: a locally administered, unicast MAC.
pub fn station_address(index: usize) -> MacAddress {
    let i = index as u32;
    MacAddress([0x02, 0x6e, 0x63, (i >> 16) as u8, (i >> 8) as u8, i as u8])
}
