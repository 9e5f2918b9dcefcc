//! The camera: capture, offer, transfer, answer camera control, send telemetry.

use heapless::Deque;
use nowcam_ports::radio::{MAX_FRAME_LEN, V1_MAX_FRAME_LEN};
use nowcam_ports::{
    CaptureError, ControlError, FrameSource, Instant, MacAddress, Radio, SendError as RadioError, SendHandle,
    TelemetrySource,
};
use nowcam_proto::auth::{self, Authenticator, Direction};
use nowcam_proto::sender::{SendError, Sender, SenderConfig, SenderState, Transmit};
use nowcam_proto::time::Duration;
use nowcam_proto::wire::{
    self, AbortReason, ControlCommand, ControlRequestRepr, ControlResponseRepr, ControlStatus, Frame, FrameRepr,
    ProbeRepr, TelemetryRepr, PROBE_ROLE_FRAME_LEN,
};

use crate::random::SplitMix64;
use crate::rate::{RateMode, Rates, AUTO_RATE_COUNT};

/// Role byte of probe frames.
pub(crate) const ROLE_SENDER: u8 = 0;
pub(crate) const ROLE_RECEIVER: u8 = 1;

/// How a camera node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SenderNodeConfig {
    /// The receiver; `None` finds it by probing (and hopping channels when `hop_channels` is set).
    pub receiver: Option<MacAddress>,
    /// Try channels 1 to 13 in turn until a receiver answers a probe.
    pub hop_channels: bool,
    /// How long to wait for a probe reply on one channel; also the first gap between probes.
    pub probe_timeout: Duration,
    /// The longest gap between two probes. The gap starts at `probe_timeout`
    /// and doubles after every unanswered sweep (all 13 channels when
    /// hopping, one probe otherwise) up to this cap, so a camera with no
    /// receiver in range stops filling the air.
    pub probe_backoff_cap: Duration,
    /// A receiver found by probing counts as lost, and is looked for again,
    /// after this many frames to it in a row were not acknowledged...
    pub receiver_lost_frames: u32,
    /// ...over at least this long without any frame or acknowledgement from
    /// it. Longer than the outages a transfer rides out on its own, shorter
    /// than the transfer's deadline.
    pub receiver_lost_after: Duration,
    pub transfer: SenderConfig,
    /// Capture and send an image this often; `None` sends only when asked (control request or [`SenderNode::capture_now`]).
    pub capture_interval: Option<Duration>,
    /// Stop capturing after this many images (`None`: never stop).
    pub image_limit: Option<u32>,
    /// Pause between the end of one transfer and the next capture.
    pub pause_between_images: Duration,
    /// Send a telemetry frame this often; `None` never.
    pub telemetry_interval: Option<Duration>,
    /// After a receiver answers an offer with Busy (all its transfers taken),
    /// offer the same image again after this long, plus up to as much again
    /// at random so that refused cameras do not come back together.
    pub busy_backoff: Duration,
    /// Offers of one image refused as Busy before the transfer counts as failed.
    pub busy_retries: u32,
    /// Times a failed image (timed out, CRC mismatch after its repair rounds,
    /// store failure, receiver lost the session) is offered again under a
    /// new session, after `busy_backoff`, before it counts as failed. Offers
    /// the receiver refuses for the image itself (too large, bad offer) are
    /// not retried.
    pub image_retries: u32,
    /// Send data chunks (and first status requests) to the broadcast address rather than to the receiver.
    ///
    /// A broadcast frame has no MAC acknowledgement, so the MAC never resends
    /// it. A unicast chunk whose acknowledgement is lost (a frame in the
    /// other direction, lost as often as any other on the link model) is
    /// resent by the MAC although it arrived, up to the chip's retry limit:
    /// at 30 % loss each way an attempt succeeds with 0.7 × 0.7, so a chunk
    /// costs about two attempts where the data alone needs 1.4. The
    /// receiver's status bitmap already finds every lost chunk (selective
    /// repeat), so the MAC's retries buy nothing but airtime. The first
    /// status request after an answer is broadcast too; a repeated one goes
    /// to the receiver, whose MAC retries carry it through a burst of loss
    /// within milliseconds. Offers, telemetry and control frames stay unicast,
    /// and so does every frame of an image offered again after a failure
    /// (see `image_retries`): in the default mode a station that forges a
    /// chunk ahead of the real one wins when the real broadcast copy is lost,
    /// and the MAC's retries make that rare. Every node on the channel hears the
    /// chunks and drops them by session; ESP-NOW encryption (LMK) covers
    /// unicast frames only, so a deployment that relies on it sets this to
    /// `false` (the authenticated mode's tags cover both).
    pub broadcast_chunks: bool,
    /// The largest frame this camera's radio sends and takes: 250 for
    /// ESP-NOW v1, up to 1470 for v2. Above 250 the camera asks the receiver
    /// for its own largest frame (in its probes and offers) and cuts chunks
    /// to fill the smaller of the two (up to 1461 bytes); a receiver that
    /// does not answer (a v1 one) gets chunks of `transfer.chunk_size`.
    pub max_frame_len: u16,
    /// The PHY rate of the camera's frames: the radio's own (the default),
    /// a fixed one, or adapted per chunk (see [`crate::rate`]).
    pub rate: RateMode,
}

