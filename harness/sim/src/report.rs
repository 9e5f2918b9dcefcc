//! Reports of a `nowcam run`: report.json, junit.xml (one testcase per
//! scenario and seed), summary.md (a GitHub Actions job summary) and the
//! terminal summary table.

use std::fmt::Write as _;

use crate::verdict::RunResult;

/// How one scenario and seed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// The backend cannot run it here (no board, no Wokwi token): never counted as passed.
    Skipped,
}

/// One scenario run with one seed, as the reports show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub target: String,
    pub status: Status,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    /// The command line that runs exactly this scenario and seed again.
    pub reproduce: String,
    /// The capture written for a failed run.
    pub capture: Option<String>,
    pub result: Option<RunResult>,
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
            if let Some(result) = &run.result {
                summary.frames += result.air.frames_sent;
                summary.retransmissions += result.retransmissions;
                times[index].0 += result.sim_time_s;
                times[index].1 += 1;
                summary.efficiency = summary.efficiency.min(result.efficiency);
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
                let _ = writeln!(
                    out,
                    "- `{}` seed {}: {}",
                    run.scenario,
                    run.seed,
                    run.message.as_deref().unwrap_or("failed")
                );
                let _ = writeln!(out, "  reproduce: `{}`", run.reproduce);
            }
        }
        out
    }

    /// JUnit XML: one testsuite per scenario, one testcase per seed.
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"nowcam {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            xml(&self.target),
            self.runs.len(),
            self.failed(),
            self.skipped()
        );
        for summary in self.summaries() {
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
                xml(&summary.scenario),
                summary.seeds,
                summary.failed,
                summary.skipped
            );
            for run in self.runs.iter().filter(|r| r.scenario == summary.scenario) {
                let time = run.result.as_ref().map_or(0.0, |r| r.sim_time_s);
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"seed {}\" time=\"{time:.6}\"",
                    xml(&run.scenario),
                    run.seed
                );
                match run.status {
                    Status::Passed => out.push_str("/>\n"),
                    Status::Failed => {
                        let message = run.message.as_deref().unwrap_or("failed");
                        let _ = writeln!(out, ">");
                        let _ = writeln!(
                            out,
                            "      <failure message=\"{}\">reproduce: {}</failure>",
                            xml(message),
                            xml(&run.reproduce)
                        );
                        if let Some(capture) = &run.capture {
                            let _ = writeln!(out, "      <system-out>capture: {}</system-out>", xml(capture));
                        }
                        out.push_str("    </testcase>\n");
                    }
                    Status::Skipped => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                            xml(run.message.as_deref().unwrap_or("skipped"))
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
