//! `?watch=true` on events: every Event as `ADDED`, first those derived so far (unless
//! resuming after a version), then those each new pods fact produces.

use super::derive::derive;
use super::{Reply, event_object, selected};
use crate::api::ApiState;
use crate::api::machinery::params::ListParams;
use crate::api::machinery::watch;
use crate::events::{Event, Record};
use actix_web::{HttpRequest, web};

/// `?watch=true`: every Event as `ADDED` (first those derived so far unless resuming after a
/// version), then the ones each new pod fact produces.
pub(super) async fn watch_events(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let watch::Begin {
        cluster,
        as_table,
        from,
        send_current,
    } = watch::begin(state, req, &params).await?;
    let mut deriver = derive(state, from.saturating_sub(1)).await?;
    let mut initial = Vec::new();
    if send_current {
        for e in &deriver.events {
            if selected(e, ns.as_deref(), &params)? {
                let rv = e
                    .metadata
                    .resource_version
                    .as_deref()
                    .and_then(|v| v.parse().ok());
                initial.push(watch::line(
                    "ADDED",
                    &event_object(e, as_table, rv.unwrap_or(0)),
                ));
            }
        }
    }
    let follow = watch::Follow::of(&params);
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(env) = record.decode() else {
            return Vec::new();
        };
        let Event::Pods(e) = &env.event else {
            return Vec::new();
        };
        deriver
            .record(record.seq, env.time, e)
            .iter()
            .filter(|k| selected(k, ns.as_deref(), &params).unwrap_or(false))
            .map(|k| watch::line("ADDED", &event_object(k, as_table, record.seq)))
            .collect()
    };
    let watched = watch::LogWatch::new("Event", from, on_record);
    Ok(watch::respond(&cluster, from, initial, follow, watched))
}
