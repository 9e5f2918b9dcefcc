//! One scenario run: the event loop that drives the stations built by
//! [`crate::setup`] until every sender finished or the time limit passed.

use std::sync::Arc;

use nowcam_app::{ReceiverNodeEvent, SenderNodeEvent};
use nowcam_ports::store::ImageStore;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::MacAddress;

use crate::engine::Station;
use crate::nodes::LegacyStation;
use crate::radio::SimRadio;
use crate::setup::{AppReceiver, AppSender, Prepared, SetupError};
use crate::verdict::{error_name, ImageResult, ReceivedImage, RunResult};

/// Virtual time the loop keeps running after the last sender finished, so
/// that frames still in flight (delays, held-back frames) land.
const GRACE: Duration = Duration::from_millis(200);

pub(crate) struct SenderStation {
    pub(crate) node: AppSender,
    pub(crate) name: String,
    pub(crate) outcomes: Vec<(ImageResult, Option<Instant>)>,
    pub(crate) image_count: usize,
}

pub(crate) struct ReceiverStation {
    pub(crate) node: AppReceiver,
    pub(crate) stored: Vec<(MacAddress, u32)>,
    pub(crate) read_buffer: Vec<u8>,
    pub(crate) keep_images: bool,
    pub(crate) kept: Vec<ReceivedImage>,
    /// Per source: the images it sends and how many were checked so far.
    pub(crate) expected: Vec<(MacAddress, Vec<Arc<[u8]>>, usize)>,
    pub(crate) corrupt: Vec<MacAddress>,
}

pub(crate) struct LegacySenderStation {
    pub(crate) node: LegacyStation,
    pub(crate) name: String,
    pub(crate) receiver: usize,
    pub(crate) image_count: usize,
}

pub(crate) enum SimStation {
    Sender(Box<SenderStation>),
    Receiver(Box<ReceiverStation>),
    Legacy(Box<LegacySenderStation>),
}

impl Station for SimStation {
    fn poll(&mut self, now: Instant) -> Option<Instant> {
        match self {
            SimStation::Sender(s) => {
                let next = s.node.poll(now);
                while let Some(event) = s.node.pop_event() {
                    match event {
                        SenderNodeEvent::TransferDone { finished, .. } => {
                            s.outcomes.push((ImageResult::ByteExact, Some(finished)))
                        }
                        SenderNodeEvent::TransferFailed { error, .. } => {
                            s.outcomes.push((ImageResult::Failed { error: error_name(error) }, Some(now)))
                        }
                        _ => {}
                    }
                }
                next
            }
            SimStation::Receiver(r) => {
                let next = r.node.poll(now);
                while let Some(event) = r.node.pop_event() {
                    if let ReceiverNodeEvent::ImageStored { source, info, .. } = event {
                        r.check(source, info.sequence, info.len);
                    }
                }
                next
            }
            SimStation::Legacy(l) => l.node.poll(now),
        }
    }

    fn radio(&self) -> &SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio(),
            SimStation::Receiver(r) => r.node.radio(),
            SimStation::Legacy(l) => l.node.radio(),
        }
    }

    fn radio_mut(&mut self) -> &mut SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio_mut(),
            SimStation::Receiver(r) => r.node.radio_mut(),
            SimStation::Legacy(l) => l.node.radio_mut(),
        }
    }
}

impl ReceiverStation {
    /// Reads a newly stored image back and compares it with the one its sender sent next.
    fn check(&mut self, source: MacAddress, sequence: u32, len: u32) {
        self.read_buffer.clear();
        self.read_buffer.resize(len as usize, 0);
        let mut offset = 0usize;
        while offset < self.read_buffer.len() {
            match self.node.store_mut().read_at(sequence, offset as u32, &mut self.read_buffer[offset..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => offset += n,
            }
        }
        let intact = offset == self.read_buffer.len();
        self.stored.push((source, sequence));
        let matched = match self.expected.iter_mut().find(|(address, _, _)| *address == source) {
            Some((_, images, next)) => {
                let expected = images.get(*next);
                *next += 1;
                intact && expected.is_some_and(|image| image[..] == self.read_buffer[..])
            }
            None => false,
        };
        if !matched {
            self.corrupt.push(source);
        }
        if self.keep_images {
            self.kept.push(ReceivedImage { source, bytes: self.read_buffer.clone() });
        }
    }
}

/// What to keep from a run beyond its counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Record every frame on the air.
    pub capture: bool,
    /// Keep the bytes of every image a receiver stored.
    pub keep_images: bool,
}

impl Prepared {
    /// Runs the scenario with one seed.
    pub fn run(&self, seed: u64, options: RunOptions) -> Result<RunResult, SetupError> {
        let mut engine = self.build(seed, options)?;
        let senders = self.images.len();
        let limit_ns = self.scenario.time_limit.as_micros().saturating_mul(1_000);
        engine.start();
        let mut finished_ns = None;
        let mut pending = senders;
        let mut done = vec![false; senders];
        loop {
            let stop_ns =
                finished_ns.map_or(limit_ns, |f: u64| f.saturating_add(GRACE.as_micros() * 1_000).min(limit_ns));
            let Some(polled) = engine.step(stop_ns) else { break };
            if polled < senders && !done[polled] && sender_finished(engine.station(polled)) {
                done[polled] = true;
                pending -= 1;
                if pending == 0 {
                    finished_ns = Some(engine.now_ns());
                }
            }
        }
        let end_ns = finished_ns.unwrap_or(limit_ns.max(engine.now_ns()));
        Ok(self.judge(seed, &mut engine, end_ns, options))
    }
}

fn sender_finished(station: &SimStation) -> bool {
    match station {
        SimStation::Sender(s) => s.outcomes.len() >= s.image_count,
        SimStation::Legacy(l) => l.node.finished_at().is_some(),
        SimStation::Receiver(_) => false,
    }
}
