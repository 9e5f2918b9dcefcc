//! The HTTP API's fuzz checks, as functions: the cargo-fuzz binary calls
//! them, and `tests/corpus.rs` replays the kept corpus and crash cases.
//!
//! `http_request`: the input is what a client sends on one connection
//! (requests, pipelined or not, a WebSocket upgrade and its frames). It is
//! served by `nowcam_http::serve`, the function the chip and `nowcam serve`
//! call, with its socket wrapper, over an in-memory socket in virtual time
//! ([`connection`]) and a fake node holding three stored images
//! ([`receiver`]). Each input is served twice: with the servers' own
//! configuration (one request per connection) on the main port, the input
//! in reads as large as the server asks and the client closing once the
//! server is quiet; and on the stream port with keep-alive, a client that
//! sends each request (and a WebSocket's frames) once the answer to the one
//! before is out, reads of 5 bytes, writes of 7, and the client keeping the
//! connection until the server's timeouts end it. Each time: no panic; the
//! connection ends within [`connection::POLLS`] polls; the output is empty
//! or well-formed HTTP/1.1 responses ([`responses`]); the stored images read
//! back unchanged; only a `GET /control?` or `GET /capture?` request reaches
//! the node's camera control, with a known camera and a value the variable
//! accepts.

pub mod connection;
pub mod receiver;
pub mod responses;

use std::cell::RefCell;

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use nowcam_http::{Api, Identity, Journal, Port, ReceiverAccess, REQUEST_BUFFER, TIMEOUTS};
use nowcam_proto::wire::ControlCommand;

use connection::{Closing, Hang, MemorySocket, Shape, Virtual, VirtualClock};
use receiver::{ControlCall, FakeReceiver, CAMERAS};

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, Check); 1] = [("http_request", http_request)];

/// The two ways each input is served (see the crate documentation).
pub const SHAPES: [Shape; 2] = [
    Shape {
        read: usize::MAX,
        write: 1024,
        closing: Closing::WhenQuiet,
        keep_alive: false,
        port: Port::Main,
        one_request_at_a_time: false,
    },
    Shape {
        read: 5,
        write: 7,
        closing: Closing::AfterTimers,
        keep_alive: true,
        one_request_at_a_time: true,
        port: Port::Stream,
    },
];

/// What one connection did.
#[derive(Debug)]
pub struct Served {
    /// Everything the server wrote.
    pub output: Vec<u8>,
    /// The control requests that reached the node.
    pub calls: Vec<ControlCall>,
    /// Polls of the connection's future.
    pub polls: usize,
}

/// Serves `input` on one connection shaped by `shape`; panics when the
/// stored images change.
pub fn serve(input: &[u8], shape: Shape) -> Result<Served, Hang> {
    let node = Mutex::<NoopRawMutex, FakeReceiver>::new(FakeReceiver::new());
    let journal = Journal::<NoopRawMutex>::new();
    let world = Virtual::new();
    for event in node.try_lock().expect("nothing else holds the node").stored_events() {
        journal.record(world.now(), &event);
    }
    let api = Api::new(&node, &journal, VirtualClock(&world), Identity { name: "nowcam-fuzz", version: "0.0.0" });
    let config = if shape.keep_alive {
        picoserve::Config::new(TIMEOUTS).keep_connection_alive()
    } else {
        picoserve::Config::new(TIMEOUTS)
    };
    let mut buffer = vec![0; REQUEST_BUFFER];
    let output = RefCell::new(Vec::new());
    let socket = MemorySocket::new(input, &output, shape, &world);
    let connection = nowcam_http::serve(&api, shape.port, VirtualClock(&world), &config, &mut buffer, socket);
    let answer_controls = || {
        // The handlers never hold the node across an await, so it is free whenever the connection waits.
        let answers = node.try_lock().expect("the node is free while the connection waits").answer();
        for answer in &answers {
            journal.record(world.now(), answer);
        }
        !answers.is_empty()
    };
    let ((), polls) = connection::run(connection, &world, shape.closing, answer_controls)?;

    let mut node = node.try_lock().expect("the connection has ended");
    for (sequence, bytes) in FakeReceiver::originals() {
        let mut read = vec![0; bytes.len() + 1];
        let mut offset = 0;
        while let Ok(count @ 1..) = node.read_image(sequence, offset as u32, &mut read[offset..]) {
            offset += count;
        }
        assert_eq!(&read[..offset], bytes.as_slice(), "stored image {sequence} changed");
    }
    Ok(Served { output: output.take(), calls: node.calls().to_vec(), polls })
}

/// The `http_request` target.
pub fn http_request(data: &[u8]) {
    let images = FakeReceiver::originals();
    for shape in SHAPES {
        let served = match serve(data, shape) {
            Ok(served) => served,
            Err(hang) => panic!("the connection did not end ({hang:?}) with {shape:?}"),
        };
        if let Err(error) = responses::check(&served.output, &images) {
            panic!("{error}, with {shape:?}; the output:\n{}", String::from_utf8_lossy(&served.output));
        }
        check_controls(data, &served.calls);
    }
}

/// Only a `GET /control?` request line (var and val in its query) and a
/// `GET /capture?` one (`fresh`) send a control request, one each at most,
/// to a known camera, with a value the variable accepts.
///
/// A request line is a line of three words: picoserve splits it on any
/// whitespace (RFC 9112, section 3, lets a server take runs of SP, HTAB,
/// VT, FF or bare CR for one SP; Rust's `split_whitespace` takes Unicode's
/// spaces too).
fn check_controls(input: &[u8], calls: &[ControlCall]) {
    let requests = |prefix: &str| {
        let lines = input.split(|byte| *byte == b'\n').filter_map(|line| std::str::from_utf8(line).ok());
        lines
            .filter(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                matches!(words.as_slice(), ["GET", target, _] if target.starts_with(prefix))
            })
            .count()
    };
    let mut sets = 0;
    let mut captures = 0;
    for call in calls {
        assert!(CAMERAS.contains(&call.camera), "a control request to unknown camera {}", call.camera);
        match call.command {
            ControlCommand::Set => {
                assert!(call.variable.accepts(call.value), "{call:?} reached the node out of range");
                sets += 1;
            }
            ControlCommand::CaptureNow => captures += 1,
            ControlCommand::Get => panic!("no request asks a camera for a value, yet {call:?} was sent"),
        }
    }
    assert!(sets <= requests("/control?"), "{sets} control requests from fewer GET /control? request lines");
    assert!(captures <= requests("/capture?"), "{captures} capture requests from fewer GET /capture? request lines");
}
