//! The console in the browser (issue 18): static files under `/ui/`, compiled into the binary
//! from `ui/` (no separate process, no CDN, works offline). They hold no data — every figure
//! comes from the API with the user's token — so they are served without one. Every answer
//! carries a Content-Security-Policy that allows only these files (no inline script or style).
//!
//! `MKUBE_UI_DIR` serves the same names from a folder instead, for work on the console
//! without rebuilding mkube.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The console's files: name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../ui/favicon.svg"),
    ),
];

/// Only the console's own files, scripts and styles; the API on the same origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(to_index))
        .route("/ui/", web::get().to(index))
        .route("/ui/{file}", web::get().to(file));
}

/// Whether `path` is one of the console's (served without a token).
pub fn is_console(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The total size of the embedded files (the budget is 300 KiB).
pub fn embedded_bytes() -> usize {
    FILES.iter().map(|(_, _, b)| b.len()).sum()
}

async fn to_index() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

async fn index() -> HttpResponse {
    serve("index.html")
}

async fn file(req: HttpRequest) -> HttpResponse {
    serve(req.match_info().get("file").unwrap_or_default())
}

fn serve(name: &str) -> HttpResponse {
    let Some((_, content_type, embedded)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return secured(HttpResponse::NotFound())
            .content_type("text/plain; charset=utf-8")
            .body(format!("no such console file: {name}\n"));
    };
    // The embedded bytes are served as they are, without a copy.
    let from_disk = std::env::var_os("MKUBE_UI_DIR")
        .and_then(|dir| std::fs::read(std::path::Path::new(&dir).join(name)).ok());
    let body = match from_disk {
        Some(bytes) => web::Bytes::from(bytes),
        None => web::Bytes::from_static(embedded),
    };
    secured(HttpResponse::Ok())
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

fn secured(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_fits_its_budget_and_has_no_inline_script() {
        assert!(embedded_bytes() <= 300 * 1024, "{} bytes", embedded_bytes());
        let html = String::from_utf8_lossy(FILES[0].2);
        // Every <script> loads a file; no inline handlers (a strict CSP would block them).
        for part in html.split("<script").skip(1) {
            let tag = &part[..part.find('>').unwrap_or(part.len())];
            assert!(tag.contains("src="), "inline script: <script{tag}>");
        }
        assert!(!html.contains(" onclick="), "inline handler");
        assert!(!html.contains("style=\""), "inline style");
    }

    #[test]
    fn console_paths() {
        assert!(is_console("/ui") && is_console("/ui/") && is_console("/ui/console.js"));
        assert!(!is_console("/uix") && !is_console("/api/v1/pods"));
    }
}
