//! The emulator's profiles: the one place that says how it behaves where the real API's
//! behaviour is unsure (`docs/api-assumptions.md`, "unconfirmed" and "contradicted" entries).
//!
//! `real` (the default, and what the test suite runs under) is at least as strict as the real
//! API wherever we do not know better: a body on a DELETE whose spec operation takes none is a
//! 400 (the JSON `null` included), the members PATCH fills `added_users` only where the spec
//! promises it (service accounts created with a token), lists whose spec operation declares no
//! paging parameters ignore them (`/environment` answers everything at once, `/v1/env_var`
//! ignores cursors), key previews use three ASCII dots, and a PATCH deep-merges every
//! object-typed field (score `categories` maps and `config`, automation `config`, `metadata`
//! maps), as the spec's PATCH descriptions say. `lenient` is the emulator as it was before:
//! every one of those guesses answered the way our client first assumed.
//!
//! Some switches answer an unconfirmed assumption the other way in neither named profile; the
//! tests that run bt-gitops under that answer turn them on one by one (`with_*` below).
//! One is on in both and turned off by tests: `env_var_type_sets_category` (S12), the shape
//! Braintrust's docs give project AI providers.
//!
//! Each rule is a field of [`Profile`], so a test can flip one rule and keep the others. Two
//! rules are switches between answers that both profiles leave at today's guess: how the user
//! list shows service accounts (K1, [`AccountListing`]) and whether the org is on a plan with
//! only the Owners group (G3, [`Profile::starter_plan`]).
//! The switches for the answers of other unconfirmed entries that neither profile
//! picks (a page cap, soft-deleted objects in lists, a foreign `org_name`...) are off in both
//! profiles too; [`Overrides`] names them for test cases.

use std::fmt;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::json_error;
use crate::vocab::Collection;

/// Which named profile a [`Profile`] started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileName {
    /// As strict as the real API wherever we are unsure.
    #[default]
    Real,
    /// The emulator's first guesses, which our client was written against.
    Lenient,
}

impl ProfileName {
    /// The names accepted by `--profile` and `BT_GITOPS_EMULATOR_PROFILE`.
    pub const ALL: [&'static str; 2] = ["real", "lenient"];

    /// The rules of this profile.
    pub fn profile(self) -> Profile {
        match self {
            ProfileName::Real => Profile::real(),
            ProfileName::Lenient => Profile::lenient(),
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileName::Real => "real",
            ProfileName::Lenient => "lenient",
        })
    }
}

impl FromStr for ProfileName {
    type Err = String;

    fn from_str(s: &str) -> Result<ProfileName, String> {
        match s {
            "real" => Ok(ProfileName::Real),
            "lenient" => Ok(ProfileName::Lenient),
            other => Err(format!(
                "unknown emulator profile `{other}` (expected one of: {})",
                ProfileName::ALL.join(", ")
            )),
        }
    }
}

/// How a key preview (`ApiKey.preview_name`, `ServiceToken.preview_name`) shows the hidden
/// middle of a key (assumption K8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewStyle {
    /// `sk…ijkl`: the ellipsis character U+2026.
    Ellipsis,
    /// `sk...ijkl`: three ASCII dots, as the docs show for AI-provider previews.
    AsciiDots,
    /// `********`: nothing of the key shown, so no preview names its key.
    Hidden,
}

/// What a PATCH of an export's `config.export_path` does (A7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportPathPatch {
    /// The path changes.
    Changes,
    /// The PATCH is refused with 400.
    Refused,
    /// The PATCH succeeds and the old path stays.
    Ignored,
}

/// How `GET /v1/user` shows the org's service accounts (assumption K1). Every answer lists
/// service tokens with their account's id, name and `service_account_email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountListing {
    /// Not listed at all, as Braintrust's docs say (the user list holds human users only; a
    /// read of one by id is refused).
    Hidden,
    /// Listed as users without an email, named by `given_name` (the emulator's first guess).
    WithoutEmail,
    /// Listed with their (not routable) email and `user_type: "service_account"`, the field
    /// Braintrust's docs show on service-account user records.
    WithEmail,
    /// Listed with their email and nothing else that tells them from people.
    WithEmailUnmarked,
}

impl AccountListing {
    /// The names accepted where a test names an answer.
    pub const ALL: [&'static str; 4] = [
        "hidden",
        "without_email",
        "with_email",
        "with_email_unmarked",
    ];
}

