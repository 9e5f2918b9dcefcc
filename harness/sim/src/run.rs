//! One scenario run: the event loop that drives the stations built by
//! [`crate::setup`] until every sender finished or the time limit passed,
//! reading every image a receiver stores back through the store's read path,
//! then handing what was sent and what was read back to [`crate::verdict`].

use nowcam_app::rate::AUTO_RATE_COUNT;
use nowcam_app::{ReceiverNodeEvent, SenderNodeEvent, AUTO_RATES};
use nowcam_link::{airtime, frame_success_probability, Direction};
use nowcam_ports::radio::Radio;
use nowcam_ports::store::ImageStore;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::MacAddress;

use crate::capture::CapturedFrame;
use crate::engine::{station_address, AirCounters, Engine, Station};
use crate::hostile::{HostileKind, HostileReport, HostileStation, KindCounts};
use crate::nodes::{receiver_busy_ns, LegacyStation};
use crate::power::{PowerReport, PowerState, BOOT_TIME};
use crate::radio::SimRadio;
use crate::setup::{AppReceiver, AppSender, Prepared, SetupError};
use crate::verdict::{
    attribute, error_name, judge_expectation, judge_image, ImageObservation, ImageRecord, ImageResult, ReadBack,
    SenderOutcome, SentImages,
};

/// What a sender reported about one image, and when (seconds into the run).
type Outcome = (SenderOutcome, Option<f64>);

/// Virtual time the loop keeps running after the last sender finished, so
/// that frames still in flight (delays, held-back frames) land.
const GRACE: Duration = Duration::from_millis(200);

/// How long a hostile station's replay may go on after the last sender
/// finished (flood senders keep its outbox busy for ever).
const REPLAY_BUDGET: Duration = Duration::from_secs(10);

/// The result of one run of one scenario with one seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub passed: bool,
    /// Why the run failed its expectation, empty when it passed.
    pub failures: Vec<String>,
    #[serde(flatten)]
    pub air: AirCounters,
    pub retransmissions: u64,
    pub images: Vec<ImageRecord>,
    /// From the start to the moment the last sender learned its last outcome.
    pub sim_time_s: f64,
    /// The airtime lower bound of every image delivered byte-exact, at the
    /// data direction's mean loss. With the rate chosen per chunk (`phy_rate_mbps
    /// = "auto"`) it is the bound at the best rate for the link: the smallest
    /// over the rates the controller chooses among, each with its frames'
    /// loss to noise at the data direction's SNR added to the mean loss.
    pub lower_bound_s: f64,
    /// `lower_bound_s / sim_time_s` (0 when nothing was bounded).
    pub efficiency: f64,
    /// Time the receivers' flash spent erasing for the images of the run:
    /// the erase-ahead before the run (the receivers start with slots
    /// erased, as after idling) and every erase up to the last image stored.
    pub flash_erase_s: f64,
    /// Time the receivers could not read frames because the flash was busy
    /// while a transfer was being received: page programs, and any erase a
    /// transfer had to wait for.
    pub flash_stall_s: f64,
    /// Unicast data-direction sends (sender to receiver) and their air
    /// attempts, MAC retries included: the chip's MAC repeats a frame until
    /// its ACK comes back, so a lost ACK costs attempts as a lost frame does.
    pub data_sends: u64,
    pub data_attempts: u64,
    /// MAC ACKs of delivered data frames that were lost on the way back.
    pub acks_lost: u64,
    /// Chunks sent at each rate by cameras that choose their rate (`phy_rate_mbps = "auto"`), in rate order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rates_used: Vec<RateUse>,
    /// The rate such a camera's controller held best at the end of the run (the first camera's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_rate: Option<String>,
    /// What a hostile station sent and what became of it; `None` without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostile: Option<HostileReport>,
    /// The power cuts tried and what they did; `None` without any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerReport>,
    #[serde(skip)]
    pub capture: Option<Vec<CapturedFrame>>,
    #[serde(skip)]
    pub received: Vec<ReceivedImage>,
}

