//! What every mkube binary does as a process: stop when a supervisor sends SIGTERM or a user
//! presses Ctrl-C.

/// Resolves on SIGTERM or Ctrl-C (Ctrl-C only, where SIGTERM cannot be watched).
pub async fn shutdown_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