impl FromStr for AccountListing {
    type Err = String;

    fn from_str(s: &str) -> Result<AccountListing, String> {
        match s {
            "hidden" => Ok(AccountListing::Hidden),
            "without_email" => Ok(AccountListing::WithoutEmail),
            "with_email" => Ok(AccountListing::WithEmail),
            "with_email_unmarked" => Ok(AccountListing::WithEmailUnmarked),
            other => Err(format!(
                "unknown service-account listing `{other}` (expected one of: {})",
                AccountListing::ALL.join(", ")
            )),
        }
    }
}

/// The rules the emulator follows where the real API is unsure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The named profile these rules started from.
    pub name: ProfileName,
    /// A DELETE whose spec operation declares no request body is refused with 400 when it
    /// carries one, the JSON `null` included (T10). Only `DELETE /v1/acl`, `/v1/ai_secret`,
    /// `/v1/service_token` and `/v1/view/{id}` take a body.
    pub refuse_delete_bodies: bool,
    /// `added_users` of `PATCH /v1/organization/members` lists only the service accounts
    /// created with a token, as the spec promises; invited members and token-less service
    /// accounts are not in it (O7).
    pub added_users_only_with_tokens: bool,
    /// Lists ignore paging parameters their spec operation does not declare: `/environment`
    /// (none at all) answers every match, `/v1/env_var` (`limit` only) ignores cursors (P6, P7).
    pub paging_only_where_declared: bool,
    /// How key previews are written (K8).
    pub previews: PreviewStyle,
    /// Creating a service token (`POST`/`PUT /v1/service_token`, or a members PATCH creating a
    /// service account with a token) needs an org-owner service token; a user API key is
    /// refused (K3). Both profiles keep this on; it is a switch of its own so that a caller can
    /// let a user key create tokens (the `--emulator` default key, for instance).
    pub service_tokens_need_service_caller: bool,
    /// A PATCH deep-merges object-typed fields into the stored ones (score `categories` maps
    /// and `config`, automation `config` of the same event type, `metadata` maps), so a key
    /// left out of the body stays; otherwise those fields are replaced whole (J7, A4, S4).
    pub patch_merges_objects: bool,
    /// Automation names are unique in the org rather than in the project: POST and PUT find
    /// an existing automation by name alone (A3).
    pub automation_names_per_org: bool,
    /// Span iframe names are unique in the org rather than in the project (J9).
    pub span_iframe_names_per_org: bool,
    /// What a PATCH of an export's path does (A7).
    pub export_path_patch: ExportPathPatch,
    /// A `maximum` score's `categories` may be a list of score names, as for `minimum`;
    /// otherwise such a create or patch is refused with 400 (J10).
    pub maximum_score_names: bool,
    /// An AWS export's `credentials.external_id` is generated by the server: the one sent is
    /// replaced on create and left unchanged by a PATCH (A5).
    pub export_external_id_generated: bool,
    /// A PATCH of an env var's metadata alone moves its `secret_updated_at`, as a write of the
    /// value does (S10).
    pub env_var_metadata_moves_secret_time: bool,
    /// How the user list shows service accounts (K1).
    pub service_accounts: AccountListing,
    /// The org is on a plan with only the Owners group: new orgs get no Engineers or Viewers,
    /// and group and role creates answer 403 (G3).
    pub starter_plan: bool,
    /// `GET /v1/api_key` lists only the caller's own keys, even for an org owner (K7, from
    /// Braintrust's docs); the lenient profile lists every key of the org.
    pub own_api_keys_only: bool,
    /// `PATCH /v1/project_automation/{id}` deep-merges the body's `config` into the stored one,
    /// keys outside our wire types included, as the spec says of object fields (A4); the
    /// lenient profile keeps only what the wire types model.
    pub patch_keeps_unmodelled_config: bool,
    /// The most objects a page of a cursor-paged list holds, whatever `limit` asks (P3). `None`:
    /// `limit` is honoured as asked. A real server may cap pages lower than bt-gitops asks.
    pub page_cap: Option<usize>,
    /// `GET /v1/acl/list_org` answers `{"objects": [...]}` instead of the bare array the spec
    /// shows (P8).
    pub acl_list_org_envelope: bool,
    /// Lists hold soft-deleted objects too, with `deleted_at` set, for the collections whose
    /// objects have that field (P9).
    pub lists_show_soft_deleted: bool,
    /// What a list answers when its `org_name` names an org the credential does not belong to
    /// (O2).
    pub foreign_org: ForeignOrg,
    /// `remove_users.ids` of the members PATCH leaves a service account in the org (it removes
    /// only human users), and answers success all the same (K9).
    pub remove_users_keeps_service_accounts: bool,
    /// `POST /environment` with a slug that exists is a 409 instead of returning the existing
    /// environment (E3).
    pub environment_create_conflicts: bool,
    /// `GET /v1/env_var` without a `limit` answers at most this many objects (P7). `None`:
    /// everything.
    pub env_var_default_cap: Option<usize>,
    /// `POST /v1/env_var` of a name that exists creates a second env var of that name, as two
    /// simultaneous POSTs would if the create-or-return were not atomic (S11).
    pub env_var_post_duplicates: bool,
    /// `GET /v1/acl/list_org` lists only the ACLs on the org, its projects, groups and roles,
    /// not those on single experiments, datasets, prompts or prompt sessions, which only the
    /// per-object `GET /v1/acl` shows (R8).
    pub acl_list_org_omits_objects: bool,
    /// A service token rotation (`PUT /v1/service_token` of an existing token) sets `created`
    /// to the time of the new key; otherwise `created` keeps the first creation (K12).
    pub rotation_resets_created: bool,
    /// Deleting a project deletes what lives in it (tags, scores, automations, iframes, MCP
    /// servers, functions, prompts, experiments, datasets) and the ACLs, views and env vars
    /// on it, so reads of them by id answer 404. Otherwise (both profiles) they stay as they
    /// were, readable by id and in the lists that do not filter by the deleted project, like
    /// rows left under a soft-deleted parent (P10).
    pub project_delete_cascades: bool,
    /// An env var of a project written (created or patched) with a `secret_type` naming a
    /// known AI provider is filed under `secret_category: ai_provider`; otherwise every written
    /// entry stays in the `env_var` category (S12). On in both named profiles, as Braintrust's
    /// docs describe project AI providers; tests turn it off for the other answer.
    pub env_var_type_sets_category: bool,
}

