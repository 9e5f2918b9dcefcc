//! The receiver's HTTP API on port 80: `GET /image` (the newest JPEG) and
//! `GET /status` (JSON).

use core::fmt::Write as _;

use embassy_executor::Spawner;
use embassy_net::Stack;
use embassy_time::Duration;
use nowcam_esp_adapters::clock::now;
use nowcam_ports::{ImageStore, Radio};
use picoserve::io::Write;
use picoserve::response::{Content, StatusCode};
use picoserve::routing::get;

use crate::SharedNode;

/// Connections served at once; each costs its TCP and HTTP buffers in a task.
const HTTP_TASKS: usize = 2;

/// Bytes read from flash per lock of the node: small enough that the
/// radio loop waits at most a fraction of a millisecond.
const PIECE: usize = 1024;

/// Cameras listed in `/status`; the JSON buffer is sized for this many.
const STATUS_CAMERAS: usize = 8;

type StatusText = heapless::String<1536>;

pub fn spawn(spawner: Spawner, stack: Stack<'static>, node: &'static SharedNode) {
    for id in 0..HTTP_TASKS {
        spawner.spawn(http_task(id, stack, node).expect("the HTTP task pool holds every HTTP task"));
    }
}

#[embassy_executor::task(pool_size = HTTP_TASKS)]
async fn http_task(id: usize, stack: Stack<'static>, node: &'static SharedNode) -> ! {
    let app = picoserve::Router::new()
        .route("/image", get(move || newest_image(node)))
        .route("/status", get(move || status(node)));
    let config = picoserve::Config::new(picoserve::Timeouts {
        start_read_request: Duration::from_secs(5),
        persistent_start_read_request: Duration::from_secs(1),
        read_request: Duration::from_secs(2),
        write: Duration::from_secs(5),
    });
    let mut tcp_rx = [0; 1024];
    let mut tcp_tx = [0; 2048];
    let mut http_buffer = [0; 1024];
    loop {
        picoserve::Server::new(&app, &config, &mut http_buffer)
            .listen_and_serve(id, stack, 80, &mut tcp_rx, &mut tcp_tx)
            .await;
    }
}

async fn newest_image(node: &'static SharedNode) -> Result<StoredImage, (StatusCode, &'static str)> {
    let newest = node.lock().await.store().newest();
    match newest {
        Some(info) => Ok(StoredImage { node, sequence: info.sequence, len: info.len }),
        None => Err((StatusCode::NOT_FOUND, "no image stored yet\n")),
    }
}

/// A stored image, streamed from flash in pieces of [`PIECE`] bytes.
struct StoredImage {
    node: &'static SharedNode,
    sequence: u32,
    len: u32,
}

impl Content for StoredImage {
    fn content_type(&self) -> &'static str {
        "image/jpeg"
    }

    fn content_length(&self) -> usize {
        self.len as usize
    }

    /// Stops early when the image goes away mid-stream (two newer images
    /// reused its slot) or fails its read: the headers are gone already, so
    /// the client sees a body shorter than its Content-Length and drops it.
    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        let mut piece = [0; PIECE];
        let mut offset = 0;
        while offset < self.len {
            let read = self.node.lock().await.store_mut().read_at(self.sequence, offset, &mut piece);
            match read {
                Ok(count) if count > 0 => {
                    writer.write_all(&piece[..count]).await?;
                    offset += count as u32;
                }
                _ => break,
            }
        }
        Ok(())
    }
}

async fn status(node: &'static SharedNode) -> Result<Json, (StatusCode, &'static str)> {
    let mut node = node.lock().await;
    status_json(&mut node)
        .map(Json)
        .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "status does not fit its buffer\n"))
}

fn status_json(node: &mut crate::Node) -> Result<StatusText, core::fmt::Error> {
    let now = now();
    let telemetry = node.own_telemetry();
    let stats = node.stats();
    let mut text = StatusText::new();
    write!(
        text,
        "{{\"mac\":\"{}\",\"channel\":{},\"uptime_ms\":{},\"free_heap_bytes\":{},\"chip_temperature_c\":",
        node.radio().address(),
        node.radio().channel(),
        now.as_millis(),
        telemetry.free_heap_bytes,
    )?;
    write_temperature(&mut text, telemetry.chip_temperature_centi_celsius)?;
    write!(
        text,
        ",\"frames_received\":{},\"images_stored\":{},\"transfers_failed\":{},\"newest_image\":",
        stats.frames_received, stats.images_stored, stats.transfers_failed,
    )?;
    match node.store().newest() {
        Some(info) => write!(text, "{{\"sequence\":{},\"len\":{},\"crc32\":{}}}", info.sequence, info.len, info.crc32)?,
        None => text.write_str("null")?,
    }
    text.write_str(",\"cameras\":[")?;
    for (index, camera) in node.online_cameras(now).take(STATUS_CAMERAS).enumerate() {
        if index > 0 {
            text.write_str(",")?;
        }
        write!(
            text,
            "{{\"mac\":\"{}\",\"images\":{},\"last_heard_ms_ago\":{},\"rssi\":",
            camera.address,
            camera.images,
            now.saturating_since(camera.last_heard).as_millis(),
        )?;
        match camera.rssi {
            Some(rssi) => write!(text, "{rssi}")?,
            None => text.write_str("null")?,
        }
        text.write_str("}")?;
    }
    text.write_str("]}\n")?;
    Ok(text)
}

/// Hundredths of a degree as a JSON number with two decimals, or `null`.
fn write_temperature(text: &mut StatusText, centi: Option<i16>) -> core::fmt::Result {
    match centi {
        Some(centi) => {
            let sign = if centi < 0 { "-" } else { "" };
            let magnitude = i32::from(centi).unsigned_abs();
            write!(text, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
        }
        None => text.write_str("null"),
    }
}

/// A JSON body from a fixed buffer.
struct Json(StatusText);

impl Content for Json {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn content_length(&self) -> usize {
        self.0.len()
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        writer.write_all(self.0.as_bytes()).await
    }
}
