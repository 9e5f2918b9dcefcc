//! `/status`, `/images` and `/metrics`: snapshots of the node written as
//! JSON or Prometheus text straight into the socket (formatted twice, once
//! to measure the Content-Length), so the chip holds no text buffer.

use core::fmt::{self, Display, Formatter};

use embassy_sync::blocking_mutex::raw::RawMutex;
use nowcam_app::CameraInfo;
use nowcam_ports::{ImageInfo, Instant};
use nowcam_proto::wire::control::ControlVariable;
use picoserve::io::Write;
use picoserve::response::Content;

use crate::journal::{ImageRecord, JournalCounters};
use crate::{Api, Clock, Identity, OwnStatus, ReceiverAccess, CAMERA_ONLINE};

/// Cameras a snapshot holds (the node remembers eight).
const CAMERAS: usize = 8;

/// A body formatted from a `Display` value.
struct Formatted<T> {
    value: T,
    content_type: &'static str,
}

impl<T: Display> Content for Formatted<T> {
    fn content_type(&self) -> &'static str {
        self.content_type
    }

    fn content_length(&self) -> usize {
        let mut counter = Counter(0);
        let _ = fmt::write(&mut counter, format_args!("{}", self.value));
        counter.0
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        writer.write_fmt(format_args!("{}", self.value)).await
    }
}

struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// A JSON body.
pub struct Json<T>(pub T);

impl<T: Display> Content for Json<T> {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn content_length(&self) -> usize {
        Formatted { value: &self.0, content_type: "" }.content_length()
    }

    async fn write_content<W: Write>(self, writer: W) -> Result<(), W::Error> {
        Formatted { value: self.0, content_type: "" }.write_content(writer).await
    }
}

/// A Prometheus text body.
pub struct Metrics(pub StatusSnapshot);

impl Content for Metrics {
    fn content_type(&self) -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }

    fn content_length(&self) -> usize {
        Formatted { value: PrometheusText(&self.0), content_type: "" }.content_length()
    }

    async fn write_content<W: Write>(self, writer: W) -> Result<(), W::Error> {
        Formatted { value: PrometheusText(&self.0), content_type: "" }.write_content(writer).await
    }
}

/// The state `/status` and `/metrics` show, copied out of the node at once.
pub struct StatusSnapshot {
    identity: Identity,
    now: Instant,
    own: OwnStatus,
    newest: Option<(ImageInfo, Option<ImageRecord>)>,
    cameras: heapless::Vec<CameraInfo, CAMERAS>,
    settings: [(ControlVariable, i32, bool); 27],
    counters: JournalCounters,
}

impl StatusSnapshot {
    pub async fn take<M: RawMutex, N: ReceiverAccess, C: Clock>(api: &Api<'_, M, N, C>) -> Self {
        let now = api.clock.now();
        let (own, newest, cameras) = {
            let mut node = api.node.lock().await;
            let cameras = node.cameras().iter().take(CAMERAS).copied().collect();
            (node.own_status(), node.newest_image(), cameras)
        };
        let mut settings = [(ControlVariable::FrameSize, 0, false); 27];
        for (slot, variable) in settings.iter_mut().zip(ControlVariable::ALL) {
            *slot = match api.journal.setting(*variable) {
                Some(value) => (*variable, value, true),
                None => (*variable, esp32_camera_default(*variable), false),
            };
        }
        StatusSnapshot {
            identity: api.identity,
            now,
            own,
            newest: newest.map(|info| (info, api.journal.image(info.sequence))),
            cameras,
            settings,
            counters: api.journal.counters(),
        }
    }
}

/// The value esp32-camera's OV2640 driver starts with, shown until a camera
/// confirms another through `/control`.
fn esp32_camera_default(variable: ControlVariable) -> i32 {
    use ControlVariable::*;
    match variable {
        FrameSize => 8,
        Quality => 12,
        AutoWhiteBalance | AutoWhiteBalanceGain | AutoExposure | AutoGain => 1,
        WhitePixelCorrection | RawGamma | LensCorrection | Downsize => 1,
        ExposureValue => 204,
        _ => 0,
    }
}

/// Hundredths of a degree as a number with two decimals, or `null`.
struct Celsius(Option<i16>);

impl Display for Celsius {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(centi) => {
                let sign = if centi < 0 { "-" } else { "" };
                let magnitude = i32::from(centi).unsigned_abs();
                write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
            }
            None => f.write_str("null"),
        }
    }
}

