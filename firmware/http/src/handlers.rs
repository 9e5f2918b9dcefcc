//! The request handlers of the main port, except the streams.

use core::fmt::{self, Write as _};
use core::str::FromStr;

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::RawMutex;
use nowcam_app::receiver::ControlRequestError;
use nowcam_app::ControlOutcome;
use nowcam_ports::{ImageInfo, MacAddress};
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::{ControlCommand, ControlStatus};
use picoserve::io::Write;
use picoserve::request::RequestParts;
use picoserve::response::{Connection, Content, IntoResponse, Response, ResponseWriter, StatusCode};
use picoserve::url_encoded::UrlEncodedString;
use picoserve::ResponseSent;

use crate::status::{Metrics, StatusSnapshot};
use crate::{Api, Clock, ReceiverAccess, FRESH_IMAGE_TIMEOUT, PIECE};

/// The page, gzip-compressed at build time.
static PAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html.gz"));

/// An error response: a status and a one-line message that says what to do.
pub struct Failure {
    status: StatusCode,
    message: heapless::String<160>,
}

impl Failure {
    pub fn new(status: StatusCode, message: fmt::Arguments<'_>) -> Self {
        let mut text = heapless::String::new();
        // A message longer than the buffer is cut; it still says what failed.
        let _ = text.write_fmt(message);
        let _ = text.push('\n');
        Failure { status, message: text }
    }
}

impl IntoResponse for Failure {
    async fn write_to<R: picoserve::io::Read, W: ResponseWriter<Error = R::Error>>(
        self,
        connection: Connection<'_, R>,
        response_writer: W,
    ) -> Result<ResponseSent, W::Error> {
        (self.status, ("Cache-Control", "no-store"), self.message).write_to(connection, response_writer).await
    }
}

/// `/`: the page on the main port, the stream on the stream port.
pub async fn root<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
    port: crate::Port,
) -> Root<impl IntoResponse, impl IntoResponse + 'a> {
    match port {
        crate::Port::Main => Root::Page(
            Response::new(StatusCode::OK, Page)
                .with_header("Content-Encoding", "gzip")
                .with_header("Cache-Control", "no-cache"),
        ),
        crate::Port::Stream => Root::Stream(crate::stream::mjpeg(api).await),
    }
}

pub enum Root<P, S> {
    Page(P),
    Stream(S),
}

impl<P: IntoResponse, S: IntoResponse> IntoResponse for Root<P, S> {
    async fn write_to<R: picoserve::io::Read, W: ResponseWriter<Error = R::Error>>(
        self,
        connection: Connection<'_, R>,
        response_writer: W,
    ) -> Result<ResponseSent, W::Error> {
        match self {
            Root::Page(page) => page.write_to(connection, response_writer).await,
            Root::Stream(stream) => stream.write_to(connection, response_writer).await,
        }
    }
}

struct Page;

impl Content for Page {
    fn content_type(&self) -> &'static str {
        "text/html; charset=utf-8"
    }

    fn content_length(&self) -> usize {
        PAGE.len()
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        writer.write_all(PAGE).await
    }
}

/// A stored image, streamed from the store in pieces of [`PIECE`] bytes.
pub struct StoredImage<'a, M: RawMutex, N, C> {
    pub api: &'a Api<'a, M, N, C>,
    pub info: ImageInfo,
}

impl<M: RawMutex, N: ReceiverAccess, C: Clock> StoredImage<'_, M, N, C> {
    /// Writes the image's bytes; stops early when the image goes away
    /// mid-stream (newer images reused its slot) or fails its read: the
    /// client then sees a body shorter than announced and drops it.
    /// Returns whether every byte went out.
    pub async fn write_bytes<W: Write>(&self, writer: &mut W) -> Result<bool, W::Error> {
        let mut piece = [0; PIECE];
        let mut offset = 0;
        while offset < self.info.len {
            let read = self.api.node.lock().await.read_image(self.info.sequence, offset, &mut piece);
            match read {
                Ok(count) if count > 0 => {
                    writer.write_all(&piece[..count]).await?;
                    offset += count as u32;
                }
                _ => break,
            }
        }
        Ok(offset >= self.info.len)
    }
}