impl Default for SenderNodeConfig {
    fn default() -> Self {
        Self {
            receiver: None,
            hop_channels: true,
            probe_timeout: Duration::from_millis(30),
            probe_backoff_cap: Duration::from_millis(500),
            receiver_lost_frames: 16,
            receiver_lost_after: Duration::from_secs(3),
            transfer: SenderConfig::default(),
            capture_interval: Some(Duration::from_secs(10)),
            image_limit: None,
            pause_between_images: Duration::ZERO,
            telemetry_interval: Some(Duration::from_secs(5)),
            busy_backoff: Duration::from_millis(100),
            busy_retries: 100,
            image_retries: 2,
            broadcast_chunks: true,
            max_frame_len: V1_MAX_FRAME_LEN as u16,
            rate: RateMode::Radio,
        }
    }
}

/// What happened on a camera node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SenderNodeEvent {
    /// A receiver answered a probe.
    ReceiverFound { receiver: MacAddress, channel: u8 },
    /// The receiver stopped answering, or the radio left its channel: the
    /// transfer in progress (if any) failed, and probing starts again.
    ReceiverLost { receiver: MacAddress },
    /// A transfer began.
    TransferStarted { session: u32, len: u32 },
    /// The receiver confirmed the image.
    TransferDone { session: u32, len: u32, started: Instant, finished: Instant },
    /// The transfer failed.
    TransferFailed { session: u32, error: SendError },
    /// The camera could not capture.
    CaptureFailed(CaptureError),
    /// A camera-control request was applied or refused.
    Control { variable: nowcam_proto::wire::control::ControlVariable, status: ControlStatus },
}

/// Counters of a camera node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SenderNodeStats {
    pub frames_sent: u32,
    pub retransmissions: u32,
    pub queue_full: u32,
    pub images_sent: u32,
    pub images_failed: u32,
    /// Probes broadcast while looking for a receiver.
    pub probes_sent: u32,
    /// Times a found receiver was lost and looked for again.
    pub receivers_lost: u32,
    /// Failed images offered again (see `image_retries`).
    pub image_retries: u32,
    /// Probe replies and control requests dropped for a missing or wrong tag
    /// (transfer frames are counted in the transfer's own stats).
    pub dropped_auth: u32,
    /// Times the radio refused a PHY rate when asked (`Radio::set_rate`
    /// other than `Unsupported`): the frames went at the rate it had. A
    /// radio that sets each frame's rate later, as the chip's pump does,
    /// counts its own refusals (`radio::rate_set_failures` on the boards).
    pub rate_set_failures: u32,
}

/// How the node knows its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReceiverOrigin {
    /// Configured, or named through [`SenderNode::set_receiver`]: kept whatever happens.
    Set,
    /// Found by probing: looked for again when it stops answering.
    Discovered,
}

