/*! The results: figures with their units and targets, the console table, and
`docs/PERFORMANCE.md`. The file's structure is fixed (run, figures, figures in sections of their
own, details, method, notes) so a later run regenerates it in place and two versions diff figure
by figure. */

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::stats::{Samples, Stat};

/// The unit a figure's samples are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Ns,
    /// Percent of one CPU core.
    Percent,
    MiB,
    /// Processes spawned per coordinator tick.
    PerTick,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Self::Ms => "ms",
            Self::Ns => "ns",
            Self::Percent => "%",
            Self::MiB => "MiB",
            Self::PerTick => "/tick",
        }
    }

    pub fn format(self, value: f64) -> String {
        let digits = match self {
            Self::Percent => 3,
            Self::MiB | Self::PerTick => 1,
            _ if value.abs() < 10.0 => 2,
            _ if value.abs() < 100.0 => 1,
            _ => 0,
        };
        format!("{value:.digits$} {}", self.suffix())
    }
}

/// A condition beside the numbers, e.g. "every send returned `submitted`".
#[derive(Debug, Clone)]
pub struct Condition {
    pub holds: bool,
    pub says: String,
}

/// What a figure should reach, and what the reference system reached.
#[derive(Debug, Clone)]
pub struct Target {
    /// Each statistic must be at most its limit (in the figure's unit).
    pub limits: Vec<(Stat, f64)>,
    pub condition: Option<Condition>,
    /// The target as written in its issue (8, or 14 for the hooks), e.g. "≤ 60 ms".
    pub text: &'static str,
    /// The reference system's figure, e.g. "166 ms".
    pub reference: &'static str,
    /// Why the figure misses its target when it does (what the harness shows the time goes to,
    /// and what it would take), printed under the figures.
    pub why_not: Option<&'static str>,
}

impl Target {
    pub fn at_most(stat: Stat, limit: f64, text: &'static str, reference: &'static str) -> Self {
        Self {
            limits: vec![(stat, limit)],
            condition: None,
            text,
            reference,
            why_not: None,
        }
    }

    /// What the report says when this target is not met.
    pub fn unless_met(mut self, why: &'static str) -> Self {
        self.why_not = Some(why);
        self
    }

    pub fn and(mut self, stat: Stat, limit: f64) -> Self {
        self.limits.push((stat, limit));
        self
    }

    pub fn provided(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    NotMet,
    NoTarget,
    NoData,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotMet => "NOT MET",
            Self::NoTarget => "",
            Self::NoData => "no data",
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub unit: Unit,
    pub samples: Samples,
    pub target: Option<Target>,
    /// What `n` counts: "runs", "messages", "10-s slices", …
    pub counts: &'static str,
    /// The report section of its own it goes in (its title), after the main figures; `None` for
    /// the main table.
    pub section: Option<String>,
}

impl Figure {
    pub fn new(
        name: impl Into<String>,
        unit: Unit,
        samples: Samples,
        counts: &'static str,
    ) -> Self {
        Self {
            name: name.into(),
            unit,
            samples,
            target: None,
            counts,
            section: None,
        }
    }

    pub fn in_section(mut self, title: impl Into<String>) -> Self {
        self.section = Some(title.into());
        self
    }

    pub fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    pub fn verdict(&self) -> Verdict {
        let Some(target) = &self.target else {
            return Verdict::NoTarget;
        };
        if self.samples.is_empty() {
            return Verdict::NoData;
        }
        let within = target.limits.iter().all(|(stat, limit)| {
            // Means of quantised samples (clock ticks) land a rounding error above a limit
            // they equal.
            self.samples
                .stat(*stat)
                .is_some_and(|v| v <= *limit * (1.0 + 1e-9))
        });
        let condition = target.condition.as_ref().is_none_or(|c| c.holds);
        if within && condition {
            Verdict::Met
        } else {
            Verdict::NotMet
        }
    }

    fn cell(&self, stat: Stat) -> String {
        self.samples
            .stat(stat)
            .map(|v| self.unit.format(v))
            .unwrap_or_else(|| "—".into())
    }

