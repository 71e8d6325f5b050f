//! Each domain's best over time, for the whole network and per node: the records the
//! chain's accepted optimae set, read from `fact_chain_optimae` (this node's chain only,
//! imported reference chains excluded).
//!
//! A row is a *network record* when its verified performance beats every earlier accepted
//! optimae of its domain (chain order: block height, then position in the block), and a
//! *node record* when it beats every earlier one of the same optimizer. Performance is
//! higher-is-better, as everywhere in DOIN. Only records are returned, the newest
//! [`MAX_RECORDS`] at most, so the answer stays small on a long chain while the window
//! scan runs inside SQLite over the indexed table (accepted optimae, not blocks).

use doin_primitives::Timestamp;
use rusqlite::Connection;

use crate::error::StatsError;
use crate::reader::OlapReader;

/// Most records returned (the newest).
pub const MAX_RECORDS: i64 = 2_000;

/// One accepted optimae that set a record, network-wide or for its optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct BestPoint {
    /// The domain.
    pub domain_id: String,
    /// The optimizer's peer id.
    pub optimizer_id: String,
    /// The quorum's verified performance.
    pub performance: f64,
    /// The block carrying it.
    pub block_height: i64,
    /// The block's timestamp, Unix seconds (`None` if the stored text does not parse).
    pub time_secs: Option<f64>,
    /// Whether it beat every earlier optimae of its domain.
    pub network_record: bool,
    /// Whether it beat every earlier optimae of its optimizer (always true of a network
    /// record).
    pub node_record: bool,
}

const RECORDS: &str = "\
    SELECT domain_id, optimizer_id, verified_performance, block_height, block_timestamp, \
           network_best IS NULL OR verified_performance > network_best AS network_record, \
           node_best IS NULL OR verified_performance > node_best AS node_record \
    FROM ( \
        SELECT domain_id, optimizer_id, verified_performance, block_height, \
               block_timestamp, rowid AS position, \
               MAX(verified_performance) OVER (PARTITION BY domain_id \
                   ORDER BY block_height, rowid \
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS network_best, \
               MAX(verified_performance) OVER (PARTITION BY domain_id, optimizer_id \
                   ORDER BY block_height, rowid \
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS node_best \
        FROM fact_chain_optimae \
        WHERE imported_from IS NULL AND verified_performance IS NOT NULL) \
    WHERE network_best IS NULL OR verified_performance > network_best \
       OR node_best IS NULL OR verified_performance > node_best \
    ORDER BY block_height DESC, position DESC \
    LIMIT ?1";

/// The records of every domain on `conn`, oldest first (the newest `limit`).
pub fn best_over_time(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<BestPoint>> {
    let mut st = conn.prepare_cached(RECORDS)?;
    let mut points = st
        .query_map([limit], |row| {
            let stamp: Option<String> = row.get(4)?;
            Ok(BestPoint {
                domain_id: row.get(0)?,
                optimizer_id: row.get(1)?,
                performance: row.get(2)?,
                block_height: row.get(3)?,
                time_secs: stamp
                    .and_then(|s| Timestamp::parse_str(&s).ok())
                    .map(|t| t.unix_secs_f64()),
                network_record: row.get(5)?,
                node_record: row.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    points.reverse();
    Ok(points)
}

impl OlapReader {
    /// Each domain's records, network-wide and per node, oldest first (the newest
    /// [`MAX_RECORDS`]).
    pub fn best_over_time(&self) -> Result<Vec<BestPoint>, StatsError> {
        best_over_time(self.connection(), MAX_RECORDS).map_err(|source| StatsError::Olap {
            path: self.path().to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChainOptimaeRow;
    use crate::olap::insert_fact_chain_optimae;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("memory db");
        crate::schema::create_or_check(&conn, std::path::Path::new(":memory:")).expect("schema");
        conn
    }

    fn row(conn: &Connection, n: usize, domain: &str, optimizer: &str, perf: f64, height: i64) {
        let r = ChainOptimaeRow {
            optimae_id: format!("opt-{n}"),
            domain_id: domain.into(),
            optimizer_id: optimizer.into(),
            verified_performance: perf,
            block_height: height,
            block_timestamp: Timestamp::from_unix_secs(1_800_000_000 + height).isoformat(),
            ..ChainOptimaeRow::default()
        };
        insert_fact_chain_optimae(conn, &r, None, "now", None).expect("insert");
    }

    fn summary(points: &[BestPoint]) -> Vec<(String, f64, bool, bool)> {
        points
            .iter()
            .map(|p| {
                (
                    format!("{}/{}", p.domain_id, p.optimizer_id),
                    p.performance,
                    p.network_record,
                    p.node_record,
                )
            })
            .collect()
    }

    #[test]
    fn records_are_network_wide_and_per_node_in_chain_order() {
        let conn = db();
        row(&conn, 1, "d", "a", -5.0, 2);
        row(&conn, 2, "d", "b", -7.0, 3); // b's first: a node record, not the network's
        row(&conn, 3, "d", "a", -6.0, 3); // worse than a's own best: no record
        row(&conn, 4, "d", "b", -4.0, 4); // beats everyone
        row(&conn, 5, "d", "a", -4.5, 5); // beats a's best, not b's
        row(&conn, 6, "e", "a", -9.0, 5); // another domain starts its own records
        row(&conn, 7, "d", "b", -4.0, 6); // equal is not better
        let got = summary(&best_over_time(&conn, 100).expect("records"));
        let want = vec![
            ("d/a".to_owned(), -5.0, true, true),
            ("d/b".to_owned(), -7.0, false, true),
            ("d/b".to_owned(), -4.0, true, true),
            ("d/a".to_owned(), -4.5, false, true),
            ("e/a".to_owned(), -9.0, true, true),
        ];
        assert_eq!(got, want);
        let first = &best_over_time(&conn, 100).expect("records")[0];
        assert_eq!(first.time_secs, Some(1_800_000_002.0));
    }

    #[test]
    fn the_newest_records_are_kept_and_imported_rows_ignored() {
        let conn = db();
        for i in 0..10 {
            row(&conn, i, "d", "a", i as f64, i as i64 + 1);
        }
        let imported = ChainOptimaeRow {
            optimae_id: "imported".into(),
            domain_id: "d".into(),
            optimizer_id: "ref".into(),
            verified_performance: 100.0,
            block_height: 3,
            block_timestamp: "2020-01-01T00:00:00".into(),
            ..ChainOptimaeRow::default()
        };
        insert_fact_chain_optimae(&conn, &imported, None, "now", Some("archive")).expect("row");
        let got = best_over_time(&conn, 3).expect("records");
        let perfs: Vec<f64> = got.iter().map(|p| p.performance).collect();
        assert_eq!(perfs, vec![7.0, 8.0, 9.0]);
        assert!(got
            .iter()
            .all(|p| p.network_record && p.optimizer_id == "a"));
    }
}
