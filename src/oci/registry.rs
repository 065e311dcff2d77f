//! HTTP(S) transport to one registry repository: scheme detection (HTTPS, then
//! plain HTTP), Basic and Bearer-token authentication, status mapping.

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use super::challenge::{self, Challenge};
use super::reference::Reference;

use super::error::OciError;
use super::options::{ClientOptions, tls_config};

/// Idle pooled connections are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected registry for one repository.
#[derive(Debug)]
pub struct Registry {
    pub(super) http: reqwest::Client,
    /// `scheme://host[:port]`
    pub(super) base: String,
    pub(super) repo: String,
    username: Option<String>,
    password: Option<String>,
    /// Current `Authorization` header value, once a challenge was answered.
    pub(super) auth: Option<String>,
}

impl Registry {
    /// An HTTP client built from `opts` (TLS, timeouts, bounded pool), to share between
    /// [`Registry::with_client`] handles.
    pub fn http_client(opts: &ClientOptions) -> Result<reqwest::Client, OciError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(opts)?)
            .dns_resolver(crate::resolve::Resolver::for_http())
            .no_proxy()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .pool_max_idle_per_host(opts.max_idle_per_host)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT);
        if let Some(limit) = opts.request_timeout {
            builder = builder.timeout(limit);
        }
        builder
            .build()
            .map_err(|e| OciError::Registry(format!("http client: {e}")))
    }

    /// A handle on `image`'s repository over an existing client, without probing: the scheme
    /// is `image.scheme`, else HTTPS.
    pub fn with_client(http: reqwest::Client, image: &Reference, opts: &ClientOptions) -> Self {
        let scheme = image.scheme.as_deref().unwrap_or("https");
        Self {
            http,
            base: format!("{scheme}://{}", image.host),
            repo: image.repo.clone(),
            username: opts.username.clone(),
            password: opts.password.clone(),
            auth: None,
        }
    }

    /// Build the client and find out which scheme the registry speaks.
    pub async fn connect(image: &Reference, opts: &ClientOptions) -> Result<Self, OciError> {
        let http = Self::http_client(opts)?;
        let schemes: Vec<&str> = match image.scheme.as_deref() {
            Some(s) => vec![s],
            None if opts.allow_plain_http => vec!["https", "http"],
            None => vec!["https"],
        };
        let mut first_error = None;
        for scheme in schemes {
            let base = format!("{scheme}://{}", image.host);
            match http.get(format!("{base}/v2/")).send().await {
                Ok(_) => {
                    return Ok(Self {
                        http,
                        base,
                        repo: image.repo.clone(),
                        username: opts.username.clone(),
                        password: opts.password.clone(),
                        auth: None,
                    });
                }
                Err(e) => {
                    let err = transport_error(&image.host, &e);
                    // A certificate problem means the registry does speak TLS:
                    // never downgrade to plain HTTP then.
                    if matches!(err, OciError::Certificate(_)) {
                        return Err(err);
                    }
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| OciError::Registry("no scheme".into())))
    }

    /// `GET /v2/<repo>/<kind>/<reference>`, authenticating once on 401.
    pub async fn get(
        &mut self,
        kind: &str,
        reference: &str,
        accept: Option<&str>,
    ) -> Result<Response, OciError> {
        self.send(Method::GET, kind, reference, accept).await
    }

    /// `HEAD /v2/<repo>/<kind>/<reference>`, authenticating once on 401.
    pub async fn head(
        &mut self,
        kind: &str,
        reference: &str,
        accept: Option<&str>,
    ) -> Result<Response, OciError> {
        self.send(Method::HEAD, kind, reference, accept).await
    }

    async fn send(
        &mut self,
        method: Method,
        kind: &str,
        reference: &str,
        accept: Option<&str>,
    ) -> Result<Response, OciError> {
        let url = format!("{}/v2/{}/{kind}/{reference}", self.base, self.repo);
        let mut answered = false;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(accept) = accept {
                req = req.header(ACCEPT, accept);
            }
            if let Some(auth) = &self.auth {
                req = req.header(AUTHORIZATION, auth);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| transport_error(&self.base, &e))?;
            match resp.status() {
                s if s.is_success() => return Ok(resp),
                StatusCode::UNAUTHORIZED if !answered => {
                    answered = true;
                    self.answer(resp.headers()).await?;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(OciError::Registry(format!(
                        "unauthorized: {}/{}",
                        self.host(),
                        self.repo
                    )));
                }
                StatusCode::NOT_FOUND => {
                    let what = if kind == "manifests" {
                        "manifest"
                    } else {
                        "blob"
                    };
                    return Err(OciError::NotFound(format!(
                        "{what} unknown: {}/{}:{reference}",
                        self.host(),
                        self.repo
                    )));
                }
                s => {
                    return Err(OciError::Registry(format!(
                        "{} answered {s} for {kind}/{reference}",
                        self.host()
                    )));
                }
            }
        }
    }

    pub(super) fn host(&self) -> &str {
        self.base.split_once("://").map_or(&self.base, |(_, h)| h)
    }

    /// Answer a 401's challenge, setting `self.auth`.
    async fn answer(&mut self, headers: &HeaderMap) -> Result<(), OciError> {
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(challenge::parse)
            .find(|c| c.scheme == "bearer" || c.scheme == "basic")
            .ok_or_else(|| OciError::Registry(format!("unauthorized: {}", self.host())))?;
        if challenge.scheme == "basic" {
            let basic = self.basic().ok_or_else(|| {
                OciError::Registry(format!("unauthorized: {} needs credentials", self.host()))
            })?;
            self.auth = Some(basic);
            return Ok(());
        }
        let token = self.fetch_token(&challenge).await?;
        self.auth = Some(format!("Bearer {token}"));
        Ok(())
    }

    fn basic(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let pass = self.password.as_deref().unwrap_or("");
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(format!("Basic {encoded}"))
    }

    /// `GET <realm>?service=…&scope=…`, Basic credentials when configured.
    async fn fetch_token(&self, challenge: &Challenge) -> Result<String, OciError> {
        let realm = challenge
            .params
            .get("realm")
            .ok_or_else(|| OciError::Registry("bearer challenge without realm".into()))?;
        let default_scope = format!("repository:{}:pull", self.repo);
        let scope = challenge.params.get("scope").unwrap_or(&default_scope);
        let mut query: Vec<(&str, &str)> = vec![("scope", scope.as_str())];
        if let Some(service) = challenge.params.get("service") {
            query.push(("service", service.as_str()));
        }
        let mut req = self.http.get(realm.as_str()).query(&query);
        if let Some(basic) = self.basic() {
            req = req.header(AUTHORIZATION, basic);
        }
        let resp = req.send().await.map_err(|e| transport_error(realm, &e))?;
        if !resp.status().is_success() {
            return Err(OciError::Registry(format!(
                "token request failed: {}",
                resp.status()
            )));
        }
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| OciError::Registry(format!("bad token answer: {e}")))?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| OciError::Registry("token answer without token".into()))
    }
}

/// Map a reqwest failure: certificate problems apart, everything else is "could not connect".
pub fn transport_error(target: &str, err: &reqwest::Error) -> OciError {
    if let Some(tls) = find_rustls_error(err) {
        if let rustls::Error::InvalidCertificate(why) = tls {
            return OciError::Certificate(format!("{target}: {why:?}"));
        }
        return OciError::Registry(format!("tls error with {target}: {tls}"));
    }
    let mut root: &dyn std::error::Error = err;
    while let Some(next) = root.source() {
        root = next;
    }
    OciError::Registry(format!("could not connect to {target}: {root}"))
}

fn find_rustls_error(err: &reqwest::Error) -> Option<&rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the wrapped error itself, so step into it.
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}
