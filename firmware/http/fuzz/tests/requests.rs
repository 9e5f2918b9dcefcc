//! What some of the kept seeds do, so that the fuzz target is known to
//! reach the handlers it is meant to (a target that answered everything
//! with 400 would pass every check), and that its loop tells a hang.

use std::path::Path;

use nowcam_http_fuzz::connection::{self, Closing, Hang, Virtual};
use nowcam_http_fuzz::{serve, SHAPES};
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::ControlCommand;

/// Serves seed `name` in shape `shape` (an index of `SHAPES`): the
/// responses' status codes in order, the control requests that reached the
/// node, and the output's last bytes.
fn check(name: &str, shape: usize, statuses: &[u16], calls: &[(ControlCommand, ControlVariable, i32)], ends: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/http_request").join(name);
    let input = std::fs::read(&path).unwrap();
    let served = serve(&input, SHAPES[shape]).unwrap();
    let found: Vec<u16> = served
        .output
        .windows(12)
        .filter(|window| window.starts_with(b"HTTP/1.1 "))
        .map(|window| std::str::from_utf8(&window[9..12]).unwrap().parse().unwrap())
        .collect();
    assert_eq!(found, statuses, "{name} in shape {shape}");
    let reached: Vec<_> = served.calls.iter().map(|call| (call.command, call.variable, call.value)).collect();
    assert_eq!(reached, calls, "{name} in shape {shape}");
    assert!(served.output.ends_with(ends), "{name} in shape {shape} ends {:?}", served.output.last_chunk::<16>());
}

#[test]
fn requests_reach_their_handlers() {
    use ControlCommand::{CaptureNow, Set};
    use ControlVariable::{Brightness, FrameSize};
    check("get_image", 0, &[200], &[], &[0xff, 0xd9]);
    check("get_images_id", 0, &[200], &[], &[0xff, 0xd9]);
    check("control_framesize", 0, &[200], &[(Set, FrameSize, 5)], b"framesize=5\n");
    check("control_encoded", 0, &[200], &[(Set, FrameSize, 3)], b"framesize=3\n");
    check("control_out_of_range", 0, &[400], &[], b"not 99\n");
    check("capture_fresh", 0, &[504], &[(CaptureNow, FrameSize, 0)], b"within 10 s\n");
    check("head_image", 0, &[405], &[], b"\r\n\r\n");
    check("oversized_headers", 0, &[431], &[], b"accepts\n");
    check("stream", 0, &[200], &[], &[0xff, 0xd9, b'\r', b'\n']);
    // One request per connection, as the chip and `nowcam serve` have it.
    check("pipelined", 0, &[200], &[], b"}\n");
    // With keep-alive, every request is answered, in order.
    check("pipelined_keep_alive", 1, &[200, 405, 200, 200], &[(Set, Brightness, -1)], b"} 4\n");
}

#[test]
fn websocket_frames_sent_after_the_upgrade_get_their_replies() {
    // A pong with the ping's payload, a close echoing the status code.
    check("ws_ping", 1, &[101], &[], b"\x8a\x04ping");
    check("ws_close", 1, &[101], &[], b"\x88\x02\x03\xe8");
    // Sent with the upgrade request, before the 101, they are not read as frames.
    check("ws_close", 0, &[101], &[], b"}\n}");
}

#[test]
fn the_loop_tells_a_hang_and_moves_time_for_a_timer() {
    let world = Virtual::new();
    let forever = connection::run(std::future::pending::<()>(), &world, Closing::WhenQuiet, || false);
    assert_eq!(forever.err(), Some(Hang::Stuck));

    let world = Virtual::new();
    let clock = connection::VirtualClock(&world);
    let deadline = nowcam_ports::Instant::from_micros(10_000_000);
    let slept =
        connection::run(nowcam_http::Clock::sleep_until(&clock, deadline), &world, Closing::WhenQuiet, || false);
    assert!(slept.is_ok());
    assert_eq!(world.now(), deadline);
}