/// Chunks sent at one rate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RateUse {
    /// The rate's name: Mbps, or `mcs0` to `mcs7`.
    pub rate: String,
    pub chunks: u64,
}

/// A change of the signal-to-noise ratio of every link, both directions, mid-run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnrStep {
    pub at: Duration,
    /// `None`: no loss to noise from then on.
    pub snr_db: Option<f64>,
}

/// An image a receiver stored, as read back from its store (kept only when asked for).
#[derive(Debug, Clone)]
pub struct ReceivedImage {
    pub source: MacAddress,
    pub bytes: Vec<u8>,
}

impl RunResult {
    pub fn images_byte_exact(&self) -> usize {
        self.images.iter().filter(|i| i.result == ImageResult::ByteExact).count()
    }
}

pub(crate) struct SenderStation {
    pub(crate) node: AppSender,
    pub(crate) name: String,
    pub(crate) outcomes: Vec<(SenderOutcome, Option<Instant>)>,
    pub(crate) image_count: usize,
}

pub(crate) struct ReceiverStation {
    pub(crate) node: AppReceiver,
    /// Every image the store committed, read back at once (the store keeps only the newest few).
    stored: Vec<ReceivedImage>,
    /// How long the last poll keeps the node busy: see [`receiver_busy_ns`].
    busy_ns: u64,
    /// Flash time charged while a transfer was being received.
    flash_stall_ns: u64,
    /// The flash's total erase time when the last image was stored.
    erase_ns_at_last_store: Option<u64>,
    /// Set when a hostile station is on the air: what the receiver did with its frames.
    pub(crate) watch: Option<Box<HostileWatch>>,
    /// Set when the scenario cuts this receiver's power.
    pub(crate) power: Option<Box<PowerSetup>>,
}

/// What a receiver needs to lose power and boot again.
pub(crate) struct PowerSetup {
    pub(crate) state: PowerState,
    pub(crate) config: nowcam_app::ReceiverNodeConfig,
    pub(crate) seed: u64,
    pub(crate) store_config: nowcam_store::Config,
}

/// What a receiver watches for while a hostile station is on the air.
pub(crate) struct HostileWatch {
    /// Per hostile kind: frames refused, ignored as duplicates, and taken.
    pub(crate) by_kind: [[u64; 3]; HostileKind::ALL.len()],
    /// The legitimate senders' addresses.
    pub(crate) legitimate: Vec<MacAddress>,
    /// Images committed during the run, per source.
    pub(crate) commits: Vec<(MacAddress, u64)>,
    /// The image stored before the run: its sequence and bytes.
    pub(crate) earlier: Option<(u32, Vec<u8>)>,
    /// Set when the earlier image left the store before the legitimate
    /// senders stored as many images as the store keeps.
    pub(crate) earlier_evicted_early: bool,
    /// The store's slots.
    pub(crate) slots: u16,
    pub(crate) peak_open_transfers: usize,
}

impl HostileWatch {
    fn legitimate_commits(&self) -> u64 {
        self.commits.iter().filter(|(source, _)| self.legitimate.contains(source)).map(|(_, n)| n).sum()
    }
}

pub(crate) struct LegacySenderStation {
    pub(crate) node: LegacyStation,
    pub(crate) name: String,
    pub(crate) image_count: usize,
}

pub(crate) enum SimStation {
    Sender(Box<SenderStation>),
    Receiver(Box<ReceiverStation>),
    Legacy(Box<LegacySenderStation>),
    Hostile(Box<HostileStation>),
}