    fn target_cell(&self) -> String {
        match &self.target {
            None => "—".into(),
            Some(t) => {
                let on: Vec<&str> = t.limits.iter().map(|(s, _)| s.label()).collect();
                let mut text = format!("{} ({}) [{}]", t.text, on.join(", "), t.reference);
                if let Some(c) = &t.condition {
                    write!(text, "; {}", c.says).ok();
                }
                text
            }
        }
    }
}

/// Facts about the run, shown above the figures.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub rows: Vec<(String, String)>,
}

/// Everything a run produced.
#[derive(Debug, Default)]
pub struct Report {
    pub run: RunInfo,
    pub figures: Vec<Figure>,
    /// Further tables (`## title` + markdown), e.g. the breakdown of `up`.
    pub details: Vec<(String, String)>,
    pub notes: Vec<String>,
}

const STATS: [Stat; 5] = [Stat::Median, Stat::P95, Stat::P99, Stat::Max, Stat::Mean];

impl Report {
    pub fn add(&mut self, figure: Figure) {
        self.figures.push(figure);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The figures as an aligned plain-text table.
    pub fn console_table(&self) -> String {
        let mut rows = vec![vec![
            "figure".to_string(),
            "median".into(),
            "p95".into(),
            "p99".into(),
            "max".into(),
            "mean".into(),
            "n".into(),
            "target [reference]".into(),
            "".into(),
        ]];
        let mut section = None;
        for f in &self.figures {
            if f.section != section {
                section = f.section.clone();
                let mut title = vec![format!("[{}]", section.as_deref().unwrap_or(""))];
                title.resize(rows[0].len(), String::new());
                rows.push(title);
            }
            let mut row = vec![f.name.clone()];
            row.extend(STATS.iter().map(|s| f.cell(*s)));
            row.push(f.samples.len().to_string());
            row.push(f.target_cell());
            row.push(f.verdict().label().into());
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    let pad = w - cell.chars().count();
                    if (1..=STATS.len()).contains(&i) {
                        format!("{}{cell}", " ".repeat(pad))
                    } else {
                        format!("{cell}{}", " ".repeat(pad))
                    }
                })
                .collect();
            writeln!(out, "{}", cells.join("  ").trim_end()).ok();
        }
        out
    }

    /// `docs/PERFORMANCE.md`.
    pub fn markdown(&self, method: &str) -> String {
        let mut md = String::from(
            "# Performance\n\n\
             Generated by the benchmark harness (`bench/`, binary `team-agent-bench`); do not edit by \
             hand. Regenerate on a quiet machine with\n\n\
             ```sh\ncargo build --release --workspace && target/release/team-agent-bench --full\n```\n\n\
             Targets and the reference system's figures (v0.5.66, its own fake provider, same kind of \
             2-core machine) come from issue 8; those of the hook figures (turn's end → status idle) \
             from issue 14, whose references are this project's own figures before hooks. Timings \
             are measured, never asserted: a figure that \
             misses its target is marked NOT MET, and the run still succeeds.\n\n## Run\n\n\
             | | |\n|---|---|\n",
        );
        for (key, value) in &self.run.rows {
            writeln!(md, "| {key} | {} |", escape(value)).ok();
        }
        md.push_str("\n## Figures\n\n");
        figure_table(&mut md, self.figures.iter().filter(|f| f.section.is_none()));
        let missed: Vec<&str> = self
            .figures
            .iter()
            .filter(|f| matches!(f.verdict(), Verdict::NotMet | Verdict::NoData))
            .map(|f| f.name.as_str())
            .collect();
        let met = self
            .figures
            .iter()
            .filter(|f| f.verdict() == Verdict::Met)
            .count();
        writeln!(
            md,
            "\n{met} of {} targets met.{}",
            met + missed.len(),
            if missed.is_empty() {
                String::new()
            } else {
                format!(" Not met: {}.", missed.join("; "))
            }
        )
        .ok();
        let explained: Vec<String> = self
            .figures
            .iter()
            .filter(|f| f.verdict() == Verdict::NotMet)
            .filter_map(|f| {
                let why = f.target.as_ref()?.why_not?;
                Some(format!("- **{}**: {why}\n", f.name))
            })
            .collect();
        if !explained.is_empty() {
            md.push_str("\n### Targets not met, and why\n\n");
            md.extend(explained);
        }
        let mut sections: Vec<&str> = Vec::new();
        for title in self.figures.iter().filter_map(|f| f.section.as_deref()) {
            if !sections.contains(&title) {
                sections.push(title);
            }
        }
        for title in sections {
            write!(md, "\n## {title}\n\n").ok();
            figure_table(
                &mut md,
                self.figures
                    .iter()
                    .filter(|f| f.section.as_deref() == Some(title)),
            );
        }
        for (title, body) in &self.details {
            write!(md, "\n## {title}\n\n{body}").ok();
            if !body.ends_with('\n') {
                md.push('\n');
            }
        }
        write!(md, "\n## How each figure is measured\n\n{method}").ok();
        md.push_str("\n## Notes from this run\n\n");
        if self.notes.is_empty() {
            md.push_str("None.\n");
        }
        for note in &self.notes {
            writeln!(md, "- {note}").ok();
        }
        md
    }

    pub fn write(&self, path: &Path, method: &str) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, self.markdown(method))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The markdown table of `figures`.