impl<M: RawMutex, N: ReceiverAccess, C: Clock> Content for StoredImage<'_, M, N, C> {
    fn content_type(&self) -> &'static str {
        "image/jpeg"
    }

    fn content_length(&self) -> usize {
        self.info.len as usize
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        self.write_bytes(&mut writer).await.map(|_| ())
    }
}

/// The image's entity tag: its sequence number and CRC-32.
struct EntityTag(ImageInfo);

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}-{:08x}\"", self.0.sequence, self.0.crc32)
    }
}

fn image_response<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
    info: ImageInfo,
) -> impl IntoResponse + 'a {
    Response::new(StatusCode::OK, StoredImage { api, info })
        .with_header("Cache-Control", "no-store")
        .with_header("ETag", EntityTag(info))
        .with_header("X-Image-Id", info.sequence)
}

fn no_image() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, format_args!("no image stored yet: no camera has sent one"))
}

pub async fn newest_image<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
) -> Result<impl IntoResponse + 'a, Failure> {
    let newest = api.node.lock().await.newest_image();
    newest.map(|info| image_response(api, info)).ok_or_else(no_image)
}

/// `/images/{id}.jpg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageName(u32);

impl FromStr for ImageName {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        name.strip_suffix(".jpg").and_then(|id| id.parse().ok()).map(ImageName).ok_or(())
    }
}

pub async fn image<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
    ImageName(sequence): ImageName,
) -> Result<impl IntoResponse + 'a, Failure> {
    let mut list = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; 16];
    let count = api.node.lock().await.images(&mut list);
    list[..count].iter().find(|info| info.sequence == sequence).map(|info| image_response(api, *info)).ok_or_else(
        || {
            Failure::new(
                StatusCode::NOT_FOUND,
                format_args!("image {sequence} is not stored (GET /images lists the stored ones)"),
            )
        },
    )
}

pub async fn image_list<M: RawMutex, N: ReceiverAccess, C: Clock>(api: &Api<'_, M, N, C>) -> impl IntoResponse {
    let mut list = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; 16];
    let count = api.node.lock().await.images(&mut list);
    let mut images = heapless::Vec::<_, 16>::new();
    for info in &list[..count] {
        let _ = images.push((*info, api.journal.image(info.sequence)));
    }
    (("Cache-Control", "no-store"), crate::status::Json(crate::status::ImageList(images, api.clock.now())))
}

pub async fn status<M: RawMutex, N: ReceiverAccess, C: Clock>(api: &Api<'_, M, N, C>) -> impl IntoResponse {
    let snapshot = StatusSnapshot::take(api).await;
    (("Cache-Control", "no-store"), crate::status::Json(snapshot))
}

pub async fn metrics<M: RawMutex, N: ReceiverAccess, C: Clock>(api: &Api<'_, M, N, C>) -> impl IntoResponse {
    let snapshot = StatusSnapshot::take(api).await;
    (("Cache-Control", "no-store"), Metrics(snapshot))
}

/// Reads `name=value` pairs of a query string, URL-decoded.
fn query_pairs<'r>(
    query: Option<UrlEncodedString<'r>>,
) -> impl Iterator<Item = (&'r str, Option<heapless::String<32>>)> + 'r {
    query.into_iter().flat_map(|query| query.0.split('&')).filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name, UrlEncodedString(value).try_into_string::<32>().ok())
    })
}

/// A camera named in a query (`camera=02:6e:63:00:00:01`).
fn parse_mac(text: &str) -> Option<MacAddress> {
    let mut bytes = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut bytes {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddress(bytes))
}

/// A query parameter that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    name: heapless::String<24>,
}

