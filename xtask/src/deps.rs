//! What the client tests need besides Rust, installed by the test command
//! itself when missing: Debian's curl, ffmpeg and chromium for the HTTP API,
//! tshark for the captures (apt-get, as root), and a Python virtual environment with requests and
//! opencv-python-headless (pip), the ESPressoscope tutorial's client.
//!
//! The tests find them through `NOWCAM_PYTHON` and fail instead of skipping
//! when `NOWCAM_REQUIRE_CLIENTS=1`, which this step sets.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::project_root;

/// Debian packages the client tests run.
const DEBIAN_PACKAGES: [(&str, &str); 4] =
    [("curl", "curl"), ("ffmpeg", "ffmpeg"), ("chromium", "chromium"), ("tshark", "tshark")];
/// Python packages of the virtual environment.
const PYTHON_PACKAGES: [&str; 2] = ["requests", "opencv-python-headless"];

/// Installs what is missing and tells the tests where it is.
pub fn install_client_tools() -> Result<()> {
    let missing: Vec<&str> =
        DEBIAN_PACKAGES.iter().filter(|(binary, _)| !on_path(binary)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        println!("present: curl, ffmpeg, chromium, tshark");
    } else {
        apt_install(&missing)?;
    }
    let python = ensure_venv(&project_root().join("target/client-venv"))?;
    // The child `cargo test` inherits these.
    std::env::set_var("NOWCAM_PYTHON", &python);
    std::env::set_var("NOWCAM_REQUIRE_CLIENTS", "1");
    println!("python with {}: {}", PYTHON_PACKAGES.join(", "), python.display());
    Ok(())
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "the client tests need {}: install them (on Debian: `apt-get install {}`)",
            packages.join(" and "),
            packages.join(" ")
        );
    }
    println!("installing Debian's {} with apt-get", packages.join(", "));
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running `apt-get {}`", args.join(" ")))?;
        ensure!(status.success(), "`apt-get {}` failed ({status})", args.join(" "));
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(packages);
    apt(&install)
}

/// Makes the virtual environment unless it already imports every package;
/// returns its python.
fn ensure_venv(directory: &Path) -> Result<PathBuf> {
    let python = directory.join("bin/python");
    if imports_everything(&python) {
        return Ok(python);
    }
    println!("making the Python virtual environment {}", directory.display());
    let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(directory).status();
    if !made.as_ref().is_ok_and(|status| status.success()) {
        // Debian's python3 has venv in a package of its own.
        apt_install(&["python3-venv"])?;
        let status = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(directory)
            .status()
            .context("running `python3 -m venv`")?;
        ensure!(status.success(), "`python3 -m venv {}` failed ({status})", directory.display());
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PYTHON_PACKAGES)
        .status()
        .context("running pip")?;
    ensure!(status.success(), "`pip install {}` failed ({status})", PYTHON_PACKAGES.join(" "));
    ensure!(imports_everything(&python), "{} still cannot import requests and cv2", python.display());
    Ok(python)
}

fn imports_everything(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import requests, cv2, numpy"])
        .output()
        .is_ok_and(|output| output.status.success())
}