/// What a list answers when its `org_name` is an org the credential does not belong to (O2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForeignOrg {
    /// 403, as the emulator always did.
    #[default]
    Forbidden,
    /// 200 with an empty list.
    Empty,
    /// 200 with the credential's own org's objects: `org_name` ignored.
    Unfiltered,
}

/// Switches of a [`Profile`] set one by one (a test case names the ones it flips; each
/// unconfirmed entry of `docs/api-assumptions.md` that has one names it).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default)]
    pub page_cap: Option<usize>,
    #[serde(default)]
    pub acl_list_org_envelope: Option<bool>,
    #[serde(default)]
    pub lists_show_soft_deleted: Option<bool>,
    #[serde(default)]
    pub foreign_org: Option<ForeignOrg>,
    #[serde(default)]
    pub remove_users_keeps_service_accounts: Option<bool>,
    #[serde(default)]
    pub environment_create_conflicts: Option<bool>,
    #[serde(default)]
    pub env_var_default_cap: Option<usize>,
    #[serde(default)]
    pub env_var_post_duplicates: Option<bool>,
    #[serde(default)]
    pub patch_merges_objects: Option<bool>,
    #[serde(default)]
    pub automation_names_per_org: Option<bool>,
    #[serde(default)]
    pub span_iframe_names_per_org: Option<bool>,
    #[serde(default)]
    pub export_path_patch: Option<ExportPathPatch>,
    #[serde(default)]
    pub maximum_score_names: Option<bool>,
    #[serde(default)]
    pub export_external_id_generated: Option<bool>,
    #[serde(default)]
    pub env_var_metadata_moves_secret_time: Option<bool>,
    #[serde(default)]
    pub acl_list_org_omits_objects: Option<bool>,
    #[serde(default)]
    pub rotation_resets_created: Option<bool>,
    #[serde(default)]
    pub project_delete_cascades: Option<bool>,
    #[serde(default)]
    pub env_var_type_sets_category: Option<bool>,
}

impl Default for Profile {
    fn default() -> Profile {
        Profile::real()
    }
}

