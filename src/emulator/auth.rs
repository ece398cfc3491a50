//! Bearer authentication: which user or service account, in which org, is calling.
//!
//! API keys (`sk-...`) belong to users and service tokens (`bt-st-...`) to service accounts; each
//! belongs to one org. A missing, unknown or deleted credential, or one whose principal has left
//! the org, is a 401. The `x-bt-org-name` header is accepted and ignored, as the docs suggest.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::error::ErrorResponse;
use super::profile::ForeignOrg;
use super::store::{Collection, Store};

/// The authenticated principal of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user or service account id.
    pub user_id: String,
    /// The org the credential belongs to.
    pub org_id: String,
    /// That org's name.
    pub org_name: String,
    /// Whether the credential is a service token (not a user API key).
    pub service_token: bool,
    /// The id of the `api_key` or `service_token` record that authenticated the request.
    pub credential_id: String,
}

impl Caller {
    /// Checks an `org_name` given in a query or body against the caller's org.
    ///
    /// # Errors
    /// 403 when it names another org (or none that exists).
    pub fn check_org_name(&self, org_name: Option<&str>) -> Result<(), ErrorResponse> {
        match org_name {
            Some(name) if name != self.org_name => Err(ErrorResponse::forbidden(format!(
                "the credential does not belong to organization `{name}`"
            ))),
            _ => Ok(()),
        }
    }

    /// Checks the `org_name` of a list: whether the list answers at all. An org the credential
    /// does not belong to is a 403, or, as the profile says (O2), an empty answer (`false`) or
    /// the credential's own org's objects (`true`, the name ignored).
    ///
    /// # Errors
    /// 403 when it names another org and the profile refuses that.
    pub fn list_org_name(
        &self,
        store: &Store,
        org_name: Option<&str>,
    ) -> Result<bool, ErrorResponse> {
        match (org_name, store.profile.foreign_org) {
            (Some(name), answer) if name != self.org_name => match answer {
                ForeignOrg::Forbidden => self.check_org_name(org_name).map(|()| true),
                ForeignOrg::Empty => Ok(false),
                ForeignOrg::Unfiltered => Ok(true),
            },
            _ => Ok(true),
        }
    }

    /// Whether the caller is in the org's built-in `Owners` group.
    pub fn is_owner(&self, store: &Store) -> bool {
        store.table(Collection::Group).live().any(|g| {
            g.org_id == self.org_id
                && g.str_field("name") == "Owners"
                && g.object
                    .get("member_users")
                    .and_then(|m| m.as_array())
                    .is_some_and(|m| m.iter().any(|u| u.as_str() == Some(&self.user_id)))
        })
    }

    /// Whether the caller may create service tokens: an org owner, with a service token unless
    /// the profile lets user API keys do it too (assumption K3).
    pub fn may_create_service_tokens(&self, store: &Store) -> bool {
        self.is_owner(store)
            && (self.service_token || !store.profile.service_tokens_need_service_caller)
    }
}

/// Authenticates a request from its `Authorization` header.
///
/// # Errors
/// 401 when the header is missing or malformed or the credential is unknown.
pub fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, ErrorResponse> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        ErrorResponse::unauthorized("missing `Authorization: Bearer <api key>` header")
    })?;
    let text = header
        .to_str()
        .map_err(|_| ErrorResponse::unauthorized("malformed `Authorization` header"))?;
    let token = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ErrorResponse::unauthorized("expected `Authorization: Bearer <api key>`"))?;
    let (kind, record) = store
        .credential(token)
        .ok_or_else(|| ErrorResponse::unauthorized("invalid API key"))?;
    let user_id = record.principal.clone().unwrap_or_default();
    let org = store
        .get(Collection::Organization, &record.org_id)
        .ok_or_else(|| ErrorResponse::unauthorized("invalid API key"))?;
    if !store.is_member(&record.org_id, &user_id) {
        return Err(ErrorResponse::unauthorized(
            "the API key's user is no longer a member of its organization",
        ));
    }
    Ok(Caller {
        user_id,
        org_id: record.org_id.clone(),
        org_name: org.str_field("name").to_owned(),
        service_token: kind == Collection::ServiceToken,
        credential_id: record.id().to_owned(),
    })
}
