//! The watchdogs, which `esp_hal::init` turns off: the RTC watchdog (RWDT)
//! and timer group 0's (MWDT0), both resetting the whole chip when not fed.
//!
//! The board's main loop feeds them after every poll of its node and wakes
//! at least every [`FEED_INTERVAL`] to do so, so a node that stops polling
//! (a lost wake-up, a lock never released, a driver that never returns)
//! restarts the board instead of leaving it deaf.

use esp_hal::peripherals::{RTC_TIMER, TIMG0};
use esp_hal::rtc_cntl::{Rtc, RwdtStage};
use esp_hal::timer::timg::{MwdtStage, Wdt};

/// How long the main loop may go without feeding.
///
/// Above the longest flash operation the node may wait for inside one poll
/// (a 64 KB block erase: up to 2 s on the supported boards' flash parts,
/// worst case) and above the 5 s a boot failure waits before its own
/// restart (`boot::restart_after`), so that its message gets out.
pub const TIMEOUT_MS: u64 = 8_000;

/// The longest the main loop sleeps between two feeds.
pub const FEED_INTERVAL: embassy_time::Duration = embassy_time::Duration::from_secs(1);

/// Both watchdogs, running.
pub struct Watchdog {
    rtc: Rtc<'static>,
    timer_group: Wdt<TIMG0<'static>>,
}

impl Watchdog {
    /// Starts both watchdogs with [`TIMEOUT_MS`]; feed them from then on.
    ///
    /// `timer_group` is `TimerGroup::new(TIMG0).wdt`: the timer group's
    /// timer 0 may drive the scheduler meanwhile.
    pub fn start(rtc_timer: RTC_TIMER<'static>, mut timer_group: Wdt<TIMG0<'static>>) -> Self {
        let timeout = esp_hal::time::Duration::from_millis(TIMEOUT_MS);
        let mut rtc = Rtc::new(rtc_timer);
        rtc.rwdt.set_timeout(RwdtStage::Stage0, timeout);
        rtc.rwdt.enable();
        timer_group.set_timeout(MwdtStage::Stage0, timeout);
        timer_group.enable();
        let mut watchdog = Watchdog { rtc, timer_group };
        watchdog.feed();
        watchdog
    }

    /// Restarts both countdowns.
    pub fn feed(&mut self) {
        self.rtc.rwdt.feed();
        self.timer_group.feed();
    }
}

/// When the main loop should wake at the latest: `deadline`, or one feed interval from now.
pub fn wake_by(deadline: Option<embassy_time::Instant>) -> embassy_time::Instant {
    let feed = embassy_time::Instant::now() + FEED_INTERVAL;
    deadline.map_or(feed, |deadline| deadline.min(feed))
}