impl Station for SimStation {
    fn poll(&mut self, now: Instant) -> Option<Instant> {
        match self {
            SimStation::Sender(s) => {
                let next = s.node.poll(now);
                while let Some(event) = s.node.pop_event() {
                    match event {
                        SenderNodeEvent::TransferDone { finished, .. } => {
                            s.outcomes.push((SenderOutcome::Delivered, Some(finished)))
                        }
                        SenderNodeEvent::TransferFailed { error, .. } => {
                            s.outcomes.push((SenderOutcome::Failed(error_name(error)), Some(now)))
                        }
                        _ => {}
                    }
                }
                next
            }
            SimStation::Receiver(r) => {
                let waiting = r.node.radio().waiting();
                let receiving = r.node.receiving();
                let before = r.node.store().flash().total();
                let erases_in_transfers = r.node.store().erases_in_transfers();
                let queued = r.node.radio().queued();
                let next = match r.watch.is_some() {
                    true => r.poll_watched(now),
                    false => r.node.poll(now),
                };
                if r.node.store().flash().inner().power_lost() {
                    // The power went in this poll: nothing it sent after that leaves the chip.
                    r.node.radio_mut().unsend(queued);
                }
                let read = waiting.saturating_sub(r.node.radio().waiting());
                let flash = r.node.store_mut().flash_mut().take_busy();
                let after = r.node.store().flash().total();
                r.busy_ns = receiver_busy_ns(read, flash);
                // Page programs while a transfer runs stall it; an erase does
                // when the transfer is still running after the poll, or had
                // to wait for it (a slot not erased ahead). Erase-ahead right
                // after the last chunk of a transfer, in the same poll, does not.
                let erased_in_transfer = erases_in_transfers != r.node.store().erases_in_transfers();
                let programming = after.programming - before.programming;
                let erasing = after.erasing - before.erasing;
                if receiving || r.node.receiving() {
                    r.flash_stall_ns += programming.as_micros() * 1_000;
                }
                if r.node.receiving() || erased_in_transfer {
                    r.flash_stall_ns += erasing.as_micros() * 1_000;
                }
                while let Some(event) = r.node.pop_event() {
                    if let ReceiverNodeEvent::ImageStored { source, info, .. } = event {
                        r.erase_ns_at_last_store = Some(before.erasing.as_micros() * 1_000);
                        r.read_back(source, info.sequence, info.len);
                        if let Some(watch) = &mut r.watch {
                            match watch.commits.iter_mut().find(|(s, _)| *s == source) {
                                Some((_, n)) => *n += 1,
                                None => watch.commits.push((source, 1)),
                            }
                        }
                    }
                }
                r.check_earlier_image();
                r.power_step();
                if r.busy_ns > 0 && r.node.radio().waiting() == 0 && r.power.is_some() {
                    // Booting: wake when it is done.
                    return Some(now + Duration::from_micros(r.busy_ns / 1_000));
                }
                next
            }
            SimStation::Legacy(l) => l.node.poll(now),
            SimStation::Hostile(h) => h.poll(now),
        }
    }

    fn take_busy_ns(&mut self) -> u64 {
        match self {
            SimStation::Receiver(r) => std::mem::take(&mut r.busy_ns),
            // A camera reads only status frames and reports; its work is small next to the air.
            SimStation::Sender(_) | SimStation::Legacy(_) | SimStation::Hostile(_) => 0,
        }
    }

    fn radio(&self) -> &SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio(),
            SimStation::Receiver(r) => r.node.radio(),
            SimStation::Legacy(l) => l.node.radio(),
            SimStation::Hostile(h) => h.radio(),
        }
    }

    fn radio_mut(&mut self) -> &mut SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio_mut(),
            SimStation::Receiver(r) => r.node.radio_mut(),
            SimStation::Legacy(l) => l.node.radio_mut(),
            SimStation::Hostile(h) => h.radio_mut(),
        }
    }
}

impl ReceiverStation {
    pub(crate) fn new(node: AppReceiver) -> ReceiverStation {
        ReceiverStation {
            node,
            stored: Vec::new(),
            busy_ns: 0,
            flash_stall_ns: 0,
            erase_ns_at_last_store: None,
            watch: None,
            power: None,
        }
    }

    /// Arms the next planned power cut when the transfer reaches it, and
    /// reboots the node when the flash has lost power.
    fn power_step(&mut self) {
        let Some(power) = &mut self.power else { return };
        if self.node.store().flash().inner().power_lost() {
            self.reboot();
            return;
        }
        let due = self.node.active_transfers().find_map(|(_, _, received, count)| power.state.due(received, count));
        if let Some(at) = due {
            let newest = self.node.store().newest();
            let newest =
                newest.and_then(|info| Some((info.sequence, self.read_image(info.sequence, info.len as usize)?)));
            if let Some(power) = &mut self.power {
                power.state.arm(self.node.store_mut().flash_mut().inner_mut(), at, newest);
            }
        }
    }