impl Profile {
    /// As strict as the real API wherever we are unsure.
    pub fn real() -> Profile {
        Profile {
            name: ProfileName::Real,
            refuse_delete_bodies: true,
            added_users_only_with_tokens: true,
            paging_only_where_declared: true,
            previews: PreviewStyle::AsciiDots,
            service_tokens_need_service_caller: true,
            patch_merges_objects: true,
            automation_names_per_org: false,
            span_iframe_names_per_org: false,
            export_path_patch: ExportPathPatch::Changes,
            maximum_score_names: true,
            export_external_id_generated: false,
            env_var_metadata_moves_secret_time: false,
            service_accounts: AccountListing::WithoutEmail,
            starter_plan: false,
            own_api_keys_only: true,
            patch_keeps_unmodelled_config: true,
            page_cap: None,
            acl_list_org_envelope: false,
            lists_show_soft_deleted: false,
            foreign_org: ForeignOrg::Forbidden,
            remove_users_keeps_service_accounts: false,
            environment_create_conflicts: false,
            env_var_default_cap: None,
            env_var_post_duplicates: false,
            acl_list_org_omits_objects: false,
            rotation_resets_created: false,
            project_delete_cascades: false,
            env_var_type_sets_category: true,
        }
    }

    /// The emulator's first guesses.
    pub fn lenient() -> Profile {
        // Only what the first guesses answer otherwise; every other switch is the real
        // profile's (most switches are off in both and flipped one by one by tests).
        Profile {
            name: ProfileName::Lenient,
            refuse_delete_bodies: false,
            added_users_only_with_tokens: false,
            paging_only_where_declared: false,
            previews: PreviewStyle::Ellipsis,
            patch_merges_objects: false,
            own_api_keys_only: false,
            patch_keeps_unmodelled_config: false,
            ..Profile::real()
        }
    }

    /// These rules with the switches `overrides` names flipped.
    #[must_use]
    pub fn with_overrides(mut self, overrides: &Overrides) -> Profile {
        // Each switch the overrides name replaces the profile's own.
        macro_rules! flip {
            ($($field:ident),* $(,)?) => {
                $(if let Some(value) = overrides.$field {
                    self.$field = value;
                })*
            };
        }
        flip!(
            acl_list_org_envelope,
            lists_show_soft_deleted,
            foreign_org,
            remove_users_keeps_service_accounts,
            environment_create_conflicts,
            env_var_post_duplicates,
            patch_merges_objects,
            automation_names_per_org,
            span_iframe_names_per_org,
            export_path_patch,
            maximum_score_names,
            export_external_id_generated,
            env_var_metadata_moves_secret_time,
            acl_list_org_omits_objects,
            rotation_resets_created,
            project_delete_cascades,
            env_var_type_sets_category,
        );
        if let Some(cap) = overrides.page_cap {
            self.page_cap = Some(cap);
        }
        if let Some(cap) = overrides.env_var_default_cap {
            self.env_var_default_cap = Some(cap);
        }
        self
    }

    /// These rules with key previews written in `style`.
    #[must_use]
    pub fn with_previews(mut self, style: PreviewStyle) -> Profile {
        self.previews = style;
        self
    }

    /// These rules with service-token creation open to user API keys too (or not).
    #[must_use]
    pub fn with_user_keys_creating_service_tokens(mut self, allowed: bool) -> Profile {
        self.service_tokens_need_service_caller = !allowed;
        self
    }

    /// These rules with service accounts listed as `listing` says.
    #[must_use]
    pub fn with_service_accounts(mut self, listing: AccountListing) -> Profile {
        self.service_accounts = listing;
        self
    }

    /// These rules on a plan with only the Owners group (or not).
    #[must_use]
    pub fn with_starter_plan(mut self, starter: bool) -> Profile {
        self.starter_plan = starter;
        self
    }

    /// A preview of a raw key in this profile's style: the first two and last four characters.
    pub fn preview(&self, raw: &str) -> String {
        let dots = match self.previews {
            PreviewStyle::Ellipsis => "…",
            PreviewStyle::AsciiDots => "...",
            PreviewStyle::Hidden => return "********".to_owned(),
        };
        let chars: Vec<char> = raw.chars().collect();
        if chars.len() <= 6 {
            return dots.to_owned();
        }
        let head: String = chars[..2].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}{dots}{tail}")
    }

    /// Whether a list of `collection_path` honours `starting_after`/`ending_before` (and, for
    /// `/environment`, `limit`): always in the lenient profile, only where the spec declares them
    /// in the real one.
    pub fn honours_cursors(&self, collection_path: &str) -> bool {
        !self.paging_only_where_declared
            || Collection::at_list_path(collection_path).is_none_or(|c| c.declares_cursor_paging())
    }

    /// Whether a list of `collection_path` honours `limit` (everywhere but `/environment`,
    /// whose spec list declares no paging parameter at all).
    pub fn honours_limit(&self, collection_path: &str) -> bool {
        !self.paging_only_where_declared
            || Collection::at_list_path(collection_path) != Some(Collection::Environment)
    }
}