impl BadParameter {
    fn new(name: &str) -> Self {
        let mut text = heapless::String::new();
        for c in name.chars() {
            if text.push(c).is_err() {
                break;
            }
        }
        BadParameter { name: text }
    }

    fn failure(&self, expected: &str) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, format_args!("query parameter {:?}: expected {expected}", self.name))
    }
}

/// The query of `/capture`: `fresh=1` and an optional `camera=MAC`.
pub struct CaptureQuery {
    fresh: bool,
    camera: Result<Option<MacAddress>, BadParameter>,
}

impl CaptureQuery {
    pub fn from_parts(parts: &RequestParts<'_>) -> Self {
        let mut query = CaptureQuery { fresh: false, camera: Ok(None) };
        for (name, value) in query_pairs(parts.query()) {
            let value = value.as_deref().unwrap_or("");
            match name {
                "fresh" => query.fresh = matches!(value, "1" | "true" | "yes" | ""),
                "camera" => query.camera = parse_mac(value).map(Some).ok_or_else(|| BadParameter::new(name)),
                // esp32-camera clients add a cache-busting `_cb=` and the like.
                _ => {}
            }
        }
        query
    }
}

/// The camera a request is for: the one named, else the one that sent the
/// newest image, else the first camera heard.
async fn target_camera<M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &Api<'_, M, N, C>,
    named: Option<MacAddress>,
) -> Result<MacAddress, Failure> {
    if let Some(camera) = named {
        let known = api.node.lock().await.cameras().iter().any(|c| c.address == camera);
        return if known {
            Ok(camera)
        } else {
            Err(Failure::new(StatusCode::NOT_FOUND, format_args!("no camera {camera} has been heard")))
        };
    }
    if let Some(image) = api.journal.newest(None) {
        return Ok(image.source);
    }
    let first = api.node.lock().await.cameras().first().map(|c| c.address);
    first.ok_or_else(|| Failure::new(StatusCode::SERVICE_UNAVAILABLE, format_args!("no camera has been heard yet")))
}

/// Sends one control request and waits for its answer (the node times it
/// out after its control timeout).
async fn control_exchange<M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &Api<'_, M, N, C>,
    camera: MacAddress,
    command: ControlCommand,
    variable: ControlVariable,
    value: i32,
) -> Result<(ControlStatus, i32), Failure> {
    let mut seen = api.journal.generation();
    let request = api.node.lock().await.request_control(api.clock.now(), camera, command, variable, value);
    let request = request.map_err(|error| match error {
        ControlRequestError::Busy => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format_args!("too many camera-control requests wait for an answer: try again"),
        ),
        ControlRequestError::Radio => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format_args!("the radio did not take the control request: try again"),
        ),
    })?;
    loop {
        match api.journal.control_outcome(request) {
            Some(ControlOutcome::Answered { status, value, .. }) => return Ok((status, value)),
            Some(ControlOutcome::TimedOut) => {
                return Err(Failure::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    format_args!("camera {camera} did not answer the control request in time"),
                ))
            }
            None => seen = api.journal.changed(seen).await,
        }
    }
}

pub async fn capture<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
    query: CaptureQuery,
) -> Result<impl IntoResponse + 'a, Failure> {
    let named = query.camera.map_err(|bad| bad.failure("a camera MAC address such as 02:6e:63:00:00:01"))?;
    if !query.fresh {
        let info = match named {
            Some(camera) => match api.journal.newest(Some(camera)) {
                Some(record) => image_info(api, record.sequence).await,
                None => None,
            },
            None => api.node.lock().await.newest_image(),
        };
        return info.map(|info| image_response(api, info)).ok_or_else(no_image);
    }
    let camera = target_camera(api, named).await?;
    let before = api.journal.newest(Some(camera)).map(|image| image.sequence);
    let (status, _) = control_exchange(api, camera, ControlCommand::CaptureNow, ControlVariable::FrameSize, 0).await?;
    if status != ControlStatus::Ok {
        return Err(control_failure(camera, status));
    }
    let deadline = api.clock.now() + FRESH_IMAGE_TIMEOUT;
    let mut seen = api.journal.generation();
    let fresh = loop {
        if let Some(image) = api.journal.newest(Some(camera)).filter(|image| Some(image.sequence) != before) {
            break image;
        }
        match select(api.journal.changed(seen), api.clock.sleep_until(deadline)).await {
            Either::First(generation) => seen = generation,
            Either::Second(()) => {
                return Err(Failure::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    format_args!(
                        "camera {camera} took the capture request but sent no image within {} s",
                        FRESH_IMAGE_TIMEOUT.as_millis() / 1000
                    ),
                ))
            }
        }
    };
    image_info(api, fresh.sequence).await.map(|info| image_response(api, info)).ok_or_else(no_image)
}

