//! What the HTTP server remembers of the node's events: which camera sent
//! each stored image and when (the store keeps neither), the answers to
//! camera-control requests, the camera settings last confirmed, and a change
//! counter that streams and waiting requests wake on.
//!
//! The composition root feeds it every event it pops from the node
//! ([`Journal::record`]); nothing here reads a clock or does IO.

use core::cell::RefCell;
use core::task::Poll;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::waitqueue::MultiWakerRegistration;
use heapless::Deque;
use nowcam_app::{ControlOutcome, ReceiverNodeEvent};
use nowcam_ports::{Instant, MacAddress};
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::ControlStatus;

/// Images whose camera and arrival time are remembered (the chip's store
/// keeps four; older ones are listed without a camera).
pub const IMAGES: usize = 16;
/// Control answers kept for the requests waiting on them.
const CONTROLS: usize = 8;
/// Requests and streams that can wait for a change at once; more still
/// work, woken a little more often than needed.
const WAITERS: usize = 8;
/// Variables of the esp32-camera `/control` vocabulary (wire codes 0 to 26).
const VARIABLES: usize = 27;

/// An image the node stored, with what the store does not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRecord {
    pub sequence: u32,
    pub source: MacAddress,
    pub received: Instant,
    pub len: u32,
    pub legacy: bool,
}

/// Counters the node does not keep itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalCounters {
    /// Bytes of every image stored since boot.
    pub image_bytes: u64,
    /// Telemetry frames received from cameras.
    pub telemetry_frames: u32,
    /// Control requests answered, and those that timed out.
    pub controls_answered: u32,
    pub controls_timed_out: u32,
}

struct State {
    images: Deque<ImageRecord, IMAGES>,
    controls: Deque<(u16, ControlOutcome), CONTROLS>,
    settings: [Option<i32>; VARIABLES],
    counters: JournalCounters,
    generation: u32,
    waiters: MultiWakerRegistration<WAITERS>,
}

/// See the module documentation. `M` is the raw mutex of the executor the
/// node and the HTTP tasks share.
pub struct Journal<M: RawMutex> {
    state: BlockingMutex<M, RefCell<State>>,
}

impl<M: RawMutex> Default for Journal<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: RawMutex> Journal<M> {
    pub const fn new() -> Self {
        Journal {
            state: BlockingMutex::new(RefCell::new(State {
                images: Deque::new(),
                controls: Deque::new(),
                settings: [None; VARIABLES],
                counters: JournalCounters {
                    image_bytes: 0,
                    telemetry_frames: 0,
                    controls_answered: 0,
                    controls_timed_out: 0,
                },
                generation: 0,
                waiters: MultiWakerRegistration::new(),
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.state.lock(|state| f(&mut state.borrow_mut()))
    }

    /// Takes one event the node reported at `now`, and wakes every waiter.
    pub fn record(&self, now: Instant, event: &ReceiverNodeEvent) {
        self.with(|state| {
            match *event {
                ReceiverNodeEvent::ImageStored { source, info, legacy } => {
                    if state.images.is_full() {
                        state.images.pop_front();
                    }
                    let record = ImageRecord { sequence: info.sequence, source, received: now, len: info.len, legacy };
                    let _ = state.images.push_back(record);
                    state.counters.image_bytes += u64::from(info.len);
                }
                ReceiverNodeEvent::Control { request, outcome } => {
                    match outcome {
                        ControlOutcome::Answered { status: ControlStatus::Ok, variable, value } => {
                            if let Some(setting) = state.settings.get_mut(usize::from(variable.code())) {
                                *setting = Some(value);
                            }
                            state.counters.controls_answered += 1;
                        }
                        ControlOutcome::Answered { .. } => state.counters.controls_answered += 1,
                        ControlOutcome::TimedOut => state.counters.controls_timed_out += 1,
                    }
                    if state.controls.is_full() {
                        state.controls.pop_front();
                    }
                    let _ = state.controls.push_back((request, outcome));
                }
                ReceiverNodeEvent::Telemetry { .. } => state.counters.telemetry_frames += 1,
                ReceiverNodeEvent::TransferFailed { .. } => {}
            }
            state.generation = state.generation.wrapping_add(1);
            state.waiters.wake();
        })
    }

    /// The change counter: it moves with every recorded event.
    pub fn generation(&self) -> u32 {
        self.with(|state| state.generation)
    }

    /// Waits until the change counter differs from `seen`; returns the new one.
    pub async fn changed(&self, seen: u32) -> u32 {
        core::future::poll_fn(|context| {
            self.with(|state| {
                if state.generation != seen {
                    Poll::Ready(state.generation)
                } else {
                    state.waiters.register(context.waker());
                    Poll::Pending
                }
            })
        })
        .await
    }

    /// What the journal knows of stored image `sequence`.
    pub fn image(&self, sequence: u32) -> Option<ImageRecord> {
        self.with(|state| state.images.iter().rev().find(|image| image.sequence == sequence).copied())
    }

    /// The newest image recorded, from `camera` or from any camera.
    pub fn newest(&self, camera: Option<MacAddress>) -> Option<ImageRecord> {
        self.with(|state| {
            state.images.iter().rev().find(|image| camera.is_none_or(|camera| image.source == camera)).copied()
        })
    }

    /// Every image recorded, oldest first, into `out`; returns how many.
    pub fn images(&self, out: &mut [ImageRecord]) -> usize {
        self.with(|state| {
            let mut count = 0;
            for (slot, image) in out.iter_mut().zip(state.images.iter()) {
                *slot = *image;
                count += 1;
            }
            count
        })
    }

    /// The answer to control request `request`, once it came (or timed out).
    pub fn control_outcome(&self, request: u16) -> Option<ControlOutcome> {
        self.with(|state| state.controls.iter().rev().find(|(id, _)| *id == request).map(|(_, outcome)| *outcome))
    }

    /// The value a camera last confirmed for `variable`.
    pub fn setting(&self, variable: ControlVariable) -> Option<i32> {
        self.with(|state| state.settings.get(usize::from(variable.code())).copied().flatten())
    }

    pub fn counters(&self) -> JournalCounters {
        self.with(|state| state.counters)
    }
}
