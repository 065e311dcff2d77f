//! Recording several facts in order: each is appended and applied before the next.

use super::DnsActor;
use crate::actors::journal::commit;
use crate::events::catalogue::DnsEvent;
use actix::prelude::*;

/// Appends `events` one after the other; resolves to how many were recorded. A failed append
/// stops the chain (the effect already happened; the next pass finds it and adopts it).
pub(super) fn commit_all(
    act: &mut DnsActor,
    events: Vec<DnsEvent>,
    correlation: String,
) -> ResponseActFuture<DnsActor, usize> {
    let mut rest = events.into_iter();
    match rest.next() {
        None => Box::pin(fut::ready(0)),
        Some(first) => Box::pin(commit(act, first.into(), &correlation).then(
            move |r, act, _| -> ResponseActFuture<DnsActor, usize> {
                match r {
                    Ok(_) => {
                        Box::pin(commit_all(act, rest.collect(), correlation).map(|n, _, _| n + 1))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "recording a DNS fact failed");
                        Box::pin(fut::ready(0))
                    }
                }
            },
        )),
    }
}
