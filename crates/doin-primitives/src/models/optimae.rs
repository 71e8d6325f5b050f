//! Optimae: an optimizer's claimed improvement on a domain, with its content id.
//!
//! The id covers what the optimizer proposed (domain, optimizer, parameters, time), never
//! the performance figures, so that verification can fill those in without changing it.

use crate::cjson::{write_map, write_str};
use crate::fields::{Fields, ModelError};
use crate::models::WireModel;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// A proposed solution for a domain and the performance claimed and verified for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimae {
    /// The id as received or computed (see [`Optimae::compute_id`]).
    pub id: String,
    /// The domain it solves.
    pub domain_id: String,
    /// The peer that found it.
    pub optimizer_id: String,
    /// The solution (free-form; int and float kept apart).
    pub parameters: Map,
    /// The performance the optimizer reports.
    pub reported_performance: f64,
    /// The performance the quorum measured, once known.
    pub verified_performance: Option<f64>,
    /// The improvement over the domain's previous best.
    pub performance_increment: f64,
    /// When it was proposed.
    pub timestamp: Timestamp,
    /// Whether the quorum accepted it.
    pub accepted: bool,
}

/// Appends the CJSON id preimage `{"domain_id", "optimizer_id", "parameters", "timestamp"}`.
pub fn write_optimae_id_preimage(
    domain_id: &str,
    optimizer_id: &str,
    parameters: &Map,
    timestamp: Timestamp,
    s: &mut String,
) {
    s.push_str("{\"domain_id\": ");
    write_str(domain_id, s);
    s.push_str(", \"optimizer_id\": ");
    write_str(optimizer_id, s);
    s.push_str(", \"parameters\": ");
    write_map(parameters, s);
    s.push_str(", \"timestamp\": \"");
    timestamp.write_iso(s, false);
    s.push_str("\"}");
}

/// The reference's optimae id of these four values.
pub fn optimae_id(
    domain_id: &str,
    optimizer_id: &str,
    parameters: &Map,
    timestamp: Timestamp,
) -> String {
    crate::hash::sha256_hex_of(|buf| {
        write_optimae_id_preimage(domain_id, optimizer_id, parameters, timestamp, buf)
    })
}

impl Optimae {
    /// A new, not yet verified optimae with its id computed.
    pub fn new(
        domain_id: impl Into<String>,
        optimizer_id: impl Into<String>,
        parameters: Map,
        reported_performance: f64,
        timestamp: Timestamp,
    ) -> Self {
        let mut o = Optimae {
            id: String::new(),
            domain_id: domain_id.into(),
            optimizer_id: optimizer_id.into(),
            parameters,
            reported_performance,
            verified_performance: None,
            performance_increment: 0.0,
            timestamp,
            accepted: false,
        };
        o.id = o.compute_id();
        o
    }

    /// The CJSON preimage of the id.
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        write_optimae_id_preimage(
            &self.domain_id,
            &self.optimizer_id,
            &self.parameters,
            self.timestamp,
            &mut s,
        );
        s
    }

    /// The reference id: `sha256_hex(CJSON(preimage))`.
    pub fn compute_id(&self) -> String {
        optimae_id(
            &self.domain_id,
            &self.optimizer_id,
            &self.parameters,
            self.timestamp,
        )
    }

    /// Whether the carried id matches the content.
    pub fn id_is_valid(&self) -> bool {
        self.id == self.compute_id()
    }
}

impl WireModel for Optimae {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Optimae", v)?;
        let mut o = Optimae {
            id: f.str_or("id", "")?,
            domain_id: f.str("domain_id")?,
            optimizer_id: f.str("optimizer_id")?,
            parameters: f.map_req("parameters")?,
            reported_performance: f.f64("reported_performance")?,
            verified_performance: f.opt_f64("verified_performance")?,
            performance_increment: f.f64_or("performance_increment", 0.0)?,
            timestamp: f.timestamp("timestamp")?,
            accepted: f.bool_or("accepted", false)?,
        };
        if o.id.is_empty() {
            o.id = o.compute_id();
        }
        Ok(o)
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "id" => self.id.clone(),
            "domain_id" => self.domain_id.clone(),
            "optimizer_id" => self.optimizer_id.clone(),
            "parameters" => self.parameters.clone(),
            "reported_performance" => self.reported_performance,
            "verified_performance" => self.verified_performance,
            "performance_increment" => self.performance_increment,
            "timestamp" => self.timestamp.wire(),
            "accepted" => self.accepted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let ts = Timestamp::parse_str("2026-01-01T00:00:00+00:00").unwrap_or(Timestamp::EPOCH);
        let o = Optimae::new("d1", "p1", crate::map! {"x" => 1i64}, 0.5, ts);
        assert_eq!(
            o.id,
            "53c6e8cd9fdf0b5172b42e09a49610f5f4cf26bd49317f0e2aee2182fcb2a999"
        );
    }
}