/// A camera node with a transfer capacity of `32 × WORDS` chunks (the default fits 512 KiB at 241-byte chunks).
pub struct SenderNode<R, F, T, const WORDS: usize = 68> {
    config: SenderNodeConfig,
    radio: R,
    source: F,
    telemetry: T,
    random: SplitMix64,
    receiver: Option<MacAddress>,
    /// How the receiver became known, and whether it can be lost.
    receiver_origin: ReceiverOrigin,
    /// The channel the radio was on when the receiver became known.
    receiver_channel: u8,
    /// The largest frame the receiver said it takes; 250 until it says.
    receiver_frame_len: u16,
    /// Frames to the receiver not acknowledged since its last answer.
    unanswered: u32,
    /// Status requests sent since the receiver's last answer: the first goes
    /// to the broadcast address, a repeated one to the receiver, so that the
    /// MAC's quick retries carry it through a burst of loss.
    polls_unanswered: u32,
    /// The last frame or acknowledgement from the receiver.
    last_answer: Instant,
    /// The probe in flight: its nonce and when it went out.
    probe: Option<(u32, Instant)>,
    /// When the next probe goes out; `None` sends one at the next poll.
    next_probe: Option<Instant>,
    /// The gap between probes, doubled after every unanswered sweep.
    probe_interval: Duration,
    /// Probes of the current sweep so far.
    probes_in_sweep: u8,
    /// The time of the last poll: what [`SenderNode::poll_at`] answers when the node should run at once.
    last_poll: Instant,
    transfer: Option<Sender<WORDS>>,
    transfer_started: Instant,
    /// The transfer's frames in the radio, each with whether it went to the broadcast address.
    transfer_handles: Deque<(SendHandle, bool), 32>,
    next_capture: Option<Instant>,
    capture_requested: bool,
    images_started: u32,
    next_telemetry: Option<Instant>,
    pending_replies: Deque<ControlResponseRepr, 4>,
    last_rssi: Option<i8>,
    events: Deque<SenderNodeEvent, 16>,
    stats: SenderNodeStats,
    started: Option<Instant>,
    /// When to offer the current image again: after a Busy answer, a failed
    /// attempt, or (once it is found again) a receiver lost mid-transfer.
    busy_retry: Option<Instant>,
    /// Busy answers to offers of the current image.
    busy_refusals: u32,
    /// Failed attempts of the current image that were retried.
    image_failures: u32,
    /// The session of a transfer whose receiver was lost, kept for a retry
    /// once the receiver is found, and when to give the image up if it is
    /// not (the transfer's own deadline).
    kept_for_receiver: Option<(u32, Instant)>,
    /// Tags and checks the node's own frames in the authenticated mode.
    authenticator: Option<Authenticator>,
    /// The rate controller (auto mode) and the rates set at the radio.
    rates: Rates,
}

impl<R: Radio, F: FrameSource, T: TelemetrySource, const WORDS: usize> SenderNode<R, F, T, WORDS> {
    pub fn new(config: SenderNodeConfig, radio: R, source: F, telemetry: T, seed: u64) -> Self {
        let channel = radio.channel();
        Self {
            config,
            radio,
            source,
            telemetry,
            random: SplitMix64::new(seed),
            receiver: config.receiver,
            receiver_origin: ReceiverOrigin::Set,
            receiver_channel: channel,
            receiver_frame_len: V1_MAX_FRAME_LEN as u16,
            unanswered: 0,
            polls_unanswered: 0,
            last_answer: Instant::ZERO,
            probe: None,
            next_probe: None,
            probe_interval: config.probe_timeout,
            probes_in_sweep: 0,
            last_poll: Instant::ZERO,
            transfer: None,
            transfer_started: Instant::ZERO,
            transfer_handles: Deque::new(),
            next_capture: None,
            capture_requested: false,
            images_started: 0,
            next_telemetry: None,
            pending_replies: Deque::new(),
            last_rssi: None,
            events: Deque::new(),
            stats: SenderNodeStats::default(),
            started: None,
            busy_retry: None,
            busy_refusals: 0,
            image_failures: 0,
            kept_for_receiver: None,
            authenticator: config.transfer.key.as_ref().map(Authenticator::new),
            rates: Rates::new(config.rate),
        }
    }

    pub fn radio(&self) -> &R {
        &self.radio
    }

    /// Takes the node apart, keeping its radio, frame source and telemetry source.
    pub fn into_parts(self) -> (R, F, T) {
        (self.radio, self.source, self.telemetry)
    }

    pub fn radio_mut(&mut self) -> &mut R {
        &mut self.radio
    }

    pub fn source(&self) -> &F {
        &self.source
    }

    /// The frame source, to load or prepare what the next capture returns.
    ///
    /// Changing the frame while a transfer reads it corrupts that transfer:
    /// check [`SenderNode::transfer`] first.
    pub fn source_mut(&mut self) -> &mut F {
        &mut self.source
    }

    pub fn receiver(&self) -> Option<MacAddress> {
        self.receiver
    }

    /// Names the receiver (`Some`), which the node then keeps, or forgets it
    /// (`None`), which starts probing again.
    ///
    /// A transfer to another receiver than the new one ends as cancelled.
    /// A receiver named here is never counted as lost: only one the node
    /// found by probing is looked for again.
    pub fn set_receiver(&mut self, receiver: Option<MacAddress>) {
        if receiver.is_some() && receiver == self.receiver {
            self.receiver_origin = ReceiverOrigin::Set;
            return;
        }
        self.abandon_transfer(SendError::Refused(AbortReason::Cancelled));
        self.receiver = receiver;
        self.receiver_origin = ReceiverOrigin::Set;
        self.receiver_channel = self.radio.channel();
        self.receiver_frame_len = V1_MAX_FRAME_LEN as u16;
        self.unanswered = 0;
        self.last_answer = self.last_poll;
        self.restart_discovery();
    }

    /// Captures and sends an image this often from now on (the first at the
    /// next poll), or only when asked (`None`). Setting the interval it
    /// already has changes nothing.
    pub fn set_capture_interval(&mut self, interval: Option<Duration>) {
        if interval == self.config.capture_interval {
            return;
        }
        self.config.capture_interval = interval;
        self.next_capture = None;
    }