    /// Reboots the node on what the power cut left of its flash. Kept out
    /// of line: the new node is built on the stack, and a caller it were
    /// inlined into would probe that much stack on every poll.
    #[cold]
    #[inline(never)]
    fn reboot(&mut self) {
        let Some(power) = &mut self.power else { return };
        {
            let flash = self.node.store().flash().inner().after_reboot();
            let rebooted = flash.ok().and_then(|flash| {
                let flash = nowcam_store::TimedFlash::new(flash, self.node.store().flash().timing());
                let store = nowcam_store::Store::mount(flash, power.store_config).ok()?;
                let radio = SimRadio::new(
                    self.node.radio().address(),
                    self.node.radio().channel(),
                    crate::setup::NODE_CAPACITIES,
                );
                let telemetry = crate::nodes::FixedTelemetry::default();
                power.seed = crate::setup::mix(power.seed, 1);
                Some(nowcam_app::ReceiverNode::new(power.config, radio, store, telemetry, power.seed))
            });
            power.state.report.reboots += 1;
            power.state.armed = None;
            let Some(mut node) = rebooted else {
                power.state.report.lost_images += 1;
                return;
            };
            // The radio's queues and the frame on the air are the engine's;
            // what waited in the receive queue is lost with the power.
            std::mem::swap(node.radio_mut(), self.node.radio_mut());
            node.radio_mut().clear_received();
            self.node = node;
            self.busy_ns += BOOT_TIME.as_micros() * 1_000;
            let newest = self.node.store().newest().map(|info| info.sequence);
            let before = power.state.newest_before.take();
            let intact = match &before {
                None => newest.is_none(),
                Some((sequence, bytes)) => {
                    newest == Some(*sequence) && self.read_image(*sequence, bytes.len()).as_deref() == Some(bytes)
                }
            };
            if let Some(power) = &mut self.power {
                if !intact {
                    power.state.report.lost_images += 1;
                }
            }
        }
    }

    /// A committed image read back through the store, `None` when it reads short.
    fn read_image(&mut self, sequence: u32, len: usize) -> Option<Vec<u8>> {
        let mut bytes = vec![0u8; len];
        let mut offset = 0;
        while offset < len {
            match self.node.store_mut().read_at(sequence, offset as u32, &mut bytes[offset..]) {
                Ok(0) | Err(_) => return None,
                Ok(n) => offset += n,
            }
        }
        Some(bytes)
    }

    /// Polls the node with one received frame at a time, so that what it
    /// did with each hostile frame shows in its counters.
    fn poll_watched(&mut self, now: Instant) -> Option<Instant> {
        loop {
            self.node.radio_mut().reveal(Some(1));
            let before = self.node.stats().protocol;
            let next = self.node.poll(now);
            let after = self.node.stats().protocol;
            let origin = self.node.radio_mut().take_last_origin();
            let open = self.node.active_transfers().count();
            if let Some(watch) = &mut self.watch {
                watch.peak_open_transfers = watch.peak_open_transfers.max(open);
                if let Some(kind) = origin.and_then(HostileKind::from_tag) {
                    let outcome = if after.rejected > before.rejected {
                        0
                    } else if after.duplicates > before.duplicates {
                        1
                    } else {
                        2
                    };
                    watch.by_kind[usize::from(kind.tag() - 1)][outcome] += 1;
                }
            }
            if origin.is_none() || self.node.radio().waiting() == 0 {
                self.node.radio_mut().reveal(None);
                return next;
            }
        }
    }

