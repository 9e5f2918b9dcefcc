//! The receiver's HTTP API against `nowcam serve`: byte-exact images,
//! snapshots of `/status` and of the error responses.

mod common;

use common::{fixtures, get, raw, Server};
use serde_json::Value;

#[test]
fn image_capture_and_images_are_byte_exact_fixtures() {
    let server = Server::start(1, 200);
    server.wait_for_image();
    let fixtures = fixtures();
    for path in ["/image", "/capture", "/capture?fresh=1"] {
        let response = get(server.http, path);
        assert_eq!(response.status(), 200, "{path}: {}", response.head);
        assert_eq!(response.header("Content-Type"), Some("image/jpeg"), "{path}");
        assert_eq!(response.header("Cache-Control"), Some("no-store"), "{path}");
        assert!(response.header("ETag").is_some_and(|tag| tag.starts_with('"')), "{path}: {}", response.head);
        assert!(fixtures.contains(&response.body), "{path}: {} bytes that are no fixture", response.body.len());
    }
    let list: Value = serde_json::from_slice(&get(server.http, "/images").body).expect("/images is JSON");
    let first = &list.as_array().expect("a list")[0];
    assert_eq!(first["camera"], "02:6e:63:00:00:01");
    let image = get(server.http, first["url"].as_str().expect("a url"));
    assert_eq!(image.status(), 200);
    assert_eq!(image.body.len() as u64, first["size"].as_u64().expect("a size"));
    assert!(fixtures.contains(&image.body));
}

#[test]
fn control_is_forwarded_to_the_camera() {
    let server = Server::start(1, 200);
    server.wait_for_image();
    let response = get(server.http, "/control?var=quality&val=10");
    assert_eq!((response.status(), response.body_text().as_str()), (200, "quality=10\n"));
    let status: Value = serde_json::from_slice(&get(server.http, "/status").body).expect("/status is JSON");
    assert_eq!(status["quality"], 10, "the confirmed value shows in /status");
}

#[test]
fn curl_gets_byte_exact_fixtures() {
    let Some(curl) = common::tool("curl") else { return };
    let server = Server::start(1, 200);
    server.wait_for_image();
    let fixtures = fixtures();
    for path in ["/image", "/capture", "/capture?fresh=1"] {
        let output = common::run_bounded(
            std::process::Command::new(&curl)
                .args(["--silent", "--show-error", "--fail", "--max-time", "20"])
                .arg(server.url(path)),
            common::WAIT,
        );
        assert!(output.status.success(), "curl {path}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(fixtures.contains(&output.stdout), "curl {path}: {} bytes that are no fixture", output.stdout.len());
    }
}

/// `/status` with the values that move with time replaced by their kind.
#[test]
fn status_snapshot() {
    let server = Server::start(1, 200);
    server.wait_for_image();
    let response = get(server.http, "/status");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    let mut status: Value = serde_json::from_slice(&response.body).expect("/status is JSON");
    redact(&mut status, "");
    insta::assert_snapshot!("status", serde_json::to_string_pretty(&status).expect("JSON"));
}

/// Keys whose values do not depend on timing.
const STABLE: [&str; 7] = ["mac", "channel", "cam_name", "stream_url", "online", "legacy", "rssi"];

fn redact(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                redact(value, key);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, key)),
        Value::Number(_) | Value::String(_) if STABLE.contains(&key) => {}
        // esp32-camera's settings: the defaults, until a camera confirms others.
        Value::Number(_) if nowcam_proto::wire::control::ControlVariable::from_name(key).is_some() => {}
        Value::Number(_) => *value = Value::String("[number]".into()),
        Value::String(_) => *value = Value::String("[text]".into()),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Error responses as the client sees them: the status line, the headers
/// that matter and the body.
fn error_text(response: &common::Response) -> String {
    let mut text = response.head.lines().next().unwrap_or("").trim_end().to_string();
    for name in ["Content-Type", "Cache-Control"] {
        if let Some(value) = response.header(name) {
            text.push_str(&format!("\n{name}: {value}"));
        }
    }
    text.push_str("\n\n");
    text.push_str(&response.body_text());
    text
}

#[test]
fn error_responses_snapshot() {
    let server = Server::start(0, 200);
    let mut text = String::new();
    for path in [
        "/image",
        "/capture",
        "/capture?fresh=1",
        "/images/7.jpg",
        "/images/seven.jpg",
        "/nowhere",
        "/control",
        "/control?var=shininess&val=1",
        "/control?var=quality&val=high",
        "/control?var=quality&val=99",
        "/control?var=quality&val=10",
        "/control?var=quality&val=10&camera=nobody",
        "/ws",
    ] {
        let response = get(server.http, path);
        text.push_str(&format!("GET {path}\n{}\n", error_text(&response)));
    }
    let response = raw(server.http, b"HEAD /image HTTP/1.1\r\nHost: nowcam\r\nConnection: close\r\n\r\n");
    text.push_str(&format!("HEAD /image\n{}\n", error_text(&response)));
    let oversized = format!("GET /image HTTP/1.1\r\nHost: nowcam\r\nX-Filler: {}\r\n\r\n", "a".repeat(4096));
    let response = raw(server.http, oversized.as_bytes());
    text.push_str(&format!("GET /image with 4 KB of headers\n{}\n", error_text(&response)));
    insta::assert_snapshot!("errors", text);
}

/// A camera that went away: `/control` and `/capture?fresh=1` answer 504
/// after the node's control timeout (half a second), not a hang.
#[test]
fn control_and_fresh_capture_answer_504_when_the_camera_is_gone() {
    let server = Server::start(1, 200);
    server.wait_for_image();
    server.camera_power.switch_off();
    for path in ["/control?var=quality&val=10", "/capture?fresh=1"] {
        let started = std::time::Instant::now();
        let response = get(server.http, path);
        assert_eq!(response.status(), 504, "{path}: {}", response.head);
        assert_eq!(
            response.body_text(),
            "camera 02:6e:63:00:00:01 did not answer the control request in time\n",
            "{path}"
        );
        assert_eq!(response.header("Cache-Control"), Some("no-store"), "{path}");
        assert!(started.elapsed() < common::WAIT, "{path} took {:?}", started.elapsed());
    }
}

/// `nowcam serve`'s mDNS responder on loopback answers a one-shot query
/// with its instance, port and cam_name.
#[test]
fn discovery_finds_the_server_on_loopback() {
    let server = Server::start(1, 1000);
    let discovery =
        nowcam_serve::discovery::discover(server.mdns, std::time::Duration::from_secs(5)).expect("the query is sent");
    assert_eq!(discovery.malformed, 0);
    assert_eq!(discovery.receivers.len(), 1, "{discovery:?}");
    let receiver = &discovery.receivers[0];
    assert_eq!(receiver.cam_name, "nowcam-serve");
    assert_eq!(receiver.instance, format!("nowcam-serve-{}", server.http.port()));
    assert_eq!(receiver.port, server.http.port());
    assert_eq!(receiver.url, format!("http://{}/", server.http));
    let status: Value = serde_json::from_slice(&get(server.http, "/status").body).expect("/status is JSON");
    assert_eq!(status["cam_name"], receiver.cam_name.as_str(), "the TXT record's cam_name is /status's");
}
