//! The per-round experiment CSV (`experiment_stats_file`): the reference tracker's 51
//! columns in its order, one line per optimization round.
//!
//! The file is append-only and survives crashes: every row is one `write_all` of the whole
//! line on a file opened in append mode (so a kill loses at most the round in progress and
//! never interleaves rows), the header is written only when the file is new or empty, and a
//! torn last line left by a crash mid-write is cut off when the file is opened again.
//! Values are written as the reference's Python `csv` module writes them: floats in
//! `repr`, booleans as `True`/`False`, `None` as an empty field, JSON columns with sorted
//! keys, quoting only where a field needs it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use doin_primitives::float_repr::write_py_repr;

use crate::error::StatsError;
use crate::model::{ExperimentInfo, RoundRecord};

/// The reference's CSV columns, in its order.
pub const CSV_COLUMNS: [&str; 51] = [
    "experiment_id",
    "round_id",
    "domain_id",
    "node_id",
    "timestamp_utc",
    "wall_clock_seconds",
    "experiment_start_utc",
    "time_to_current_best_seconds",
    "time_to_target_seconds",
    "total_rounds",
    "round_number",
    "performance",
    "best_performance",
    "target_performance",
    "performance_delta",
    "converged",
    "parameters",
    "best_parameters",
    "optimization_config",
    "param_bounds",
    "hostname",
    "optimizer_plugin",
    "performance_metric",
    "metric_schema",
    "higher_is_better",
    "doin_version",
    "chain_height",
    "peers_count",
    "block_reward_earned",
    "train_mae",
    "train_naive_mae",
    "val_mae",
    "val_naive_mae",
    "test_mae",
    "test_naive_mae",
    "generation",
    "stage",
    "total_stages",
    "stage_name",
    "gen_in_stage",
    "n_generations_stage",
    "n_generations_total",
    "total_candidates_evaluated",
    "population_size",
    "no_improve_counter",
    "optimization_patience",
    "avg_fitness",
    "best_fitness_gen",
    "neat_species_count",
    "neat_avg_complexity",
    "metrics",
];

/// An open experiment CSV, appending one line per round.
#[derive(Debug)]
pub struct ExperimentCsv {
    file: File,
    path: PathBuf,
}