    /// Notes when the image stored before the run leaves the store before
    /// legitimate images needed its slot.
    fn check_earlier_image(&mut self) {
        let Some(watch) = &mut self.watch else { return };
        let Some((sequence, _)) = &watch.earlier else { return };
        if watch.earlier_evicted_early {
            return;
        }
        let mut listed = [nowcam_ports::store::ImageInfo { sequence: 0, len: 0, crc32: 0 }; 16];
        let count = self.node.store().list(&mut listed);
        // The store keeps the images of all slots but those it erases ahead:
        // the earlier image may go once that many legitimate ones came.
        let kept = watch.slots.saturating_sub(nowcam_store::default_erase_ahead_slots(watch.slots));
        if !listed[..count].iter().any(|info| info.sequence == *sequence)
            && watch.legitimate_commits() < u64::from(kept)
        {
            watch.earlier_evicted_early = true;
        }
    }

    /// Whether the image stored before the run reads back unchanged (true when there is none).
    fn earlier_image_intact(&mut self) -> bool {
        let Some(watch) = &self.watch else { return true };
        let Some((sequence, bytes)) = watch.earlier.clone() else { return true };
        if watch.earlier_evicted_early {
            return false;
        }
        let mut listed = [nowcam_ports::store::ImageInfo { sequence: 0, len: 0, crc32: 0 }; 16];
        let count = self.node.store().list(&mut listed);
        if !listed[..count].iter().any(|info| info.sequence == sequence) {
            // Evicted, but only once legitimate images needed its slot.
            return true;
        }
        let mut read = vec![0u8; bytes.len()];
        let mut offset = 0;
        while offset < read.len() {
            match self.node.store_mut().read_at(sequence, offset as u32, &mut read[offset..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => offset += n,
            }
        }
        offset == bytes.len() && read == bytes
    }

    /// Reads a newly stored image back through the store's read path. A
    /// read that fails or ends early keeps what it got, so the verdict sees
    /// the wrong length.
    fn read_back(&mut self, source: MacAddress, sequence: u32, len: u32) {
        let mut bytes = vec![0; len as usize];
        let mut offset = 0usize;
        while offset < bytes.len() {
            match self.node.store_mut().read_at(sequence, offset as u32, &mut bytes[offset..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => offset += n,
            }
        }
        bytes.truncate(offset);
        self.stored.push(ReceivedImage { source, bytes });
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
        self.run_with_snr_steps(seed, options, &[])
    }

    /// [`Prepared::run`] with the SNR of every link changed at the given
    /// times (in order), as when a camera moves: each step applies at the
    /// first event at or after its time.
    pub fn run_with_snr_steps(
        &self,
        seed: u64,
        options: RunOptions,
        steps: &[SnrStep],
    ) -> Result<RunResult, SetupError> {
        let mut engine = self.build(seed, options)?;
        let mut steps = steps.iter().peekable();
        let senders = self.images.len();
        let limit_ns = self.scenario.time_limit.as_micros().saturating_mul(1_000);
        engine.start();
        let mut finished_ns = None;
        // When the last sender finished: the run's time. A replay may go on
        // after it (its frames must not change the store), for at most
        // REPLAY_BUDGET.
        let mut senders_done_ns: Option<u64> = None;
        let mut pending = senders;
        let mut done = vec![false; senders];
        loop {
            let stop_ns =
                finished_ns.map_or(limit_ns, |f: u64| f.saturating_add(GRACE.as_micros() * 1_000).min(limit_ns));
            while let Some(step) = steps.next_if(|step| engine.now_ns() >= step.at.as_micros().saturating_mul(1_000)) {
                for index in 0..engine.links().count() {
                    for direction in [Direction::AToB, Direction::BToA] {
                        engine.link_mut(index).set_snr(direction, step.snr_db).map_err(|e| SetupError::Link {
                            scenario: self.scenario.name.clone(),
                            message: e.to_string(),
                        })?;
                    }
                }
            }
            let Some(polled) = engine.step(stop_ns) else { break };
            if polled < senders && !done[polled] && sender_finished(engine.station(polled)) {
                done[polled] = true;
                pending -= 1;
            }
            // A hostile station's replay, once begun, is part of the run.
            if pending == 0 {
                let done_at = *senders_done_ns.get_or_insert(engine.now_ns());
                let in_budget = engine.now_ns() < done_at.saturating_add(REPLAY_BUDGET.as_micros() * 1_000);
                let replaying = in_budget
                    && self.hostile_index().is_some_and(|h| match engine.station(h) {
                        SimStation::Hostile(station) => station.busy(),
                        _ => false,
                    });
                if replaying {
                    finished_ns = None;
                } else if finished_ns.is_none() {
                    finished_ns = Some(engine.now_ns());
                }
            }
        }
        let end_ns = senders_done_ns.or(finished_ns).unwrap_or(limit_ns.max(engine.now_ns()));
        Ok(self.verdict(seed, &mut engine, end_ns, options))
    }

    /// Gathers what each sender reported and what each receiver read back, and has the verdict judge it.
    fn verdict(&self, seed: u64, engine: &mut Engine<SimStation>, end_ns: u64, options: RunOptions) -> RunResult {
        let scenario = &self.scenario;
        let seconds = |at: Instant| at.as_micros() as f64 / 1e6;
        let mut retransmissions = 0u64;
        let mut chunks_by_rate = [0u64; AUTO_RATE_COUNT];
        let mut final_rate = None;
        // Per sender: its station index, its name, and per image its outcome and when it learned it.
        let mut reported: Vec<(usize, &str, Vec<Outcome>)> = Vec::new();
        let mut received = Vec::new();
        let mut flash_erase_ns = 0u64;
        let mut flash_stall_ns = 0u64;
        let hostile = self.hostile_report(engine);
        let power = engine.stations().find_map(|station| match station {
            SimStation::Receiver(r) => r.power.as_ref().map(|p| p.state.report.clone()),
            _ => None,
        });
        for (index, station) in engine.stations().enumerate() {
            match station {
                SimStation::Sender(s) => {
                    retransmissions += u64::from(s.node.stats().retransmissions);
                    for (total, chunks) in chunks_by_rate.iter_mut().zip(s.node.chunks_by_rate()) {
                        *total += u64::from(chunks);
                    }
                    if final_rate.is_none() {
                        final_rate = s.node.rate_stats().map(|(_, best)| AUTO_RATES[best].name().to_string());
                    }
                    let outcomes: Vec<_> = (0..s.image_count)
                        .map(|k| s.outcomes.get(k).cloned().unwrap_or((SenderOutcome::Unfinished, None)))
                        .map(|(outcome, finished)| (outcome, finished.map(seconds)))
                        .collect();
                    reported.push((index, s.name.as_str(), outcomes));
                }
                SimStation::Legacy(l) => {
                    // The seed's sender hears no confirmation: it delivered what it finished sending.
                    retransmissions += l.node.retransmissions();
                    let outcomes: Vec<_> = (0..l.image_count)
                        .map(|k| {
                            let outcome = if k < l.node.images_sent() {
                                SenderOutcome::Delivered
                            } else {
                                SenderOutcome::Unfinished
                            };
                            let finished = (k + 1 == l.image_count).then(|| l.node.finished_at()).flatten();
                            (outcome, finished.map(seconds))
                        })
                        .collect();
                    reported.push((index, l.name.as_str(), outcomes));
                }
                SimStation::Receiver(r) => {
                    received.extend(r.stored.iter());
                    let total_ns = r.node.store().flash().total().erasing.as_micros() * 1_000;
                    flash_erase_ns += r.erase_ns_at_last_store.unwrap_or(total_ns);
                    flash_stall_ns += r.flash_stall_ns;
                }
                SimStation::Hostile(_) => {}
            }
        }
        let sent: Vec<SentImages> = reported
            .iter()
            .map(|(index, _, _)| SentImages {
                source: station_address(*index).0,
                images: self.images[*index].iter().map(|image| &image[..]).collect(),
            })
            .collect();
        let stored: Vec<ReadBack> =
            received.iter().map(|image| ReadBack { source: image.source.0, bytes: &image.bytes }).collect();
        let attribution = attribute(&sent, &stored);
        let mut images = Vec::new();
        for (((index, name, outcomes), sent), read) in reported.iter().zip(&sent).zip(&attribution.received) {
            for (k, (outcome, finished_s)) in outcomes.iter().enumerate() {
                images.push(judge_image(ImageObservation {
                    sender: name,
                    image: k,
                    sent: sent.images[k],
                    sent_sha256: self.images_sha256[*index].get(k).map(String::as_str),
                    outcome: outcome.clone(),
                    received: read[k],
                    finished_s: *finished_s,
                }));
            }
        }

        let sim_time_s = end_ns as f64 / 1e9;
        // Only delivered images are bounded: a refused offer has no transfer time to compare.
        let loss = self.link.a_to_b.mean_loss();
        let lower_bound_s = images
            .iter()
            .filter(|i| i.result == ImageResult::ByteExact)
            .map(|i| {
                // The bound of the frames the image's camera and receiver agreed on.
                let frame_len = scenario
                    .expanded_senders()
                    .find(|(name, _)| *name == i.sender)
                    .map(|(_, spec)| {
                        let receiver = scenario.receivers.get(spec.to).map_or(spec.frame_size, |r| r.frame_size);
                        usize::from(spec.frame_size.min(receiver))
                    })
                    .unwrap_or(airtime::MAX_PAYLOAD_LEN);
                if scenario.link.auto_rate {
                    // The best rate for the link: each candidate's frames also lost to noise.
                    let snr_db = self.link.a_to_b.snr_db;
                    AUTO_RATES
                        .iter()
                        .filter_map(|&rate| {
                            let intact = snr_db
                                .map_or(1.0, |snr| frame_success_probability(rate, snr, airtime::frame_len(frame_len)));
                            let rate_loss = 1.0 - (1.0 - loss) * intact;
                            airtime::lower_bound_with(rate, frame_len, i.bytes as u64, rate_loss).ok()
                        })
                        .min()
                        .unwrap_or(0)
                } else {
                    airtime::lower_bound_with(self.link.phy_rate, frame_len, i.bytes as u64, loss).unwrap_or(0)
                }
            })
            .sum::<u64>() as f64
            / 1e9;
        let efficiency = if sim_time_s > 0.0 && lower_bound_s > 0.0 { lower_bound_s / sim_time_s } else { 0.0 };
        let mut failures = attribution.failures();
        failures.extend(judge_expectation(&scenario.expect, scenario.time_limit, &images, sim_time_s, efficiency));
        if let Some(report) = &hostile {
            if report.illegitimate_commits > 0 {
                failures.push(format!(
                    "hostile: the receiver committed {} image(s) no legitimate transfer sent",
                    report.illegitimate_commits
                ));
            }
            if !report.earlier_image_intact {
                failures.push("hostile: the image stored before the run changed or was evicted early".into());
            }
        }
        if let Some(report) = &power {
            if report.lost_images > 0 {
                failures.push(format!(
                    "power: after {} of {} reboots the newest image was not the last one committed, intact",
                    report.lost_images, report.reboots
                ));
            }
            if report.reboots < report.planned as u64 {
                failures.push(format!("power: {} cuts planned, {} happened", report.planned, report.reboots));
            }
        }
        let received = if options.keep_images { received.into_iter().cloned().collect() } else { Vec::new() };
        RunResult {
            scenario: scenario.name.clone(),
            seed,
            passed: failures.is_empty(),
            failures,
            air: engine.counters(),
            retransmissions,
            images,
            sim_time_s,
            lower_bound_s,
            efficiency,
            flash_erase_s: flash_erase_ns as f64 / 1e9,
            flash_stall_s: flash_stall_ns as f64 / 1e9,
            data_sends: engine.links().map(|link| link.counters(Direction::AToB).sent).sum(),
            data_attempts: engine.links().map(|link| link.counters(Direction::AToB).attempts).sum(),
            acks_lost: engine.links().map(|link| link.counters(Direction::BToA).acks_lost).sum(),
            rates_used: AUTO_RATES
                .iter()
                .zip(chunks_by_rate)
                .filter(|(_, chunks)| *chunks > 0)
                .map(|(rate, chunks)| RateUse { rate: rate.name().to_string(), chunks })
                .collect(),
            final_rate,
            hostile,
            power,
            capture: options.capture.then(|| engine.take_capture()),
            received,
        }
    }
}

impl Prepared {
    /// Gathers the hostile station's counts and the receivers' watch.
    fn hostile_report(&self, engine: &mut Engine<SimStation>) -> Option<HostileReport> {
        let index = self.hostile_index()?;
        let SimStation::Hostile(station) = engine.station(index) else { return None };
        let sent = station.sent();
        let mut kinds: Vec<(HostileKind, KindCounts)> = HostileKind::ALL
            .iter()
            .zip(sent)
            .filter(|(_, sent)| *sent > 0)
            .map(|(kind, sent)| (*kind, KindCounts { sent, ..KindCounts::default() }))
            .collect();
        let mut illegitimate_commits = 0;
        let mut earlier_image_intact = true;
        let mut peak_open_transfers = 0;
        let mut contested_chunks = 0;
        let mut bad_crc_chunks = 0;
        let mut unannounced_chunks = 0;
        let (mut crc_mismatches, mut segments_repaired, mut chunks_repaired, mut transfers_failed) = (0, 0, 0, 0);
        for position in 0..engine.stations().count() {
            let station = engine.station_mut(position);
            for (kind, counts) in &mut kinds {
                let (arrived, dropped) = station.radio().origin_counts(kind.tag());
                counts.arrived += arrived;
                counts.dropped_queue_full += dropped;
            }
            if let SimStation::Receiver(r) = station {
                earlier_image_intact &= r.earlier_image_intact();
                let dropped = r.node.stats().protocol.dropped;
                contested_chunks += u64::from(dropped.contested);
                bad_crc_chunks += u64::from(dropped.bad_chunk_crc);
                unannounced_chunks += u64::from(dropped.unannounced);
                let protocol = r.node.stats().protocol;
                crc_mismatches += u64::from(protocol.crc_mismatches);
                segments_repaired += u64::from(protocol.segments_repaired);
                chunks_repaired += u64::from(protocol.chunks_repaired);
                transfers_failed += u64::from(protocol.failed);
                let Some(watch) = &r.watch else { continue };
                peak_open_transfers = peak_open_transfers.max(watch.peak_open_transfers);
                for (kind, counts) in &mut kinds {
                    let [rejected, duplicate, taken] = watch.by_kind[usize::from(kind.tag() - 1)];
                    counts.dropped_rejected += rejected;
                    counts.dropped_duplicate += duplicate;
                    counts.taken += taken;
                }
                for (source, commits) in &watch.commits {
                    if !watch.legitimate.contains(source) {
                        illegitimate_commits += commits;
                    } else {
                        // A legitimate sender's address with more images than it sent: replays.
                        let sent = engine_images_of(&self.images, *source);
                        illegitimate_commits += commits.saturating_sub(sent);
                    }
                }
            }
        }
        for (kind, counts) in &mut kinds {
            if *kind == HostileKind::ForgedStatus {
                // A status goes to the sender, which has no counters of its own for it.
                counts.taken = counts.arrived - counts.dropped_queue_full;
            }
        }
        Some(HostileReport {
            spec: self.scenario.hostile,
            kinds,
            illegitimate_commits,
            earlier_image_intact,
            peak_open_transfers,
            contested_chunks,
            bad_crc_chunks,
            unannounced_chunks,
            crc_mismatches,
            segments_repaired,
            chunks_repaired,
            transfers_failed,
        })
    }
}

/// How many images the sender at `source` sends in the run.
fn engine_images_of(images: &[Vec<std::sync::Arc<[u8]>>], source: MacAddress) -> u64 {
    images
        .iter()
        .enumerate()
        .find(|(index, _)| station_address(*index) == source)
        .map_or(0, |(_, list)| list.len() as u64)
}

fn sender_finished(station: &SimStation) -> bool {
    match station {
        SimStation::Sender(s) => s.outcomes.len() >= s.image_count,
        SimStation::Legacy(l) => l.node.finished_at().is_some(),
        SimStation::Receiver(_) | SimStation::Hostile(_) => false,
    }
}
