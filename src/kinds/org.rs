//! The `org` kind: the organization's own settings (API, proxy and realtime URLs, universal
//! API, private data plane, image rendering), on `/v1/organization`. An org is never created or
//! deleted through the API, only patched; these plain functions are called from the scaffolds.

use serde_json::{Value, json};

use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw::RawOrgSettings;
use crate::model::OrgSettings;
use crate::model::lower::Lowerer;
use crate::wire::{Organization, PatchOrganization};

/// Checks an org's `settings:` and builds its spec.
pub fn lower(lw: &mut Lowerer<'_>, at: DocOrigin, s: &RawOrgSettings) -> OrgSettings {
    OrgSettings {
        api_url: s
            .api_url
            .as_ref()
            .and_then(|u| lw.url(at, u, "`settings.api_url`", &["https"])),
        proxy_url: s
            .proxy_url
            .as_ref()
            .and_then(|u| lw.url(at, u, "`proxy_url`", &["https"])),
        realtime_url: s
            .realtime_url
            .as_ref()
            .and_then(|u| lw.url(at, u, "`realtime_url`", &["https", "wss"])),
        is_universal_api: s.is_universal_api.as_ref().map(|v| v.value),
        is_dataplane_private: s.is_dataplane_private.as_ref().map(|v| v.value),
        image_rendering_mode: s.image_rendering_mode.as_ref().map(|v| v.value),
    }
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(s: &OrgSettings) -> Vec<Field> {
    vec![
        ("api_url", s.api_url.as_ref().map(|v| json!(v))),
        ("proxy_url", s.proxy_url.as_ref().map(|v| json!(v))),
        ("realtime_url", s.realtime_url.as_ref().map(|v| json!(v))),
        ("is_universal_api", s.is_universal_api.map(|v| json!(v))),
        (
            "is_dataplane_private",
            s.is_dataplane_private.map(|v| json!(v)),
        ),
        (
            "image_rendering_mode",
            s.image_rendering_mode.map(|v| json!(v.as_str())),
        ),
    ]
}

/// The patch body: the declared settings; unset ones are left out (left alone).
#[must_use]
pub fn patch(s: &OrgSettings) -> PatchOrganization {
    PatchOrganization {
        name: None,
        api_url: s.api_url.clone(),
        proxy_url: s.proxy_url.clone(),
        realtime_url: s.realtime_url.clone(),
        is_universal_api: s.is_universal_api,
        is_dataplane_private: s.is_dataplane_private,
        image_rendering_mode: s.image_rendering_mode,
    }
}

/// The settings of the org as listed.
#[must_use]
pub fn read(o: &Organization) -> OrgSettings {
    OrgSettings {
        api_url: o.api_url.clone(),
        proxy_url: o.proxy_url.clone(),
        realtime_url: o.realtime_url.clone(),
        is_universal_api: o.is_universal_api,
        is_dataplane_private: o.is_dataplane_private,
        image_rendering_mode: o.image_rendering_mode,
    }
}

/// The `settings:` map `import` writes (nulls are dropped by the caller).
#[must_use]
pub fn manifest(s: &OrgSettings) -> Value {
    json!({
        "api_url": s.api_url, "proxy_url": s.proxy_url, "realtime_url": s.realtime_url,
        "is_universal_api": s.is_universal_api, "is_dataplane_private": s.is_dataplane_private,
        "image_rendering_mode": s.image_rendering_mode.map(|m| m.as_str()),
    })
}