impl ExperimentCsv {
    /// Opens (or creates) the CSV at `path`: cuts a torn last line, writes the header if
    /// the file is empty, and appends from then on.
    pub fn open(path: &Path) -> Result<ExperimentCsv, StatsError> {
        let io = |source| StatsError::Csv {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let keep = complete_prefix_len(&mut file).map_err(io)?;
        if keep < file.metadata().map_err(io)?.len() {
            tracing::warn!(
                "{}: cutting a torn last line left by a crash",
                path.display()
            );
            file.set_len(keep).map_err(io)?;
        }
        drop(file);
        let mut file = OpenOptions::new().append(true).open(path).map_err(io)?;
        if keep == 0 {
            let mut header = CSV_COLUMNS.join(",");
            header.push_str("\r\n");
            file.write_all(header.as_bytes()).map_err(io)?;
        }
        Ok(ExperimentCsv {
            file,
            path: path.to_owned(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the round's line with one `write_all` (the OS has it when this returns).
    pub fn append(
        &mut self,
        experiment: &ExperimentInfo,
        round: &RoundRecord,
    ) -> Result<(), StatsError> {
        let line = csv_line(experiment, round);
        self.file
            .write_all(line.as_bytes())
            .map_err(|source| StatsError::Csv {
                path: self.path.clone(),
                source,
            })
    }
}

/// Length of the file up to and including its last line break (0 when it has none).
fn complete_prefix_len(file: &mut File) -> std::io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The 51 fields of a round's line, unquoted, in [`CSV_COLUMNS`] order. Columns our
/// optimizers have no figure for (the MAEs, island-model generations and stages) are empty,
/// as the reference leaves them for domains without those metrics.
pub fn csv_fields(e: &ExperimentInfo, r: &RoundRecord) -> Vec<String> {
    let float = |f: f64| {
        let mut s = String::new();
        write_py_repr(f, &mut s);
        s
    };
    let opt_float = |f: Option<f64>| f.map(float).unwrap_or_default();
    let boolean = |b: bool| if b { "True" } else { "False" }.to_owned();
    let mut out = vec![
        r.experiment_id.clone(),
        r.round_id.clone(),
        r.domain_id.clone(),
        e.node_id.clone(),
        r.timestamp.isoformat(),
        float(r.wall_clock_seconds),
        e.started_at.isoformat(),
        float(r.time_to_current_best_seconds),
        opt_float(r.time_to_target_seconds),
        r.round_number.to_string(),
        r.round_number.to_string(),
        float(r.performance),
        float(r.best_performance),
        opt_float(e.target_performance),
        float(r.performance_delta),
        boolean(r.converged),
        r.parameters.clone(),
        r.best_parameters.clone(),
        e.optimization_config.clone(),
        e.param_bounds.clone(),
        e.hostname.clone(),
        e.optimizer_plugin.clone(),
        e.performance_metric.clone(),
        e.metric_schema.clone(),
        boolean(e.higher_is_better),
        e.doin_version.clone(),
        r.chain_height.to_string(),
        r.peers_count.to_string(),
        float(0.0),
    ];
    // train/val/test MAEs and the island-model columns up to total_candidates_evaluated.
    out.resize(42, String::new());
    out.push(r.round_number.to_string()); // total_candidates_evaluated: one per round
    out.resize(50, String::new());
    out.push(r.metrics.clone());
    out
}

/// A round's CSV line, with the reference's `\r\n` terminator.
pub fn csv_line(e: &ExperimentInfo, r: &RoundRecord) -> String {
    let mut line = String::with_capacity(512);
    for (i, field) in csv_fields(e, r).iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        write_field(field, &mut line);
    }
    line.push_str("\r\n");
    line
}

/// Python `csv.QUOTE_MINIMAL`: quote a field holding a delimiter, quote or line break.
fn write_field(field: &str, out: &mut String) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Splits one CSV line (without its terminator) into fields, undoing the quoting.
pub fn parse_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::Timestamp;

    pub(crate) fn experiment() -> ExperimentInfo {
        ExperimentInfo {
            experiment_id: "e1".into(),
            domain_id: "quadratic".into(),
            node_id: "n1".into(),
            hostname: "host".into(),
            optimizer_plugin: "simple_quadratic".into(),
            performance_metric: "fitness".into(),
            metric_schema: String::new(),
            higher_is_better: true,
            optimization_config: r#"{"n_params": 2, "step_size": 0.5}"#.into(),
            param_bounds: r#"{"x": [-20.0, 20.0]}"#.into(),
            target_performance: Some(-1.0),
            started_at: Timestamp::from_unix_secs(1_767_225_600),
            doin_version: "0.1.0".into(),
        }
    }

    fn round(n: u64) -> RoundRecord {
        RoundRecord {
            round_id: format!("r{n}"),
            experiment_id: "e1".into(),
            domain_id: "quadratic".into(),
            round_number: n,
            timestamp: Timestamp::from_unix_secs(1_767_225_600 + n as i64),
            performance: -10.0 / n as f64,
            best_performance: -10.0 / n as f64,
            performance_delta: 0.5,
            is_improvement: true,
            parameters: r#"{"x": [1.0, 2.0]}"#.into(),
            best_parameters: r#"{"x": [1.0, 2.0]}"#.into(),
            wall_clock_seconds: 0.25,
            elapsed_seconds: n as f64,
            time_to_current_best_seconds: n as f64,
            time_to_target_seconds: None,
            chain_height: 3,
            peers_count: 0,
            converged: false,
            metrics: "{}".into(),
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).expect("read");
        assert!(text.ends_with("\r\n"), "file ends with a complete line");
        text.split_terminator("\r\n").map(str::to_owned).collect()
    }

    #[test]
    fn columns_are_the_reference_51_in_order() {
        assert_eq!(CSV_COLUMNS.len(), 51);
        assert_eq!(
            &CSV_COLUMNS[..5],
            &[
                "experiment_id",
                "round_id",
                "domain_id",
                "node_id",
                "timestamp_utc"
            ]
        );
        assert_eq!(CSV_COLUMNS[25], "doin_version");
        assert_eq!(CSV_COLUMNS[42], "total_candidates_evaluated");
        assert_eq!(CSV_COLUMNS[50], "metrics");
        let f = csv_fields(&experiment(), &round(3));
        assert_eq!(f.len(), 51);
        let at =
            |name: &str| f[CSV_COLUMNS.iter().position(|c| *c == name).expect("column")].clone();
        assert_eq!(at("round_number"), "3");
        assert_eq!(at("total_rounds"), "3");
        assert_eq!(at("performance"), "-3.3333333333333335");
        assert_eq!(at("converged"), "False");
        assert_eq!(at("higher_is_better"), "True");
        assert_eq!(at("target_performance"), "-1.0");
        assert_eq!(at("time_to_target_seconds"), "");
        assert_eq!(at("train_mae"), "");
        assert_eq!(at("block_reward_earned"), "0.0");
        assert_eq!(at("total_candidates_evaluated"), "3");
        assert_eq!(at("timestamp_utc"), "2026-01-01T00:00:03+00:00");
        assert_eq!(at("param_bounds"), r#"{"x": [-20.0, 20.0]}"#);
    }

    #[test]
    fn header_once_rows_appended_across_reopens_and_quoting_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/experiment_stats.csv");
        let mut csv = ExperimentCsv::open(&path).expect("open");
        csv.append(&experiment(), &round(1)).expect("row");
        drop(csv);
        let mut csv = ExperimentCsv::open(&path).expect("reopen");
        csv.append(&experiment(), &round(2)).expect("row");
        let l = lines(&path);
        assert_eq!(l.len(), 3, "header + 2 rows: {l:?}");
        assert_eq!(l[0], CSV_COLUMNS.join(","));
        for (i, line) in l[1..].iter().enumerate() {
            let f = parse_line(line);
            assert_eq!(f.len(), 51);
            assert_eq!(f, csv_fields(&experiment(), &round(i as u64 + 1)));
        }
    }

    #[test]
    fn a_torn_last_line_is_cut_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.csv");
        let mut csv = ExperimentCsv::open(&path).expect("open");
        csv.append(&experiment(), &round(1)).expect("row");
        drop(csv);
        let torn = &csv_line(&experiment(), &round(2))[..40];
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(torn.as_bytes()).expect("torn write");
        drop(f);
        let mut csv = ExperimentCsv::open(&path).expect("reopen repairs");
        csv.append(&experiment(), &round(3)).expect("row");
        let l = lines(&path);
        assert_eq!(l.len(), 3);
        assert_eq!(parse_line(&l[2])[10], "3");

        // A file that is nothing but a torn header starts over with a header.
        std::fs::write(&path, "experiment_id,rou").expect("write");
        ExperimentCsv::open(&path).expect("reopen");
        assert_eq!(lines(&path), vec![CSV_COLUMNS.join(",")]);
    }
}