struct OrNull<T>(Option<T>);

impl<T: Display> Display for OrNull<T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("null"),
        }
    }
}

/// A MAC address as a JSON string.
struct Quoted<T>(T);

impl<T: Display> Display for Quoted<T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

impl Display for StatusSnapshot {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // esp32-camera's keys first, so its clients find what they look for.
        f.write_str("{")?;
        for (variable, value, _) in &self.settings {
            write!(f, "\"{}\":{},", variable.name(), value)?;
        }
        let confirmed = self.settings.iter().filter(|(_, _, confirmed)| *confirmed).count();
        write!(
            f,
            "\"settings_confirmed\":{confirmed},\"cam_name\":\"{}\",\"code_ver\":\"{}\",\"stream_url\":\"/stream\",",
            self.identity.name, self.identity.version
        )?;
        let own = &self.own;
        let stats = &own.stats;
        write!(
            f,
            "\"mac\":\"{}\",\"channel\":{},\"uptime_ms\":{},\"free_heap_bytes\":{},\"chip_temperature_c\":{},",
            own.address,
            own.channel,
            self.now.as_millis(),
            own.telemetry.free_heap_bytes,
            Celsius(own.telemetry.chip_temperature_centi_celsius),
        )?;
        write!(
            f,
            "\"frames_received\":{},\"images_stored\":{},\"transfers_failed\":{},\"link\":{{\"active_transfers\":{},\"chunks_stored\":{},\"duplicate_chunks\":{},\"frames_rejected\":{},\"legacy_frames\":{},\"replies_dropped\":{},\"offers_not_ready\":{},\"image_bytes\":{},\"telemetry_frames\":{},\"controls_answered\":{},\"controls_timed_out\":{}}},",
            stats.frames_received,
            stats.images_stored,
            stats.transfers_failed,
            own.active_transfers,
            stats.protocol.chunks_stored,
            stats.protocol.duplicates,
            stats.protocol.rejected,
            stats.legacy_frames,
            stats.replies_dropped,
            stats.offers_not_ready,
            self.counters.image_bytes,
            self.counters.telemetry_frames,
            self.counters.controls_answered,
            self.counters.controls_timed_out,
        )?;
        f.write_str("\"newest_image\":")?;
        match &self.newest {
            Some((info, record)) => write!(f, "{}", ImageJson(info, record, self.now))?,
            None => f.write_str("null")?,
        }
        f.write_str(",\"cameras\":[")?;
        for (index, camera) in self.cameras.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            let ago = self.now.saturating_since(camera.last_heard);
            write!(
                f,
                "{{\"mac\":\"{}\",\"online\":{},\"images\":{},\"legacy\":{},\"last_heard_ms_ago\":{},\"rssi\":{},\"telemetry\":",
                camera.address,
                ago < CAMERA_ONLINE,
                camera.images,
                camera.legacy,
                ago.as_millis(),
                OrNull(camera.rssi),
            )?;
            match &camera.telemetry {
                Some(t) => write!(
                    f,
                    "{{\"uptime_ms\":{},\"free_heap_bytes\":{},\"chip_temperature_c\":{},\"rssi\":{},\"frames_sent\":{},\"retransmissions\":{}}}",
                    t.uptime_ms,
                    t.free_heap_bytes,
                    Celsius(t.chip_temperature_centi_celsius),
                    OrNull(t.rssi),
                    t.frames_sent,
                    t.retransmissions,
                )?,
                None => f.write_str("null")?,
            }
            f.write_str("}")?;
        }
        f.write_str("]}\n")
    }
}

/// One image as JSON: id, camera, size, CRC-32, when it arrived.
struct ImageJson<'a>(&'a ImageInfo, &'a Option<ImageRecord>, Instant);

impl Display for ImageJson<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let ImageJson(info, record, now) = self;
        write!(
            f,
            "{{\"id\":{},\"url\":\"/images/{}.jpg\",\"camera\":{},\"size\":{},\"crc32\":\"{:08x}\",\"received_ms\":{},\"age_ms\":{}}}",
            info.sequence,
            info.sequence,
            OrNull(record.map(|r| Quoted(r.source))),
            info.len,
            info.crc32,
            OrNull(record.map(|r| r.received.as_millis())),
            OrNull(record.map(|r| now.saturating_since(r.received).as_millis())),
        )
    }
}

/// `/images`: newest first.
pub struct ImageList(pub heapless::Vec<(ImageInfo, Option<ImageRecord>), 16>, pub Instant);