    /// Whether the next poll captures a frame: a receiver is known, no
    /// transfer runs, and a capture is asked for or due.
    ///
    /// A board whose camera takes a while prepares the frame (through
    /// [`SenderNode::source_mut`]) when this is true, without blocking its
    /// executor, and then polls; the capture then only hands it over.
    pub fn capture_due(&self, now: Instant) -> bool {
        if self.receiver.is_none() || self.transfer.is_some() || self.busy_retry.is_some() {
            return false;
        }
        self.capture_requested || self.scheduled_capture_due(now)
    }

    fn scheduled_capture_due(&self, now: Instant) -> bool {
        let within_limit = self.config.image_limit.is_none_or(|limit| self.images_started < limit);
        let next = self.next_capture.unwrap_or(now);
        now >= next && within_limit && self.config.capture_interval.is_some()
    }

    pub fn stats(&self) -> SenderNodeStats {
        SenderNodeStats { rate_set_failures: self.rates.set_failures, ..self.stats }
    }

    /// What the rate controller knows of each of [`crate::rate::AUTO_RATES`]
    /// (auto mode), and its best rate's index.
    pub fn rate_stats(&self) -> Option<(&[nowcam_proto::rate::RateStats; AUTO_RATE_COUNT], usize)> {
        Some((self.rates.stats()?, self.rates.controller()?.best()))
    }

    /// Chunks sent at each of [`crate::rate::AUTO_RATES`] (auto mode; zeros otherwise).
    pub fn chunks_by_rate(&self) -> [u32; AUTO_RATE_COUNT] {
        self.rates.chunks()
    }

    /// The transfer in progress, if any.
    pub fn transfer(&self) -> Option<&Sender<WORDS>> {
        self.transfer.as_ref()
    }

    /// Whether every image asked for has been sent (or failed) and nothing is in progress.
    pub fn is_idle(&self) -> bool {
        self.transfer.is_none()
            && self.busy_retry.is_none()
            && !self.capture_requested
            && self.config.image_limit.is_some_and(|limit| self.images_started >= limit)
    }

    /// The next event, oldest first.
    pub fn pop_event(&mut self) -> Option<SenderNodeEvent> {
        self.events.pop_front()
    }

    /// Asks for a capture as soon as the current transfer ends.
    pub fn capture_now(&mut self) {
        self.capture_requested = true;
    }

