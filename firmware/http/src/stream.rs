//! `GET /stream`: the images as they arrive, as MJPEG in
//! `multipart/x-mixed-replace` (what esp32-camera serves on port 81, and
//! what browsers, ffmpeg, VLC and OpenCV read).

use embassy_sync::blocking_mutex::raw::RawMutex;
use picoserve::io::Write;
use picoserve::response::custom::{CustomBody, CustomResponse};
use picoserve::response::{IntoResponse, StatusCode};

use crate::handlers::StoredImage;
use crate::{Api, Clock, ReceiverAccess};

/// The multipart boundary.
pub const BOUNDARY: &str = "nowcamframe";

pub async fn mjpeg<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(api: &'a Api<'a, M, N, C>) -> impl IntoResponse + 'a {
    CustomResponse::build(StatusCode::OK)
        .with_header("Content-Type", "multipart/x-mixed-replace;boundary=nowcamframe")
        .with_header("Cache-Control", "no-store")
        .with_header("Access-Control-Allow-Origin", "*")
        .with_body(Mjpeg { api })
}

struct Mjpeg<'a, M: RawMutex, N, C> {
    api: &'a Api<'a, M, N, C>,
}

impl<M: RawMutex, N: ReceiverAccess, C: Clock> CustomBody for Mjpeg<'_, M, N, C> {
    /// Sends the newest image at once, then each new one; runs until the
    /// client goes away (picoserve stops it then).
    async fn write_response_body<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        let api = self.api;
        let mut sent = None;
        let mut seen = api.journal.generation();
        loop {
            let newest = api.node.lock().await.newest_image();
            if let Some(info) = newest.filter(|info| Some(info.sequence) != sent) {
                writer
                    .write_fmt(format_args!(
                        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Image-Id: {}\r\n\r\n",
                        info.len, info.sequence
                    ))
                    .await?;
                let whole = StoredImage { api, info }.write_bytes(&mut writer).await?;
                if !whole {
                    // The part announced the whole image's length: end the
                    // stream rather than let a client read on out of step.
                    return Ok(());
                }
                writer.write_all(b"\r\n").await?;
                writer.flush().await?;
                sent = Some(info.sequence);
            }
            seen = api.journal.changed(seen).await;
        }
    }
}
