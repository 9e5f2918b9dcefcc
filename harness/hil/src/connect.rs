//! Reaching a board's console: a real board's serial port, a virtual
//! board's pseudo-terminal, or a Wokwi simulation's standard input and
//! output through `wokwi-cli --interactive`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use nowcam_proto::MacAddress;

use crate::console::{BoardConsole, Transmit};
use crate::inventory::{Board, BoardRole, PortSpec};

/// The baud rate of a USB-UART bridge; USB-Serial-JTAG ignores it.
pub const BAUD_RATE: u32 = 115_200;

/// How long a virtual board may take to say where its pseudo-terminal is.
const VIRTUAL_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a board's console could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("board {board}: cannot open {port}: {source}")]
    Open { board: String, port: String, source: serialport::Error },
    #[error("board {board}: no serial port has serial number {serial_number:?} (ports present: {present})")]
    NoSuchSerialNumber { board: String, serial_number: String, present: String },
    #[error("board {board}: cannot start {program}: {source}")]
    Spawn { board: String, program: String, source: std::io::Error },
    #[error("board {board}: the virtual board did not say where its terminal is within {after:?}{output}")]
    NoTerminal { board: String, after: Duration, output: String },
}

/// A board's console together with the process behind it, if any.
pub struct Connection {
    pub console: BoardConsole,
    /// The virtual board or `wokwi-cli` process; killed on drop.
    pub child: Option<Child>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Opens a real board's serial port.
pub fn open_serial(
    board: &Board,
    port: &PortSpec,
    index: usize,
    radio: Option<Sender<Transmit>>,
) -> Result<Connection, ConnectError> {
    let path = resolve_port(board, port)?;
    open_port(&board.name, &path, index, radio).map(|console| Connection { console, child: None })
}

/// The device path of a real board's port.
pub fn resolve_port(board: &Board, port: &PortSpec) -> Result<String, ConnectError> {
    match port {
        PortSpec::Path(path) => Ok(path.display().to_string()),
        PortSpec::SerialNumber(number) => find_by_serial_number(&board.name, number),
    }
}

fn open_port(
    name: &str,
    path: &str,
    index: usize,
    radio: Option<Sender<Transmit>>,
) -> Result<BoardConsole, ConnectError> {
    let open_error = |source| ConnectError::Open { board: name.to_owned(), port: path.to_owned(), source };
    let port = serialport::new(path, BAUD_RATE).timeout(Duration::from_millis(100)).open().map_err(open_error)?;
    let reader = port.try_clone().map_err(open_error)?;
    Ok(BoardConsole::new(name, index, Box::new(PortReader(reader)), Box::new(port), radio))
}

/// Reads a serial port, turning its read timeouts into "try again".
struct PortReader(Box<dyn serialport::SerialPort>);

impl Read for PortReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.0.read(buffer) {
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => continue,
                other => return other,
            }
        }
    }
}

fn find_by_serial_number(board: &str, number: &str) -> Result<String, ConnectError> {
    let ports = serialport::available_ports().unwrap_or_default();
    for port in &ports {
        if let serialport::SerialPortType::UsbPort(usb) = &port.port_type {
            if usb.serial_number.as_deref() == Some(number) {
                return Ok(port.port_name.clone());
            }
        }
    }
    let present = ports.iter().map(|p| p.port_name.as_str()).collect::<Vec<_>>().join(", ");
    Err(ConnectError::NoSuchSerialNumber {
        board: board.to_owned(),
        serial_number: number.to_owned(),
        present: if present.is_empty() { "none".into() } else { present },
    })
}

/// The address a virtual board gets: locally administered, unique per board in a run.
pub fn virtual_mac(index: usize) -> MacAddress {
    MacAddress([0x02, 0x4e, 0x43, 0x00, (index >> 8) as u8, index as u8])
}

/// Starts a virtual board (`EXE virtual-board ...`) on a pseudo-terminal and opens it.
pub fn start_virtual(
    exe: &Path,
    board: &Board,
    index: usize,
    channel: u8,
    seed: u64,
    key_file: Option<&Path>,
    radio: Option<Sender<Transmit>>,
) -> Result<Connection, ConnectError> {
    let role = match board.role {
        BoardRole::Sender => "sender",
        BoardRole::Receiver => "receiver",
    };
    let mut command = Command::new(exe);
    command.args(["virtual-board", "--role", role, "--mac"]).arg(virtual_mac(index).to_string()).args([
        "--channel",
        &channel.to_string(),
        "--seed",
        &seed.to_string(),
        "--pty",
    ]);
    if let Some(file) = key_file {
        command.arg("--key-file").arg(file);
    }
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().map_err(|source| {
            ConnectError::Spawn { board: board.name.clone(), program: exe.display().to_string(), source }
        })?;
    let stdout = child.stdout.take();
    let path = stdout.and_then(|out| read_terminal_line(out, VIRTUAL_START_TIMEOUT));
    let Some(path) = path else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ConnectError::NoTerminal {
            board: board.name.clone(),
            after: VIRTUAL_START_TIMEOUT,
            output: String::new(),
        });
    };
    let console = open_port(&board.name, &path, index, radio).inspect_err(|_| {
        let _ = child.kill();
        let _ = child.wait();
    })?;
    Ok(Connection { console, child: Some(child) })
}

/// Reads `pty PATH` from a virtual board's standard output, giving up after `timeout`.
fn read_terminal_line(stdout: impl Read + Send + 'static, timeout: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(path) = line.strip_prefix("pty ") {
                let _ = tx.send(path.trim().to_owned());
                break;
            }
        }
        // Keep draining so that the board never blocks on a full pipe.
        for _ in lines {}
    });
    let deadline = Instant::now() + timeout;
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
}

/// How to run one Wokwi simulation.
#[derive(Debug, Clone)]
pub struct WokwiSimulation {
    /// The `wokwi-cli` program (`NOWCAM_WOKWI_CLI` overrides it).
    pub program: PathBuf,
    /// The project folder with wokwi.toml and diagram.json (ci/wokwi/esp32c3-receiver).
    pub project: PathBuf,
    /// Simulated milliseconds before wokwi-cli gives up.
    pub timeout_ms: u64,
    pub serial_log: PathBuf,
    /// Another diagram in the project (a second sender with its own MAC address).
    pub diagram: Option<String>,
}

/// The environment variable that holds the Wokwi CI token.
pub const WOKWI_TOKEN_VARIABLE: &str = "WOKWI_CLI_TOKEN";

/// Starts `wokwi-cli --interactive` on a project; its standard input and
/// output are the simulated board's serial port.
pub fn start_wokwi(
    simulation: &WokwiSimulation,
    name: &str,
    index: usize,
    radio: Option<Sender<Transmit>>,
) -> Result<Connection, ConnectError> {
    let mut child = Command::new(&simulation.program)
        .arg(&simulation.project)
        .args(["--interactive", "--quiet", "--timeout"])
        .arg(simulation.timeout_ms.to_string())
        .arg("--serial-log-file")
        .arg(&simulation.serial_log)
        .args(["--fail-text", "panicked at"])
        .args(simulation.diagram.iter().flat_map(|diagram| ["--diagram-file", diagram.as_str()]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ConnectError::Spawn {
            board: name.to_owned(),
            program: simulation.program.display().to_string(),
            source,
        })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(ConnectError::Spawn {
            board: name.to_owned(),
            program: simulation.program.display().to_string(),
            source: std::io::Error::other("no standard input or output"),
        });
    };
    let console = BoardConsole::new(name, index, Box::new(stdout), Box::new(stdin), radio);
    Ok(Connection { console, child: Some(child) })
}
