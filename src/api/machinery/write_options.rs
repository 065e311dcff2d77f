//! Options of write requests as a Kubernetes API server takes them: `?dryRun=All` (validate
//! and answer what would be stored, change nothing) on create, update, patch and delete, and
//! a delete's `DeleteOptions` body (`preconditions` on uid and resourceVersion, `dryRun`).
//! `gracePeriodSeconds` and `propagationPolicy` are accepted and have no effect: mkube
//! removes a pod's containers as soon as the deletion is recorded.

use crate::api::machinery::status::ApiError;
use crate::api::machinery::version::ResourceVersion;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions;

/// `?dryRun=All`: true; absent: false; any other value is a 400.
pub fn dry_run(query: &str) -> Result<bool, ApiError> {
    let mut dry = false;
    for value in query.split('&').filter_map(|kv| kv.strip_prefix("dryRun=")) {
        match value {
            "All" => dry = true,
            "" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: {other:?}: supported values: \"All\""
                )));
            }
        }
    }
    Ok(dry)
}

/// A delete's options: from the query (`dryRun`) and the optional JSON body.
#[derive(Debug, Default)]
pub struct Delete {
    pub dry_run: bool,
    pub uid: Option<String>,
    pub resource_version: Option<ResourceVersion>,
}

impl Delete {
    pub fn parse(query: &str, body: &[u8]) -> Result<Delete, ApiError> {
        let mut out = Delete {
            dry_run: dry_run(query)?,
            ..Default::default()
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(out);
        }
        let options: DeleteOptions = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions JSON: {e}")))?;
        if let Some(modes) = &options.dry_run {
            for m in modes {
                match m.as_str() {
                    "All" => out.dry_run = true,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "dryRun: Unsupported value: {other:?}: supported values: \"All\""
                        )));
                    }
                }
            }
        }
        if let Some(p) = options.preconditions {
            out.uid = p.uid;
            out.resource_version = p
                .resource_version
                .map(|v| v.parse().map_err(ApiError::bad_request))
                .transpose()?;
        }
        Ok(out)
    }

    /// 409 when a precondition does not hold for the object (`uid`, its version).
    pub fn check(&self, uid: &str, version: ResourceVersion) -> Result<(), ApiError> {
        if let Some(want) = &self.uid
            && want != uid
        {
            return Err(ApiError::conflict(format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
            )));
        }
        if let Some(want) = self.resource_version
            && want.seq != version.seq
        {
            return Err(ApiError::conflict(format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {version}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_and_preconditions() {
        assert!(!dry_run("").unwrap());
        assert!(dry_run("a=b&dryRun=All").unwrap());
        assert!(dry_run("dryRun=Some").is_err());
        let d = Delete::parse("", b"").unwrap();
        assert!(!d.dry_run && d.uid.is_none());
        let d = Delete::parse(
            "",
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background","dryRun":["All"],"preconditions":{"uid":"u1","resourceVersion":"5"}}"#,
        )
        .unwrap();
        assert!(d.dry_run);
        assert!(d.check("u1", ResourceVersion::log(5)).is_ok());
        assert!(d.check("u2", ResourceVersion::log(5)).is_err());
        assert!(d.check("u1", ResourceVersion::log(6)).is_err());
        assert!(Delete::parse("", b"{not json").is_err());
        assert!(Delete::parse("", br#"{"dryRun":["Nope"]}"#).is_err());
        assert!(Delete::parse("", br#"{"preconditions":{"resourceVersion":"x"}}"#).is_err());
    }
}
