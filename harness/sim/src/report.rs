//! Reports of a `nowcam run`: report.json, junit.xml (one testcase per
//! scenario and seed), summary.md (a GitHub Actions job summary) and the
//! terminal summary table.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::run::RunResult;
use crate::verdict::{ImageRecord, ImageResult};

/// How one scenario and seed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// The backend cannot run it here (no board, no Wokwi token): never counted as passed.
    Skipped,
}

/// One scenario run with one seed, as the reports show it, on any target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub target: String,
    pub status: Status,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    /// Every unmet expectation, each naming the sender and image it is about.
    pub failures: Vec<String>,
    /// The command line that runs exactly this scenario and seed again, from the root of a clone.
    pub reproduce: String,
    /// The capture written for a failed run.
    pub capture: Option<String>,
    /// Every image of every sender, judged by [`crate::verdict`]; empty when skipped.
    pub images: Vec<ImageRecord>,
    /// Counters of the run; `None` when skipped.
    pub metrics: Option<Metrics>,
}

/// Counters and times of one run, plain numbers any backend can fill in.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Metrics {
    pub frames_sent: u64,
    pub frames_lost: u64,
    pub frames_duplicated: u64,
    pub sends_refused: u64,
    pub retransmissions: u64,
    /// From the start to the moment the last sender learned its last outcome (virtual time on the simulator).
    pub sim_time_s: f64,
    /// The airtime lower bound of every image delivered byte-exact.
    pub lower_bound_s: f64,
    /// `lower_bound_s / sim_time_s` (0 when nothing was bounded).
    pub efficiency: f64,
}

impl From<&RunResult> for Metrics {
    fn from(result: &RunResult) -> Metrics {
        Metrics {
            frames_sent: result.air.frames_sent,
            frames_lost: result.air.frames_lost,
            frames_duplicated: result.air.frames_duplicated,
            sends_refused: result.air.sends_refused,
            retransmissions: result.retransmissions,
            sim_time_s: result.sim_time_s,
            lower_bound_s: result.lower_bound_s,
            efficiency: result.efficiency,
        }
    }
}

/// The command that runs one scenario with one seed again, as it stands on a
/// fresh clone: `cargo xtask hil` builds the harness first. `path` is the
/// scenario file relative to the root of the clone; `target` other than
/// `sim` and an inventory file are passed on.
pub fn reproduce_line(path: &str, seed: u64, target: &str, inventory: Option<&str>) -> String {
    let mut line = format!("cargo xtask hil {path} --seeds 1 --seed-start {seed}");
    if target != "sim" {
        line.push_str(&format!(" --target {target}"));
    }
    if let Some(inventory) = inventory {
        line.push_str(&format!(" --inventory {inventory}"));
    }
    line
}

impl RunRecord {
    /// A simulator run, judged by the verdict.
    pub fn from_sim(path: &str, reproduce: String, capture: Option<String>, result: &RunResult) -> RunRecord {
        RunRecord {
            scenario: result.scenario.clone(),
            path: path.to_owned(),
            seed: result.seed,
            target: "sim".to_owned(),
            status: if result.passed { Status::Passed } else { Status::Failed },
            message: (!result.passed).then(|| result.failures.join("; ")),
            failures: result.failures.clone(),
            reproduce,
            capture,
            images: result.images.clone(),
            metrics: Some(Metrics::from(result)),
        }
    }

    /// A run the target could not do, with the reason.
    pub fn skipped(scenario: &str, path: &str, seed: u64, target: &str, reason: &str, reproduce: String) -> RunRecord {
        RunRecord {
            scenario: scenario.to_owned(),
            path: path.to_owned(),
            seed,
            target: target.to_owned(),
            status: Status::Skipped,
            message: Some(format!("skipped: {reason}")),
            failures: Vec::new(),
            reproduce,
            capture: None,
            images: Vec::new(),
            metrics: None,
        }
    }
}

/// Everything one `nowcam run` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub target: String,
    pub runs: Vec<RunRecord>,
}

/// One line of the summary table: every seed of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub seeds: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub frames: u64,
    pub retransmissions: u64,
    /// The mean simulated time over the seeds that ran.
    pub sim_time_s: f64,
    /// The lowest efficiency over the seeds that ran (0 when nothing was bounded).
    pub efficiency: f64,
}