/// The store's record of image `sequence`, while it is still stored.
async fn image_info<M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &Api<'_, M, N, C>,
    sequence: u32,
) -> Option<ImageInfo> {
    let mut list = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; 16];
    let count = api.node.lock().await.images(&mut list);
    list[..count].iter().find(|info| info.sequence == sequence).copied()
}

fn control_failure(camera: MacAddress, status: ControlStatus) -> Failure {
    match status {
        ControlStatus::Unsupported => {
            Failure::new(StatusCode::BAD_REQUEST, format_args!("camera {camera} does not support this variable"))
        }
        ControlStatus::OutOfRange => {
            Failure::new(StatusCode::BAD_REQUEST, format_args!("camera {camera} refused the value as out of range"))
        }
        ControlStatus::Busy => {
            Failure::new(StatusCode::SERVICE_UNAVAILABLE, format_args!("camera {camera} is busy: try again"))
        }
        _ => Failure::new(StatusCode::BAD_GATEWAY, format_args!("camera {camera} failed to apply the request")),
    }
}

/// The query of `/control`: `var=NAME&val=N`, and an optional `camera=MAC`.
pub struct ControlQuery {
    variable: Option<heapless::String<32>>,
    value: Option<heapless::String<32>>,
    camera: Result<Option<MacAddress>, BadParameter>,
}

impl ControlQuery {
    pub fn from_parts(parts: &RequestParts<'_>) -> Self {
        let mut query = ControlQuery { variable: None, value: None, camera: Ok(None) };
        for (name, value) in query_pairs(parts.query()) {
            match name {
                "var" => query.variable = value,
                "val" => query.value = value,
                "camera" => {
                    query.camera = value.as_deref().and_then(parse_mac).map(Some).ok_or_else(|| BadParameter::new(name))
                }
                _ => {}
            }
        }
        query
    }
}

pub async fn control<M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &Api<'_, M, N, C>,
    query: ControlQuery,
) -> Result<impl IntoResponse, Failure> {
    let named = query.camera.map_err(|bad| bad.failure("a camera MAC address such as 02:6e:63:00:00:01"))?;
    let Some(name) = query.variable else {
        return Err(Failure::new(StatusCode::BAD_REQUEST, format_args!("missing var: use /control?var=NAME&val=N")));
    };
    let Some(variable) = ControlVariable::from_name(&name) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format_args!("unknown control variable {:?}", name.as_str()),
        ));
    };
    let Some(value) = query.value.as_deref().and_then(|value| value.trim().parse::<i32>().ok()) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format_args!("val must be a whole number, as in var={name}&val=1"),
        ));
    };
    if !variable.accepts(value) {
        let (min, max) = variable.range();
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format_args!("{} accepts {min} to {max}, not {value}", variable.name()),
        ));
    }
    let camera = target_camera(api, named).await?;
    let (status, applied) = control_exchange(api, camera, ControlCommand::Set, variable, value).await?;
    if status != ControlStatus::Ok {
        return Err(control_failure(camera, status));
    }
    let mut text = heapless::String::<64>::new();
    let _ = writeln!(text, "{}={applied}", variable.name());
    Ok((("Cache-Control", "no-store"), text))
}