impl Display for ImageList {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (index, (info, record)) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", ImageJson(info, record, self.1))?;
        }
        f.write_str("]\n")
    }
}

/// `/metrics`.
struct PrometheusText<'a>(&'a StatusSnapshot);

impl Display for PrometheusText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let stats = &s.own.stats;
        let metric = |f: &mut Formatter<'_>, name: &str, kind: &str, help: &str| {
            write!(f, "# HELP nowcam_{name} {help}\n# TYPE nowcam_{name} {kind}\n")
        };
        metric(f, "uptime_seconds", "gauge", "Time since the receiver started.")?;
        writeln!(f, "nowcam_uptime_seconds {}", s.now.as_millis() / 1000)?;
        metric(f, "images_stored_total", "counter", "Images received whole, checked (CRC-32) and stored.")?;
        writeln!(f, "nowcam_images_stored_total {}", stats.images_stored)?;
        metric(f, "image_bytes_total", "counter", "Bytes of the images stored since start.")?;
        writeln!(f, "nowcam_image_bytes_total {}", s.counters.image_bytes)?;
        metric(f, "frames_received_total", "counter", "ESP-NOW frames received.")?;
        writeln!(f, "nowcam_frames_received_total {}", stats.frames_received)?;
        metric(f, "chunks_stored_total", "counter", "Image chunks written to the store.")?;
        writeln!(f, "nowcam_chunks_stored_total {}", stats.protocol.chunks_stored)?;
        metric(
            f,
            "chunks_duplicate_total",
            "counter",
            "Chunks received again (retransmissions that were not needed).",
        )?;
        writeln!(f, "nowcam_chunks_duplicate_total {}", stats.protocol.duplicates)?;
        metric(f, "transfers_active", "gauge", "Transfers being received.")?;
        writeln!(f, "nowcam_transfers_active {}", s.own.active_transfers)?;
        metric(f, "failures_total", "counter", "Failures by reason.")?;
        for (reason, count) in [
            ("transfer_failed", stats.transfers_failed),
            ("frame_rejected", stats.protocol.rejected),
            ("offer_not_ready", stats.offers_not_ready),
            ("reply_dropped", stats.replies_dropped),
            ("flash_erase", stats.erase_errors),
            ("control_timeout", s.counters.controls_timed_out),
        ] {
            writeln!(f, "nowcam_failures_total{{reason=\"{reason}\"}} {count}")?;
        }
        metric(f, "free_heap_bytes", "gauge", "Free heap, by node.")?;
        writeln!(f, "nowcam_free_heap_bytes{{node=\"receiver\"}} {}", s.own.telemetry.free_heap_bytes)?;
        for camera in &s.cameras {
            if let Some(t) = &camera.telemetry {
                writeln!(f, "nowcam_free_heap_bytes{{node=\"{}\"}} {}", camera.address, t.free_heap_bytes)?;
            }
        }
        metric(f, "temperature_celsius", "gauge", "Chip temperature, by node (chips with a sensor).")?;
        if let Some(centi) = s.own.telemetry.chip_temperature_centi_celsius {
            writeln!(f, "nowcam_temperature_celsius{{node=\"receiver\"}} {}", Celsius(Some(centi)))?;
        }
        for camera in &s.cameras {
            if let Some(centi) = camera.telemetry.and_then(|t| t.chip_temperature_centi_celsius) {
                writeln!(f, "nowcam_temperature_celsius{{node=\"{}\"}} {}", camera.address, Celsius(Some(centi)))?;
            }
        }
        metric(f, "rssi_dbm", "gauge", "Signal strength of the last frame from each camera.")?;
        for camera in &s.cameras {
            if let Some(rssi) = camera.rssi {
                writeln!(f, "nowcam_rssi_dbm{{camera=\"{}\"}} {rssi}", camera.address)?;
            }
        }
        metric(f, "camera_images_total", "counter", "Images stored, by camera.")?;
        for camera in &s.cameras {
            writeln!(f, "nowcam_camera_images_total{{camera=\"{}\"}} {}", camera.address, camera.images)?;
        }
        metric(f, "retransmissions_total", "counter", "Chunks each camera sent again (its telemetry).")?;
        for camera in &s.cameras {
            if let Some(t) = &camera.telemetry {
                writeln!(f, "nowcam_retransmissions_total{{camera=\"{}\"}} {}", camera.address, t.retransmissions)?;
            }
        }
        Ok(())
    }
}
