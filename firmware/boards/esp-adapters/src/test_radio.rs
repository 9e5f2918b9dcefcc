//! The radio as the test console sees it: the node's radio inside
//! nowcam-link's fault injector, a peer the host may pin, and counters for
//! the console's telemetry.
//!
//! The node owns a [`TestRadio`]; the console reaches it through the node
//! (`radio_mut`) while it holds the node's lock, so nothing here is shared.

use nowcam_link::{Direction, FaultInjector, Preset};
use nowcam_ports::radio::MAX_FRAME_LEN;
use nowcam_ports::{MacAddress, PhyRate, Radio, Received, SendError, SendHandle, SendReport};

/// Why [`TestRadio::set_faults`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultsError {
    /// the preset is not one of nowcam-link's names
    UnknownPreset,
    /// the preset's settings do not validate
    Invalid,
}

/// Frames in and out, as the console reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RadioCounters {
    pub frames_sent: u32,
    pub frames_received: u32,
    /// Sends the radio refused, and sends whose report said "not acknowledged".
    pub send_failed: u32,
}

/// The node's radio with on-device fault injection and an optional pinned peer.
///
/// With a pinned peer, frames from any other station are dropped on the way
/// in and the node cannot leave the peer's channel: a sender then
/// "discovers" exactly the receiver the host named, on its channel, with one
/// probe. Before the host speaks, the radio may also be held closed (see
/// [`TestRadio::hold`]) so discovery waits for the host's choice.
pub struct TestRadio<R: Radio> {
    /// Always `Some` between calls; `None` only while the injector is rebuilt.
    radio: Option<FaultInjector<R>>,
    preset: Preset,
    peer: Option<MacAddress>,
    held: bool,
    counters: RadioCounters,
}

impl<R: Radio> TestRadio<R> {
    /// Wraps `radio` with the `clean` preset (no loss, no duplication) and no pinned peer.
    pub fn new(radio: R) -> Self {
        let clean = Preset::Clean.direction_config();
        // The clean preset always validates, so the injector is always built;
        // the `Option` only covers the moment `set_faults` rebuilds it.
        let radio = FaultInjector::new(radio, clean, clean, 0).ok();
        TestRadio { radio, preset: Preset::Clean, peer: None, held: false, counters: RadioCounters::default() }
    }

    /// The radio under the fault injector (the serial radio takes frames from the console this way).
    pub fn inner_mut(&mut self) -> Option<&mut R> {
        self.radio.as_mut().map(FaultInjector::inner_mut)
    }

    pub fn counters(&self) -> RadioCounters {
        self.counters
    }

    pub fn preset(&self) -> Preset {
        self.preset
    }

    pub fn peer(&self) -> Option<MacAddress> {
        self.peer
    }

    /// Applies a link preset of `nowcam-link` (`clean` for none), seeded.
    ///
    /// Only loss and duplication apply on a chip; the injector's own send
    /// handles start again, so call this between transfers.
    pub fn set_faults(&mut self, preset_name: &str, seed: u64) -> Result<(), FaultsError> {
        let preset: Preset = preset_name.parse().map_err(|_| FaultsError::UnknownPreset)?;
        let config = preset.direction_config();
        config.validate(Direction::AToB).map_err(|_| FaultsError::Invalid)?;
        let Some(old) = self.radio.take() else {
            return Err(FaultsError::Invalid);
        };
        // Validated above, so `new` cannot refuse (it checks the same settings).
        let inner = old.into_inner();
        self.radio = FaultInjector::new(inner, config, config, seed).ok();
        if self.radio.is_none() {
            return Err(FaultsError::Invalid);
        }
        self.preset = preset;
        Ok(())
    }

    /// Pins the peer and its channel; frames from other stations are dropped from now on.
    pub fn pin_peer(&mut self, peer: MacAddress, channel: u8) -> Result<(), SendError> {
        let radio = self.radio.as_mut().ok_or(SendError::Driver)?;
        radio.set_channel(channel)?;
        self.peer = Some(peer);
        self.held = false;
        Ok(())
    }

    /// While held, every received frame is dropped, so discovery waits for the host.
    pub fn hold(&mut self, held: bool) {
        self.held = held;
    }

    pub fn is_held(&self) -> bool {
        self.held
    }
}

impl<R: Radio> Radio for TestRadio<R> {
    fn address(&self) -> MacAddress {
        self.radio.as_ref().map_or(MacAddress::new([0; 6]), |radio| radio.address())
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        let radio = self.radio.as_mut().ok_or(SendError::Driver)?;
        match radio.send(destination, frame) {
            Ok(handle) => {
                self.counters.frames_sent = self.counters.frames_sent.wrapping_add(1);
                Ok(handle)
            }
            Err(error) => {
                self.counters.send_failed = self.counters.send_failed.wrapping_add(1);
                Err(error)
            }
        }
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        let report = self.radio.as_mut()?.poll_send_report()?;
        if !report.acknowledged {
            self.counters.send_failed = self.counters.send_failed.wrapping_add(1);
        }
        Some(report)
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let radio = self.radio.as_mut()?;
        loop {
            let received = radio.receive(buffer)?;
            let from_peer = self.peer.is_none_or(|peer| peer == received.source);
            if self.held || !from_peer {
                continue;
            }
            self.counters.frames_received = self.counters.frames_received.wrapping_add(1);
            return Some(received);
        }
    }

    fn channel(&self) -> u8 {
        self.radio.as_ref().map_or(0, |radio| radio.channel())
    }

    /// Refused while a peer is pinned: the host chose the channel.
    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        if self.peer.is_some() {
            return Err(SendError::Driver);
        }
        self.radio.as_mut().ok_or(SendError::Driver)?.set_channel(channel)
    }

    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        self.radio.as_mut().ok_or(SendError::Driver)?.set_rate(peer, rate)
    }
}
