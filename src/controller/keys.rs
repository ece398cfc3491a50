//! Where each org is reached and with which key, and the secrets the manifests name: read from
//! the environment and the manifest root, registered with [`redact`](crate::redact) as they are
//! read. Shared by `plan`, `apply` and the controller.

use std::path::Path;

use anyhow::bail;

use crate::apply::SecretValue;
use crate::diff::{SecretDigests, secrets};
use crate::model::{DesiredState, OrgName, SecretSource};
use crate::plan::{Plan, SecretState};
use crate::reconcile::OrgTarget;

/// Default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.braintrust.dev";

/// The URL and key of every org, from the manifest and the environment.
///
/// # Errors
/// When a key is missing or a URL is refused, with what to set.
pub fn targets(desired: &DesiredState) -> anyhow::Result<Vec<OrgTarget>> {
    targets_of(
        desired
            .orgs
            .iter()
            .map(|(name, cfg)| (name.clone(), cfg.api_url.clone(), cfg.api_key_env.clone())),
    )
}

/// [`targets`] for orgs given as `(name, api_url, api_key_env)`.
///
/// # Errors
/// As [`targets`].
pub fn targets_of(
    orgs: impl IntoIterator<Item = (OrgName, Option<String>, Option<String>)>,
) -> anyhow::Result<Vec<OrgTarget>> {
    let mut out = Vec::new();
    for (name, api_url, api_key_env) in orgs {
        let base_url = api_url
            .or_else(|| {
                std::env::var(crate::env::BRAINTRUST_API_URL)
                    .ok()
                    .filter(|v| !v.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        if let Err(err) = crate::api::client::check_base_url(&base_url) {
            bail!("org `{name}`: {err}");
        }
        let key_var = api_key_env
            .as_deref()
            .unwrap_or(crate::env::BRAINTRUST_API_KEY);
        let api_key = match std::env::var(key_var) {
            Ok(key) if !key.trim().is_empty() => {
                crate::redact::register(&key);
                key.trim().to_owned()
            }
            _ => bail!(
                "no API key for org `{name}`: set {key_var}{}, or try `--emulator` to plan against a local emulator",
                if api_key_env.is_some() {
                    " (named by the org's `api_key_env`)"
                } else {
                    ""
                }
            ),
        };
        out.push(OrgTarget {
            org: name.clone(),
            base_url,
            api_key,
        });
    }
    Ok(out)
}

/// HMAC digests of every declared secret's current value. Values are read here and dropped at
/// once; a value that cannot be read is recorded as unavailable, never as an error message that
/// could contain it.
pub fn secret_digests(desired: &DesiredState, root: &Path) -> SecretDigests {
    let user_key = std::env::var(crate::env::BT_GITOPS_SECRET_KEY)
        .ok()
        .filter(|k| !k.is_empty());
    if let Some(k) = &user_key {
        crate::redact::register(k);
    }
    let mut out = SecretDigests::new();
    for (key, resource) in &desired.resources {
        let Some(source) = resource.spec.secret() else {
            continue;
        };
        let hmac_key = user_key.as_ref().map_or_else(
            || secrets::default_key(key.org.as_str()),
            |k| k.as_bytes().to_vec(),
        );
        let value = read_secret(source, root);
        out.insert(
            key.clone(),
            value.map(|v| secrets::digest(&hmac_key, v.as_bytes())),
        );
    }
    out
}

/// Reads a secret's value and registers it with the redaction layer. Errors name the source,
/// never the value.
pub fn read_secret(source: &SecretSource, root: &Path) -> Result<String, String> {
    let value = read_secret_value(source, root);
    if let Ok(v) = &value {
        crate::redact::register(v);
    }
    value
}

fn read_secret_value(source: &SecretSource, root: &Path) -> Result<String, String> {
    match source {
        SecretSource::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("environment variable {name} is not set")),
        },
        SecretSource::File(path) => fs_err::read_to_string(root.join(path))
            .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|_| format!("file {path} cannot be read")),
    }
}

/// The values of the secrets the plan writes, read now and kept only in memory.
pub fn secret_values(
    desired: &DesiredState,
    plan: &Plan,
    root: &Path,
) -> std::collections::BTreeMap<crate::model::ResourceKey, SecretValue> {
    let digests = secret_digests(desired, root);
    let writes: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| {
            c.secret
                .as_ref()
                .is_some_and(|s| s.status != SecretState::Unavailable)
        })
        .map(|c| c.address.as_str())
        .collect();
    desired
        .resources
        .iter()
        .filter(|(k, _)| writes.contains(&k.to_string().as_str()))
        .filter_map(|(k, r)| {
            let source: &SecretSource = r.spec.secret()?;
            let value = read_secret(source, root).ok()?;
            let digest = digests.get(k)?.as_ref().ok()?.clone();
            Some((k.clone(), SecretValue { value, digest }))
        })
        .collect()
}