    fn push_event(&mut self, event: SenderNodeEvent) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// Runs the node: reports, received frames, timers, transmissions. Returns when to call again.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        let started = *self.started.get_or_insert(now);
        self.last_poll = now;
        if self.next_capture.is_none() {
            self.next_capture = Some(now);
        }
        if self.next_telemetry.is_none() {
            self.next_telemetry = self.config.telemetry_interval.map(|interval| started + interval);
        }
        self.drain_reports(now);
        self.drain_frames(now);
        if let Some(transfer) = self.transfer.as_mut().filter(|_| self.rates.learns()) {
            self.rates.report(&transfer.take_rate_outcomes());
        }
        self.check_receiver(now);
        if self.receiver.is_none() {
            self.give_up_kept_image(now);
            self.discover(now);
        } else {
            self.kept_for_receiver = None;
            self.send_control_reply();
            self.send_telemetry(now);
            self.start_transfer(now);
            self.drive_transfer(now);
        }
        self.finish_transfer(now);
        self.poll_at()
    }

    fn drain_reports(&mut self, now: Instant) {
        while let Some(report) = self.radio.poll_send_report() {
            let position = self.transfer_handles.iter().position(|(handle, _)| *handle == report.handle);
            let broadcast =
                self.transfer_handles.iter().any(|(handle, broadcast)| *handle == report.handle && *broadcast);
            // Every frame of a known receiver is meant for it (probes stop
            // once it is known), so its reports tell whether it still hears
            // the camera. A broadcast chunk or poll is never acknowledged:
            // it counts as unanswered, until a frame from the receiver comes.
            if self.receiver.is_some() {
                if report.acknowledged && !broadcast {
                    self.answered(now);
                } else {
                    self.unanswered = self.unanswered.saturating_add(1);
                }
            }
            if let Some(position) = position {
                // Reports come in send order, so everything older is done as well.
                for _ in 0..=position {
                    self.transfer_handles.pop_front();
                }
                if let Some(transfer) = &mut self.transfer {
                    transfer.on_send_report(now, report.acknowledged);
                }
            }
        }
    }

    fn drain_frames(&mut self, now: Instant) {
        if !self.radio.may_have_frames() {
            return;
        }
        let mut buffer = [0u8; MAX_FRAME_LEN];
        while let Some(received) = self.radio.receive(&mut buffer) {
            let Some(bytes) = buffer.get(..received.len) else {
                continue;
            };
            let Ok(frame) = FrameRepr::parse_bytes(bytes) else {
                continue;
            };
            if received.rssi.is_some() {
                self.last_rssi = received.rssi;
            }
            // Probe replies and control requests are outside any transfer (nonce 0);
            // transfer frames are checked by the transfer itself.
            let own = matches!(frame, FrameRepr::ProbeReply(_) | FrameRepr::ControlRequest(_));
            if own && auth::check(self.authenticator.as_ref(), Direction::FromReceiver, 0, bytes).is_err() {
                self.stats.dropped_auth += 1;
                continue;
            }
            if self.receiver == Some(received.source) {
                self.answered(now);
            }
            match frame {
                // A reply to the probe in flight, while no receiver is known.
                FrameRepr::ProbeReply(reply)
                    if reply.role == ROLE_RECEIVER
                        && self.receiver.is_none()
                        && self.probe.is_some_and(|(nonce, _)| nonce == reply.nonce) =>
                {
                    let channel = self.radio.channel();
                    self.receiver_frame_len = Frame::new_checked(bytes)
                        .ok()
                        .and_then(|f| f.announced_frame_len())
                        .unwrap_or(V1_MAX_FRAME_LEN as u16);
                    self.receiver = Some(received.source);
                    self.receiver_origin = ReceiverOrigin::Discovered;
                    self.receiver_channel = channel;
                    self.answered(now);
                    self.probe = None;
                    self.next_probe = None;
                    self.push_event(SenderNodeEvent::ReceiverFound { receiver: received.source, channel });
                }
                FrameRepr::ProbeReply(_) => {}
                FrameRepr::ControlRequest(request) if Some(received.source) == self.receiver => {
                    self.handle_control(request);
                }
                _ if Some(received.source) == self.receiver => {
                    if let Some(transfer) = &mut self.transfer {
                        // Dropped frames are counted in the transfer's stats.
                        let _ = transfer.receive(now, bytes);
                        if let Some(len) = transfer.announced_frame_len() {
                            self.receiver_frame_len = len;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn handle_control(&mut self, request: ControlRequestRepr) {
        let (status, value) = match request.command {
            ControlCommand::Set => match self.source.set_control(request.variable, request.value) {
                Ok(()) => (ControlStatus::Ok, request.value),
                Err(ControlError::Unsupported) => (ControlStatus::Unsupported, 0),
                Err(ControlError::OutOfRange) => (ControlStatus::OutOfRange, 0),
                Err(ControlError::Sensor) => (ControlStatus::CameraError, 0),
            },
            ControlCommand::Get => match self.source.control(request.variable) {
                Some(value) => (ControlStatus::Ok, value),
                None => (ControlStatus::Unsupported, 0),
            },
            ControlCommand::CaptureNow => {
                self.capture_requested = true;
                (ControlStatus::Ok, 0)
            }
        };
        self.push_event(SenderNodeEvent::Control { variable: request.variable, status });
        let reply = ControlResponseRepr { request: request.request, status, variable: request.variable, value };
        // Past four unanswered requests the oldest reply is dropped: the receiver times it out.
        if self.pending_replies.is_full() {
            self.pending_replies.pop_front();
        }
        let _ = self.pending_replies.push_back(reply);
    }

    /// The receiver answered: a frame from it, or an acknowledgement of one to it.
    fn answered(&mut self, now: Instant) {
        self.unanswered = 0;
        self.polls_unanswered = 0;
        self.last_answer = now;
    }

    /// Forgets a receiver found by probing once it stops answering or the
    /// radio left its channel (a receiver that joined an access point moves
    /// to the access point's channel).
    fn check_receiver(&mut self, now: Instant) {
        let Some(receiver) = self.receiver else {
            return;
        };
        if self.receiver_origin != ReceiverOrigin::Discovered {
            return;
        }
        let moved = self.radio.channel() != self.receiver_channel;
        let silent = self.unanswered >= self.config.receiver_lost_frames
            && now.saturating_since(self.last_answer) >= self.config.receiver_lost_after;
        if !(moved || silent) {
            return;
        }
        let retry = self.image_failures < self.config.image_retries;
        if let Some(transfer) = self.transfer.take_if(|_| retry) {
            // The captured image waits for the receiver to be found again, and
            // then goes under a new session, as a retry of a failed image.
            let give_up_at = self.transfer_started + self.config.transfer.deadline;
            self.kept_for_receiver = Some((transfer.session(), give_up_at));
            self.transfer_handles.clear();
            self.image_failures += 1;
            self.stats.image_retries += 1;
            self.busy_retry = Some(now);
        } else {
            self.abandon_transfer(SendError::TimedOut);
        }
        self.receiver = None;
        self.unanswered = 0;
        self.stats.receivers_lost += 1;
        self.restart_discovery();
        self.push_event(SenderNodeEvent::ReceiverLost { receiver });
    }

    /// Gives up the image kept for a lost receiver once the transfer's
    /// deadline has passed without the receiver being found again.
    fn give_up_kept_image(&mut self, now: Instant) {
        let Some((session, give_up_at)) = self.kept_for_receiver else {
            return;
        };
        if now < give_up_at {
            return;
        }
        self.kept_for_receiver = None;
        self.busy_retry = None;
        self.stats.images_failed += 1;
        self.push_event(SenderNodeEvent::TransferFailed { session, error: SendError::TimedOut });
        let earliest = now + self.config.pause_between_images;
        self.next_capture = Some(self.next_capture.map_or(earliest, |at| at.max(earliest)));
    }

    /// Ends the transfer in progress, if any, as failed with `error`.
    fn abandon_transfer(&mut self, error: SendError) {
        let Some(transfer) = self.transfer.take() else {
            return;
        };
        self.transfer_handles.clear();
        self.stats.images_failed += 1;
        self.push_event(SenderNodeEvent::TransferFailed { session: transfer.session(), error });
    }

    /// Probing starts over: at once, on the current channel, at the shortest gap.
    fn restart_discovery(&mut self) {
        self.probe = None;
        self.next_probe = None;
        self.probe_interval = self.config.probe_timeout;
        self.probes_in_sweep = 0;
    }

    fn discover(&mut self, now: Instant) {
        if self.next_probe.is_some_and(|at| now < at) {
            return;
        }
        if self.probe.is_some() {
            // The last probe went unanswered: on to the next channel, and
            // after a whole sweep, twice the gap (up to the cap).
            let sweep = if self.config.hop_channels { 13 } else { 1 };
            self.probes_in_sweep += 1;
            if self.probes_in_sweep >= sweep {
                self.probes_in_sweep = 0;
                let cap = self.config.probe_backoff_cap.max(self.config.probe_timeout);
                self.probe_interval = Duration::from_micros(self.probe_interval.as_micros().saturating_mul(2)).min(cap);
            }
            if self.config.hop_channels {
                let next = self.radio.channel() % 13 + 1;
                let _ = self.radio.set_channel(next);
            }
        }
        let nonce = self.random.next_u32();
        self.probe = Some((nonce, now));
        self.next_probe = Some(now + self.probe_interval.max(self.config.probe_timeout));
        let mut buffer = [0u8; MAX_FRAME_LEN];
        let role = if self.asks_frame_len() { ROLE_SENDER | PROBE_ROLE_FRAME_LEN } else { ROLE_SENDER };
        let Some(len) = self.write(&FrameRepr::Probe(ProbeRepr { nonce, role }), &mut buffer) else {
            return;
        };
        self.rates.before_probe(&mut self.radio);
        if self.radio.send(MacAddress::BROADCAST, &buffer[..len]).is_ok() {
            self.stats.frames_sent += 1;
            self.stats.probes_sent += 1;
        }
    }

    /// Whether this camera takes frames larger than ESP-NOW v1's, and so asks the receiver for its size.
    fn asks_frame_len(&self) -> bool {
        usize::from(self.config.max_frame_len) > V1_MAX_FRAME_LEN
    }

    /// The largest frame both this camera and its receiver take.
    pub fn frame_len(&self) -> usize {
        usize::from(self.config.max_frame_len.min(self.receiver_frame_len)).clamp(V1_MAX_FRAME_LEN, MAX_FRAME_LEN)
    }

    /// Writes one of the node's own frames, tagged in the authenticated mode.
    fn write(&self, frame: &FrameRepr<'_>, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
        let len = frame.emit(buffer).ok()?;
        match &self.authenticator {
            Some(authenticator) => authenticator.seal(Direction::FromCamera, 0, buffer, len).ok(),
            None => Some(len),
        }
    }

    fn send_frame(&mut self, frame: &FrameRepr<'_>) -> Result<SendHandle, RadioError> {
        let receiver = self.receiver.ok_or(RadioError::UnknownPeer)?;
        let mut buffer = [0u8; MAX_FRAME_LEN];
        let len = self.write(frame, &mut buffer).ok_or(RadioError::FrameTooLong)?;
        self.rates.before_frame(&mut self.radio, receiver, self.polls_unanswered > 0);
        let handle = self.radio.send(receiver, &buffer[..len])?;
        self.stats.frames_sent += 1;
        Ok(handle)
    }

    fn send_control_reply(&mut self) {
        while let Some(reply) = self.pending_replies.front().copied() {
            if self.send_frame(&FrameRepr::ControlResponse(reply)).is_err() {
                break;
            }
            self.pending_replies.pop_front();
        }
    }

    fn send_telemetry(&mut self, now: Instant) {
        let (Some(at), Some(interval)) = (self.next_telemetry, self.config.telemetry_interval) else {
            return;
        };
        if now < at {
            return;
        }
        let sample = self.telemetry.sample();
        let started = self.started.unwrap_or(now);
        let telemetry = TelemetryRepr {
            uptime_ms: now.saturating_since(started).as_millis(),
            free_heap_bytes: sample.free_heap_bytes,
            chip_temperature_centi_celsius: sample.chip_temperature_centi_celsius,
            rssi: self.last_rssi,
            frames_sent: self.stats.frames_sent,
            retransmissions: self.stats.retransmissions,
        };
        // A full queue only delays telemetry to the next interval.
        let _ = self.send_frame(&FrameRepr::Telemetry(telemetry));
        self.next_telemetry = Some(now + interval);
    }

    fn start_transfer(&mut self, now: Instant) {
        if self.transfer.is_some() {
            return;
        }
        if let Some(at) = self.busy_retry {
            if now >= at {
                // The same captured image, under a new session.
                self.busy_retry = None;
                self.offer_frame(now);
            }
            return;
        }
        if !(self.scheduled_capture_due(now) || self.capture_requested) {
            return;
        }
        let captured = self.source.capture();
        if captured == Err(CaptureError::NotReady) {
            // The camera is still at it: ask again at once, as if requested.
            self.capture_requested = true;
            return;
        }
        self.capture_requested = false;
        self.images_started += 1;
        self.busy_refusals = 0;
        self.image_failures = 0;
        self.next_capture = self.config.capture_interval.map(|interval| now + interval);
        if let Err(error) = captured {
            self.stats.images_failed += 1;
            self.push_event(SenderNodeEvent::CaptureFailed(error));
            return;
        }
        self.offer_frame(now);
    }

    /// Starts a transfer of the captured frame under a new session.
    fn offer_frame(&mut self, now: Instant) {
        let session = self.random.next_u32();
        // An image offered again after a failure announces its chunk CRCs:
        // in the default mode a forged chunk whose real copy was lost can
        // only be kept out that way (the first try relies on the hold-back).
        let mut transfer_config = self.config.transfer;
        transfer_config.chunk_crcs |= self.image_failures > 0;
        transfer_config.ask_frame_len = self.asks_frame_len();
        let frame_len = self.frame_len();
        if frame_len > V1_MAX_FRAME_LEN {
            transfer_config.chunk_size = wire::chunk_payload_for(frame_len, false) as u16;
        }
        self.rates.set_frame_len(frame_len);
        match Sender::new(transfer_config, session, self.source.frame(), now) {
            Ok(transfer) => {
                let len = transfer.offer().image_len;
                self.transfer = Some(transfer);
                self.transfer_started = now;
                self.transfer_handles.clear();
                self.push_event(SenderNodeEvent::TransferStarted { session, len });
            }
            Err(error) => {
                self.stats.images_failed += 1;
                self.push_event(SenderNodeEvent::TransferFailed { session, error });
            }
        }
    }

    fn drive_transfer(&mut self, now: Instant) {
        let Some(receiver) = self.receiver else {
            return;
        };
        let Some(transfer) = &mut self.transfer else {
            return;
        };
        let mut buffer = [0u8; MAX_FRAME_LEN];
        while !self.transfer_handles.is_full() {
            // Per frame: a chunk's pick may fold outcomes and change the best rate.
            transfer.set_poll_interval(self.rates.poll_interval(self.config.transfer.poll_interval));
            let Some((len, transmit)) = transfer.poll_transmit(now, self.source.frame(), &mut buffer) else {
                break;
            };
            // A retried image goes unicast: its failure may come from a
            // forger that beat a lost broadcast copy (of the chunk CRCs as
            // well), which the MAC's retries make rare. The chunk CRCs
            // themselves always go unicast: a lost one costs a window of
            // chunks, and they are 3.5 % of the frames.
            let broadcast = self.config.broadcast_chunks
                && self.image_failures == 0
                && match transmit {
                    Transmit::Chunk { .. } => true,
                    Transmit::StatusRequest { .. } => self.polls_unanswered == 0,
                    _ => false,
                };
            let destination = if broadcast { MacAddress::BROADCAST } else { receiver };
            let mut chunk_rate = None;
            if matches!(transmit, Transmit::Chunk { .. }) {
                chunk_rate = self.rates.before_chunk(&mut self.radio, destination, now);
                if let Some(rate) = chunk_rate {
                    transfer.note_rate(rate);
                }
            } else {
                let robust = self.polls_unanswered > 0 || matches!(transmit, Transmit::Offer | Transmit::Abort);
                self.rates.before_frame(&mut self.radio, destination, robust);
            }
            match self.radio.send(destination, &buffer[..len]) {
                Ok(handle) => {
                    if let Some(rate) = chunk_rate {
                        self.rates.chunk_sent(rate);
                    }
                    let _ = self.transfer_handles.push_back((handle, broadcast));
                    if matches!(transmit, Transmit::StatusRequest { .. }) {
                        self.polls_unanswered = self.polls_unanswered.saturating_add(1);
                    }
                    self.stats.frames_sent += 1;
                    if matches!(transmit, Transmit::Chunk { retransmission: true, .. }) {
                        self.stats.retransmissions += 1;
                    }
                }
                Err(_) => {
                    self.stats.queue_full += 1;
                    transfer.on_send_refused();
                    break;
                }
            }
        }
    }

    fn finish_transfer(&mut self, now: Instant) {
        let Some(transfer) = &self.transfer else {
            return;
        };
        if !transfer.is_finished() {
            return;
        }
        let session = transfer.session();
        let len = transfer.offer().image_len;
        let v2_chunks = usize::from(transfer.offer().chunk_size) + wire::CHUNK_OVERHEAD > V1_MAX_FRAME_LEN;
        let event = match transfer.state() {
            // The receiver no longer takes the frames it announced (it
            // restarted with ESP-NOW v1, say): back to v1 frames, and the
            // same image again.
            SenderState::Failed(SendError::Refused(AbortReason::BadOffer))
                if v2_chunks && self.image_failures < self.config.image_retries =>
            {
                self.receiver_frame_len = V1_MAX_FRAME_LEN as u16;
                self.image_failures += 1;
                self.stats.image_retries += 1;
                self.busy_retry = Some(now);
                self.transfer = None;
                return;
            }
            SenderState::Done => {
                self.stats.images_sent += 1;
                SenderNodeEvent::TransferDone { session, len, started: self.transfer_started, finished: now }
            }
            SenderState::Failed(SendError::Refused(AbortReason::Busy))
                if self.busy_refusals < self.config.busy_retries =>
            {
                self.busy_refusals += 1;
                let backoff = self.config.busy_backoff.as_micros();
                let jitter = self.random.next_u32() as u64 % backoff.max(1);
                self.busy_retry = Some(now + Duration::from_micros(backoff + jitter));
                self.transfer = None;
                return;
            }
            SenderState::Failed(error) if retryable(error) && self.image_failures < self.config.image_retries => {
                // The same captured image again, under a new session.
                self.image_failures += 1;
                self.stats.image_retries += 1;
                let backoff = self.config.busy_backoff.as_micros();
                let jitter = self.random.next_u32() as u64 % backoff.max(1);
                self.busy_retry = Some(now + Duration::from_micros(backoff + jitter));
                self.transfer = None;
                return;
            }
            SenderState::Failed(error) => {
                self.stats.images_failed += 1;
                SenderNodeEvent::TransferFailed { session, error }
            }
            _ => return,
        };
        self.transfer = None;
        self.push_event(event);
        let earliest = now + self.config.pause_between_images;
        self.next_capture = Some(self.next_capture.map_or(earliest, |at| at.max(earliest)));
    }

    /// When the node wants to be polled again, if no radio event comes first.
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        if self.receiver.is_none() {
            // `None` until the first poll, which sends the first probe.
            consider(Some(self.next_probe.unwrap_or(self.last_poll)));
            consider(self.kept_for_receiver.map(|(_, give_up_at)| give_up_at));
            return at;
        }
        if self.transfer.is_none() && self.busy_retry.is_none() && self.capture_requested {
            // A capture is asked for: at once, which any time up to the last poll means.
            return Some(self.last_poll);
        }
        consider(self.transfer.as_ref().and_then(|t| t.poll_at()));
        consider(self.busy_retry);
        if self.transfer.is_none() && self.busy_retry.is_none() {
            let within_limit = self.config.image_limit.is_none_or(|limit| self.images_started < limit);
            if within_limit && self.config.capture_interval.is_some() {
                consider(self.next_capture);
            }
        }
        consider(self.next_telemetry);
        at
    }
}

/// Whether a failed image is worth offering again: not when the receiver
/// refused the image itself, or the camera could not split it.
fn retryable(error: SendError) -> bool {
    match error {
        SendError::TimedOut | SendError::CrcMismatch | SendError::StoreFailed => true,
        // Busy has its own budget (`busy_retries`).
        SendError::Refused(reason) => {
            matches!(reason, AbortReason::UnknownSession | AbortReason::Expired | AbortReason::Superseded)
        }
        SendError::Chunker(_) => false,
    }
}
