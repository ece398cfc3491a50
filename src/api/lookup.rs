//! Finding an object the API has just made, by list and match: the id of a new member or
//! service account when the members PATCH does not answer it (the spec fills `added_users`
//! only for service accounts created with a token), and whether a create whose answer was lost
//! landed after all (see `Client::create_once`).
//!
//! Each function is one filtered list call (a member is looked for a few times, since a new
//! membership may show late); what it returns is what matched, or `None`.

use std::time::Duration;

use serde_json::Value;

use super::client::Client;
use super::error::ApiError;
use super::wire;
use crate::kinds::{member, service_account};
use crate::vocab::Collection;

/// How many times a new member is looked for, and the first wait between two looks (doubled
/// each time): first-party code retries briefly because a membership may appear late (O6).
const MEMBER_LOOKS: u32 = 3;
const MEMBER_WAIT: Duration = Duration::from_millis(250);

/// The id of the member of `org` with this email (a user read as a member by
/// `kinds::member::read`, compared case-insensitively), looked for a few times.
///
/// # Errors
/// When the user list cannot be read.
pub async fn member_id(
    client: &Client,
    org: &str,
    email: &str,
) -> Result<Option<String>, ApiError> {
    let mut wait = MEMBER_WAIT;
    for look in 1..=MEMBER_LOOKS {
        let users: Vec<wire::User> = client
            .list_all(
                Collection::User.path(),
                &[("org_name", org.to_owned()), ("email", email.to_owned())],
            )
            .await?;
        if let Some(user) = users
            .iter()
            .find(|u| member::read(u).is_some_and(|e| e.as_str().eq_ignore_ascii_case(email)))
        {
            return Ok(Some(user.id.to_string()));
        }
        if look < MEMBER_LOOKS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Ok(None)
}

/// The id of the service account of `org` with this name (assumption K1): a user read as one
/// by `kinds::service_account::read`, else a user of that given name (a service account
/// listed with an email and nothing that marks it: the plan was refused if a member had that
/// given name, so a user who has it now is the account). `None` when the user list does not
/// show service accounts.
///
/// # Errors
/// When the user list cannot be read.
pub async fn service_account_id(
    client: &Client,
    org: &str,
    name: &str,
) -> Result<Option<String>, ApiError> {
    let users = client
        .list_items::<wire::User>(
            Collection::User.path(),
            &[
                ("org_name", org.to_owned()),
                ("given_name", name.to_owned()),
            ],
        )
        .await?;
    let pairs: Vec<(&wire::User, &Value)> = users.items.iter().zip(&users.raw).collect();
    let marked = pairs
        .iter()
        .find(|(u, raw)| service_account::read(u, raw).is_some_and(|n| n.as_str() == name));
    let named = || {
        pairs
            .iter()
            .find(|(u, _)| u.given_name.as_deref() == Some(name))
    };
    Ok(marked.or_else(named).map(|(u, _)| u.id.to_string()))
}

/// The service token of `org` with this name held by this account, as the API lists it
/// (without its key).
///
/// # Errors
/// When the token list cannot be read.
pub async fn service_token(
    client: &Client,
    org: &str,
    account_id: &str,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let tokens: Vec<wire::ServiceToken> = client
        .list_all(
            Collection::ServiceToken.path(),
            &[
                ("org_name", org.to_owned()),
                ("service_token_name", name.to_owned()),
            ],
        )
        .await?;
    Ok(tokens
        .into_iter()
        .find(|t| {
            t.name == name
                && t.service_account_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() == account_id)
        })
        .and_then(|t| serde_json::to_value(t).ok()))
}
