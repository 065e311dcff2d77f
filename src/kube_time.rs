//! Kubernetes `Time` (whole seconds, as the API serialises it) to and from chrono, for the
//! actors that build objects and the API that renders them.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub fn time(at: DateTime<Utc>) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::new(at.timestamp(), 0)
        .ok()
        .map(Time)
}

/// A `Time` back as chrono (for ages and ordering).
pub fn chrono_of(t: &Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), 0)
}