impl ScenarioSummary {
    pub fn result(&self) -> String {
        if self.skipped == self.seeds {
            "skipped".to_owned()
        } else if self.failed == 0 && self.skipped == 0 {
            "passed".to_owned()
        } else {
            format!("FAILED {}/{}", self.failed, self.seeds)
        }
    }
}

impl Report {
    pub fn passed(&self) -> usize {
        self.runs.iter().filter(|r| r.status == Status::Passed).count()
    }

    pub fn failed(&self) -> usize {
        self.runs.iter().filter(|r| r.status == Status::Failed).count()
    }

    pub fn skipped(&self) -> usize {
        self.runs.iter().filter(|r| r.status == Status::Skipped).count()
    }

    /// Scenarios in the order they first appear.
    pub fn summaries(&self) -> Vec<ScenarioSummary> {
        let mut summaries: Vec<ScenarioSummary> = Vec::new();
        let mut times: Vec<(f64, usize)> = Vec::new();
        for run in &self.runs {
            let index = match summaries.iter().position(|s| s.scenario == run.scenario) {
                Some(index) => index,
                None => {
                    summaries.push(ScenarioSummary {
                        scenario: run.scenario.clone(),
                        seeds: 0,
                        passed: 0,
                        failed: 0,
                        skipped: 0,
                        frames: 0,
                        retransmissions: 0,
                        sim_time_s: 0.0,
                        efficiency: f64::INFINITY,
                    });
                    times.push((0.0, 0));
                    summaries.len() - 1
                }
            };
            let summary = &mut summaries[index];
            summary.seeds += 1;
            match run.status {
                Status::Passed => summary.passed += 1,
                Status::Failed => summary.failed += 1,
                Status::Skipped => summary.skipped += 1,
            }
            if let Some(metrics) = &run.metrics {
                summary.frames += metrics.frames_sent;
                summary.retransmissions += metrics.retransmissions;
                times[index].0 += metrics.sim_time_s;
                times[index].1 += 1;
                summary.efficiency = summary.efficiency.min(metrics.efficiency);
            }
        }
        for (summary, (total, count)) in summaries.iter_mut().zip(times) {
            summary.sim_time_s = if count == 0 { 0.0 } else { total / count as f64 };
            if !summary.efficiency.is_finite() {
                summary.efficiency = 0.0;
            }
        }
        summaries
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let header = ["scenario", "seeds", "result", "frames", "retransmissions", "sim time", "efficiency"];
        let rows: Vec<[String; 7]> = self
            .summaries()
            .iter()
            .map(|s| {
                let ran = s.seeds - s.skipped;
                [
                    s.scenario.clone(),
                    s.seeds.to_string(),
                    s.result(),
                    if ran == 0 { "-".into() } else { s.frames.to_string() },
                    if ran == 0 { "-".into() } else { s.retransmissions.to_string() },
                    if ran == 0 { "-".into() } else { format!("{:.3} s", s.sim_time_s) },
                    if ran == 0 || s.efficiency == 0.0 { "-".into() } else { format!("{:.3}", s.efficiency) },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                // Text columns align left, numbers right.
                if i < 3 {
                    let _ = write!(out, "{cell:<width$}");
                } else {
                    let _ = write!(out, "{cell:>width$}");
                }
                out.push_str(if i + 1 == cells.len() { "\n" } else { "  " });
            }
        };
        line(&mut out, &header.map(String::from));
        line(&mut out, &widths.map(|w| "-".repeat(w)));
        for row in &rows {
            line(&mut out, row);
        }
        let _ = writeln!(out, "{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped());
        out
    }

    /// A GitHub-flavoured Markdown summary.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## nowcam run on `{}`\n", self.target);
        let _ = writeln!(out, "{} passed, {} failed, {} skipped\n", self.passed(), self.failed(), self.skipped());
        let _ = writeln!(out, "| scenario | seeds | result | frames | retransmissions | sim time | efficiency |");
        let _ = writeln!(out, "|---|---:|---|---:|---:|---:|---:|");
        for s in self.summaries() {
            let ran = s.seeds > s.skipped;
            let result = if s.failed > 0 { format!("**{}**", s.result()) } else { s.result() };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                s.scenario,
                s.seeds,
                result,
                if ran { s.frames.to_string() } else { "-".into() },
                if ran { s.retransmissions.to_string() } else { "-".into() },
                if ran { format!("{:.3} s", s.sim_time_s) } else { "-".into() },
                if ran && s.efficiency > 0.0 { format!("{:.3}", s.efficiency) } else { "-".into() },
            );
        }
        let failures: Vec<&RunRecord> = self.runs.iter().filter(|r| r.status == Status::Failed).collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\n### Failures\n");
            for run in failures {
                let _ = writeln!(out, "- `{}` seed {}:", run.scenario, run.seed);
                let message = run.message.iter().filter(|_| run.failures.is_empty());
                for failure in run.failures.iter().chain(message) {
                    let _ = writeln!(out, "  - {failure}");
                }
                let _ = writeln!(out, "  - reproduce: `{}`", run.reproduce);
                if let Some(capture) = &run.capture {
                    let _ = writeln!(out, "  - capture: `{capture}`");
                }
            }
        }
        let mut skipped: Vec<(&str, &str)> = Vec::new();
        for run in self.runs.iter().filter(|r| r.status == Status::Skipped) {
            let entry = (run.scenario.as_str(), run.message.as_deref().unwrap_or("skipped"));
            if !skipped.contains(&entry) {
                skipped.push(entry);
            }
        }
        if !skipped.is_empty() {
            let _ = writeln!(out, "\n### Skipped (not passed)\n");
            for (scenario, reason) in skipped {
                let _ = writeln!(out, "- `{scenario}`: {reason}");
            }
        }
        out
    }

    /// JUnit XML through quick-junit: one testsuite per scenario, one
    /// testcase per seed; a failure carries every unmet expectation, a skip
    /// its reason, and system-out the reproduction line and every image.
    pub fn junit(&self) -> String {
        let mut report = quick_junit::Report::new(format!("nowcam {}", self.target));
        for summary in self.summaries() {
            let mut suite = TestSuite::new(summary.scenario.as_str());
            for run in self.runs.iter().filter(|r| r.scenario == summary.scenario) {
                let status = match run.status {
                    Status::Passed => TestCaseStatus::success(),
                    Status::Failed => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        status.set_message(run.message.as_deref().unwrap_or("failed"));
                        status.set_type("verdict");
                        status.set_description(run.failures.join("\n"));
                        status
                    }
                    Status::Skipped => {
                        let mut status = TestCaseStatus::skipped();
                        status.set_message(run.message.as_deref().unwrap_or("skipped"));
                        status
                    }
                };
                let mut case = TestCase::new(format!("seed {}", run.seed), status);
                case.set_classname(run.scenario.as_str());
                if let Some(metrics) = &run.metrics {
                    case.set_time(std::time::Duration::from_secs_f64(metrics.sim_time_s.max(0.0)));
                }
                let mut out = format!("target: {}\nreproduce: {}\n", run.target, run.reproduce);
                if let Some(capture) = &run.capture {
                    let _ = writeln!(out, "capture: {capture}");
                }
                for image in &run.images {
                    let _ = writeln!(out, "{}", image_line(image));
                }
                case.set_system_out(out);
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        // Serializing an in-memory report to a String fails only on a writer error, which a String never gives.
        report.to_string().unwrap_or_default()
    }
}

/// One image in one line: sender, index, lengths, hashes and the result.
pub fn image_line(image: &ImageRecord) -> String {
    let received = match (&image.bytes_received, &image.sha256_received) {
        (Some(bytes), Some(sha256)) => format!("{bytes} bytes sha256 {sha256}"),
        _ => "nothing".to_owned(),
    };
    let result = match &image.result {
        ImageResult::Failed { error } => format!("failed: {error}"),
        other => other.name().to_owned(),
    };
    format!(
        "{} image {}: {result}; sent {} bytes sha256 {}, read back {received}",
        image.sender, image.image, image.bytes, image.sha256_sent
    )
}
