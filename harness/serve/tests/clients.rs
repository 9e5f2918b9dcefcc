//! The clients the seed projects' users have, pointed at `nowcam serve`:
//! ffmpeg reading the MJPEG stream, the ESPressoscope tutorial's Python
//! loop (requests and OpenCV) on the stream port, and headless Chromium
//! loading the page.

mod common;

use std::process::Command;

use common::{run_bounded, temp_dir, Server, WAIT};

#[test]
fn ffmpeg_reads_and_decodes_the_stream() {
    let Some(ffmpeg) = common::tool("ffmpeg") else { return };
    let server = Server::start(1, 100);
    server.wait_for_image();
    let dir = temp_dir("ffmpeg");
    let output = run_bounded(
        Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-rw_timeout", "20000000", "-i"])
            .arg(server.url("/stream"))
            .args(["-frames:v", "3", "-f", "image2"])
            .arg(dir.join("frame-%d.png")),
        WAIT,
    );
    assert!(output.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&output.stderr));
    for index in 1..=3 {
        let frame = dir.join(format!("frame-{index}.png"));
        let bytes = std::fs::read(&frame).unwrap_or_else(|e| panic!("{}: {e}", frame.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a decoded frame", frame.display());
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The tutorial's loop: `requests.get(url + ":81", stream=True)`, JPEGs cut
/// at SOI and EOI, decoded with `cv2.imdecode`; and `/capture` as its
/// single-frame example does.
const TUTORIAL: &str = r#"
import sys, requests, cv2, numpy as np
base, stream_url, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
response = requests.get(base + "/capture", timeout=20)
assert response.status_code == 200, response.status_code
image = cv2.imdecode(np.frombuffer(response.content, dtype=np.uint8), cv2.IMREAD_COLOR)
assert image is not None and image.shape[0] > 0
frames = []
stream = requests.get(stream_url, stream=True, timeout=20)
bytes_ = bytes()
for chunk in stream.iter_content(chunk_size=8 * 1024):
    bytes_ += chunk
    a = bytes_.find(b'\xff\xd8')
    b = bytes_.find(b'\xff\xd9')
    if a != -1 and b != -1:
        jpg = bytes_[a:b + 2]
        bytes_ = bytes_[b + 2:]
        frame = cv2.imdecode(np.frombuffer(jpg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if frame is not None:
            frames.append(frame.shape)
        if len(frames) >= wanted:
            break
print("decoded", len(frames), "frames:", frames)
assert len(frames) >= wanted
"#;

#[test]
fn python_tutorial_client_reads_the_stream_port() {
    let Some(python) = common::python() else { return };
    let server = Server::start(1, 100);
    server.wait_for_image();
    let output = run_bounded(
        Command::new(python)
            .args(["-c", TUTORIAL])
            .arg(format!("http://{}", server.http))
            .arg(format!("http://{}", server.stream))
            .arg("3"),
        WAIT,
    );
    assert!(
        output.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("decoded 3 frames"));
}

/// Counts the distinct colours in the screenshot's camera area: the page
/// alone has a handful, a photograph thousands.
const COLOURS: &str = r#"
import sys, cv2, numpy as np
image = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
height, width = image.shape[:2]
area = image[40:height, 0:int(width * 0.7)].reshape(-1, 3)
print(len(np.unique(area, axis=0)))
"#;

#[test]
fn chromium_shows_the_image_on_the_page() {
    let Some(chromium) = common::tool("chromium") else { return };
    let server = Server::start(1, 200);
    server.wait_for_image();
    let dir = temp_dir("chromium");
    let screenshot = dir.join("page.png");
    let output = run_bounded(
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1280,800",
                "--virtual-time-budget=4000",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg(format!("--screenshot={}", screenshot.display()))
            .arg(server.url("/")),
        Duration::from_secs(60),
    );
    assert!(screenshot.is_file(), "chromium made no screenshot: {}", String::from_utf8_lossy(&output.stderr));
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nowcam-page.png");
    let _ = std::fs::copy(&screenshot, &kept);
    eprintln!("screenshot: {}", kept.display());
    if let Some(python) = common::python() {
        let colours = run_bounded(Command::new(python).args(["-c", COLOURS]).arg(&screenshot), WAIT);
        let count: usize = String::from_utf8_lossy(&colours.stdout).trim().parse().unwrap_or(0);
        assert!(
            count > 500,
            "the page shows no photograph ({count} colours): {}",
            String::from_utf8_lossy(&colours.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

use std::time::Duration;

/// `nowcam record`'s writer: frames from the stream into an AVI that ffmpeg
/// decodes whole.
#[test]
fn recording_plays_in_ffmpeg() {
    let Some(ffmpeg) = common::tool("ffmpeg") else { return };
    let server = Server::start(1, 100);
    server.wait_for_image();
    let dir = temp_dir("record");
    let out = dir.join("recording.avi");
    let mut seen = 0;
    let recorded = nowcam_serve::record::record(
        &server.url("/stream"),
        &out,
        nowcam_serve::record::Until::Frames(4),
        |frames, _| seen = frames,
    )
    .expect("the stream records");
    assert_eq!((recorded.frames, seen), (4, 4));
    let output = run_bounded(
        Command::new(ffmpeg).args(["-hide_banner", "-loglevel", "error", "-i"]).arg(&out).args(["-f", "framemd5", "-"]),
        WAIT,
    );
    assert!(output.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&output.stderr));
    let frames = String::from_utf8_lossy(&output.stdout).lines().filter(|line| !line.starts_with('#')).count();
    assert_eq!(frames, 4, "ffmpeg decodes every frame: {}", String::from_utf8_lossy(&output.stdout));
    let _ = std::fs::remove_dir_all(dir);
}