/// Whether the spec's DELETE on this path takes a request body.
pub fn delete_takes_body(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    matches!(
        path,
        "/v1/acl" | "/v1/ai_secret" | "/v1/service_token" | "/v1/view"
    ) || path
        .strip_prefix("/v1/view/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Whether a request carries a body: a non-zero `Content-Length`, or a chunked one.
fn has_body(request: &Request<Body>) -> bool {
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// The middleware of the request rules that do not depend on a route: a DELETE with a body the
/// spec does not declare is a 400 when the profile refuses them, and on a starter plan a group
/// or role create is a 403.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let creates = matches!(*request.method(), Method::POST | Method::PUT);
    if creates
        && state.profile().starter_plan
        && matches!(path.trim_end_matches('/'), "/v1/group" | "/v1/role")
    {
        return json_error(
            StatusCode::FORBIDDEN,
            "custom permission groups and roles are not available on this organization's plan",
        );
    }
    if request.method() == Method::DELETE
        && !path.starts_with("/_emulator")
        && state.profile().refuse_delete_bodies
        && has_body(&request)
        && !delete_takes_body(path)
    {
        return json_error(
            StatusCode::BAD_REQUEST,
            "this DELETE takes no request body (the emulator's real-API profile refuses one, even `null`)",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_bodies_only_where_the_spec_declares_them() {
        for path in [
            "/v1/acl",
            "/v1/ai_secret",
            "/v1/service_token",
            "/v1/view/0b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d",
        ] {
            assert!(delete_takes_body(path), "{path}");
        }
        for path in [
            "/v1/project/0b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d",
            "/v1/env_var/x",
            "/environment/x",
            "/v1/service_token/x",
            "/v1/acl/x",
        ] {
            assert!(!delete_takes_body(path), "{path}");
        }
    }

    #[test]
    fn previews_in_both_styles() {
        assert_eq!(Profile::lenient().preview("sk-abcdefghijkl"), "sk…ijkl");
        assert_eq!(Profile::real().preview("sk-abcdefghijkl"), "sk...ijkl");
        assert_eq!(Profile::real().preview("short"), "...");
    }

    #[test]
    fn overrides_flip_only_what_they_name() {
        let overrides: Overrides = serde_json::from_value(serde_json::json!({
            "page_cap": 37, "foreign_org": "unfiltered", "acl_list_org_envelope": true
        }))
        .expect("overrides");
        let flipped = Profile::real().with_overrides(&overrides);
        assert_eq!(flipped.page_cap, Some(37));
        assert_eq!(flipped.foreign_org, ForeignOrg::Unfiltered);
        assert!(flipped.acl_list_org_envelope);
        assert_eq!(
            Profile {
                page_cap: None,
                foreign_org: ForeignOrg::Forbidden,
                acl_list_org_envelope: false,
                ..flipped
            },
            Profile::real()
        );
        assert_eq!(
            Profile::real().with_overrides(&Overrides::default()),
            Profile::real()
        );
        let r8_k12: Overrides = serde_json::from_value(serde_json::json!({
            "acl_list_org_omits_objects": true, "rotation_resets_created": true
        }))
        .expect("overrides");
        assert_eq!(
            Profile::real().with_overrides(&r8_k12),
            Profile {
                acl_list_org_omits_objects: true,
                rotation_resets_created: true,
                ..Profile::real()
            }
        );
        assert!(
            serde_json::from_value::<Overrides>(serde_json::json!({ "page_size": 1 })).is_err()
        );
    }

    #[test]
    fn paging_rules() {
        let real = Profile::real();
        assert!(!real.honours_cursors("/environment"));
        assert!(!real.honours_limit("/environment"));
        assert!(!real.honours_cursors("/v1/env_var"));
        assert!(real.honours_limit("/v1/env_var"));
        assert!(real.honours_cursors("/v1/project"));
        let lenient = Profile::lenient();
        assert!(lenient.honours_cursors("/environment") && lenient.honours_limit("/environment"));
        assert_eq!("lenient".parse(), Ok(ProfileName::Lenient));
        assert!("strict".parse::<ProfileName>().is_err());
    }
}
