//! The transcript printed by `flashsale lab NAME --print`: every step, who ran it, the
//! SQL, what SQLite answered, whether that was expected, and the narration.

use std::io::Write;

use super::runner::{Check, StepRecord, run_all};
use super::scenario::Scenario;
use super::session::{Outcome, row_text};
use crate::error::Error;

/// Runs `scenario` in its written order on a fresh database and prints the transcript.
/// Returns whether every expectation was met.
///
/// # Errors
/// The database cannot be set up, or writing fails.
pub fn print(scenario: &Scenario, out: &mut impl Write) -> Result<bool, Error> {
    let records = run_all(scenario)?;
    header(scenario, out)?;
    for record in &records {
        step(scenario, record, out)?;
    }
    footer(scenario, &records, out)
}

fn header(scenario: &Scenario, out: &mut impl Write) -> Result<(), Error> {
    writeln!(out, "{}: {}", scenario.name, scenario.title)?;
    if !scenario.summary.is_empty() {
        writeln!(out, "{}", scenario.summary)?;
    }
    if let Some(strategy) = &scenario.strategy {
        writeln!(out, "strategy: {strategy}")?;
    }
    for s in &scenario.sessions {
        let label = if s.label.is_empty() { "" } else { &s.label };
        writeln!(
            out,
            "session {}: {label} (own connection, busy timeout {} ms)",
            s.name, s.busy_timeout_ms
        )?;
    }
    writeln!(
        out,
        "database: a new temporary file with the shop's own schema (schema.sql and its migrations, WAL mode); the scenario adds its rows"
    )?;
    writeln!(out)?;
    Ok(())
}

fn step(scenario: &Scenario, r: &StepRecord, out: &mut impl Write) -> Result<(), Error> {
    let Some(index) = r.step else { return Ok(()) };
    let spec = &scenario.steps[index];
    let session = &scenario.sessions[r.session].name;
    let retry = if spec.retry { " (retry)" } else { "" };
    writeln!(out, "step {}  {session}{retry}  {}", index + 1, r.sql)?;
    if let Some(guard) = &spec.when {
        writeln!(out, "        when:     {guard}")?;
    }
    writeln!(out, "        result:   {}", result_line(&r.outcome))?;
    match &r.check {
        Check::Unchecked => {}
        Check::Met => writeln!(out, "        expected: met")?,
        Check::Missed(why) => writeln!(out, "        MISMATCH: {why}")?,
    }
    let states: Vec<String> = scenario
        .sessions
        .iter()
        .zip(&r.states)
        .map(|(s, st)| format!("{} {}, {}", s.name, st.word(), st.holds()))
        .collect();
    writeln!(out, "        sessions: {}", states.join("; "))?;
    for change in &r.changes {
        let columns = r
            .rows
            .table(&change.table)
            .map(|t| t.columns.clone())
            .unwrap_or_default();
        writeln!(out, "        committed: {}", change.describe(&columns))?;
    }
    if let Some((who, changes)) = &r.pending {
        for change in changes {
            let columns = r
                .rows
                .table(&change.table)
                .map(|t| t.columns.clone())
                .unwrap_or_default();
            writeln!(
                out,
                "        uncommitted in {}: {}",
                scenario.sessions[*who].name,
                change.describe(&columns)
            )?;
        }
    }
    for a in &r.audit {
        if a.oversold() != 0 || spec.oversold.is_some() {
            writeln!(out, "        audit:    {}", a.equation())?;
        }
    }
    if !spec.narration.is_empty() {
        writeln!(out, "        {}", spec.narration)?;
    }
    writeln!(out)?;
    Ok(())
}

/// The result with SQLite's message and, for BUSY, whether a timeout would have helped.
fn result_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed {
            message,
            would_wait,
            kind,
            ..
        } => {
            let mut line = format!("{} ({message})", outcome.summary());
            if *kind == super::session::FailKind::Busy {
                line.push_str(if *would_wait {
                    " - a busy timeout would wait for the lock here"
                } else {
                    " - at once: this session holds a snapshot, so no busy timeout helps"
                });
            }
            line
        }
        other => other.summary(),
    }
}

fn footer(
    scenario: &Scenario,
    records: &[StepRecord],
    out: &mut impl Write,
) -> Result<bool, Error> {
    if let Some(last) = records.last() {
        writeln!(out, "final committed rows:")?;
        for table in &last.rows.tables {
            writeln!(out, "  {} ({})", table.name, table.columns.join(", "))?;
            for row in &table.rows {
                writeln!(out, "    {}", row_text(row))?;
            }
        }
        for a in &last.audit {
            writeln!(out, "  audit: {}", a.equation())?;
        }
    }
    if !scenario.lesson.is_empty() {
        writeln!(out, "lesson: {}", scenario.lesson)?;
    }
    let checked = records
        .iter()
        .filter(|r| r.check != Check::Unchecked)
        .count();
    let missed: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.check {
            Check::Missed(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    if missed.is_empty() {
        writeln!(out, "result: all {checked} expectations met")?;
    } else {
        writeln!(
            out,
            "result: {} of {checked} expectations NOT met",
            missed.len()
        )?;
        for why in &missed {
            writeln!(out, "  {why}")?;
        }
    }
    Ok(missed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::scenario::built_in;

    #[test]
    fn every_built_in_scenario_meets_its_expectations() {
        for s in built_in().expect("built-ins parse") {
            let mut out = Vec::new();
            let ok = print(&s, &mut out).expect("runs");
            let text = String::from_utf8(out).expect("utf-8");
            assert!(ok, "{} did not meet its expectations:\n{text}", s.name);
        }
    }
}