fn figure_table<'a>(md: &mut String, figures: impl Iterator<Item = &'a Figure>) {
    md.push_str(
        "| figure | median | p95 | p99 | max | mean | n | target (compared on) [reference] | met |\n\
         |---|--:|--:|--:|--:|--:|--:|---|---|\n",
    );
    for f in figures {
        let stats: Vec<String> = STATS.iter().map(|s| f.cell(*s)).collect();
        writeln!(
            md,
            "| {} | {} | {} {} | {} | {} |",
            escape(&f.name),
            stats.join(" | "),
            f.samples.len(),
            f.counts,
            escape(&f.target_cell()),
            f.verdict().label()
        )
        .ok();
    }
}

/// A markdown table cell: pipes would end the cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(values: &[f64]) -> Figure {
        Figure::new("f", Unit::Ms, Samples::from_values(values.to_vec()), "runs")
    }

    #[test]
    fn a_target_is_met_only_when_every_limit_and_the_condition_hold() {
        let f = figure(&[1.0, 2.0, 30.0]);
        let target = Target::at_most(Stat::Median, 5.0, "≤ 5 ms", "5 s");
        assert_eq!(
            f.clone().with_target(target.clone()).verdict(),
            Verdict::Met
        );
        let strict = target.clone().and(Stat::Max, 20.0);
        assert_eq!(f.clone().with_target(strict).verdict(), Verdict::NotMet);
        let failed = target.provided(Condition {
            holds: false,
            says: "1 queued".into(),
        });
        assert_eq!(f.clone().with_target(failed).verdict(), Verdict::NotMet);
        assert_eq!(f.verdict(), Verdict::NoTarget);
        let empty = figure(&[]).with_target(Target::at_most(Stat::Max, 1.0, "", ""));
        assert_eq!(empty.verdict(), Verdict::NoData);
    }

    #[test]
    fn the_markdown_lists_every_figure_in_its_section_and_what_missed() {
        let mut report = Report::default();
        report.add(figure(&[10.0]).with_target(
            Target::at_most(Stat::Median, 5.0, "≤ 5 ms", "x").unless_met("the disk is slow"),
        ));
        report.add(figure(&[3.0]).with_target(
            Target::at_most(Stat::Median, 5.0, "≤ 5 ms", "x").unless_met("never printed"),
        ));
        report.add(figure(&[1.0]));
        report.add(figure(&[2.0]).in_section("Real CLIs"));
        let md = report.markdown("method\n");
        assert!(md.contains("| f | 10.0 ms |"));
        assert!(md.contains("### Targets not met, and why\n\n- **f**: the disk is slow\n"));
        assert!(
            !md.contains("never printed"),
            "a met target needs no reason"
        );
        let (main, rest) = md.split_once("## Real CLIs\n\n| figure |").unwrap();
        assert!(!main.contains("| f | 2.00 ms |") && rest.contains("| f | 2.00 ms |"));
        assert!(md.contains("1 of 2 targets met. Not met: f."));
        assert!(md.contains("## How each figure is measured\n\nmethod"));
    }
}
