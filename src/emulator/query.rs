//! Query strings: parsing with repeated keys, typed parameter checks, and cursor pagination.
//!
//! Pagination follows the spec: lists are newest first; `starting_after=<id>` gives the objects
//! older than that id, `ending_before=<id>` the objects newer than it (the `limit` closest to it,
//! still newest first); both at once is a 400. Without `limit`, a list returns every match (the
//! spec declares no default; first-party clients list without paginating). A cursor naming an
//! unknown id yields an empty page; a cursor naming a deleted object keeps its position. Under
//! the real-API profile a list ignores the paging parameters its spec operation does not declare.

use serde::de::DeserializeOwned;

use super::error::ErrorResponse;
use super::profile::Profile;
use super::store::{Record, Table};
use crate::api::wire::Id;

/// The decoded `key=value` pairs of a query string, in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (`None` is an empty query).
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of a key (repeated keys and `key[]` both count).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key || k.strip_suffix("[]") == Some(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of a key.
    ///
    /// # Errors
    /// 400 when the key is repeated.
    pub fn one(&self, key: &str) -> Result<Option<&str>, ErrorResponse> {
        let values: Vec<&str> = self.all(key);
        match values.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(ErrorResponse::bad_request(format!(
                "query parameter `{key}` may be given only once"
            ))),
        }
    }

    /// A single UUID value.
    ///
    /// # Errors
    /// 400 when repeated or not a UUID.
    pub fn uuid(&self, key: &str) -> Result<Option<String>, ErrorResponse> {
        self.one(key)?
            .map(|v| {
                Id::parse(v).map(|id| id.as_str().to_owned()).map_err(|e| {
                    ErrorResponse::bad_request(format!("query parameter `{key}`: {e}"))
                })
            })
            .transpose()
    }

    /// Every UUID value of a repeatable key.
    ///
    /// # Errors
    /// 400 when one is not a UUID.
    pub fn uuids(&self, key: &str) -> Result<Vec<String>, ErrorResponse> {
        self.all(key)
            .into_iter()
            .map(|v| {
                Id::parse(v).map(|id| id.as_str().to_owned()).map_err(|e| {
                    ErrorResponse::bad_request(format!("query parameter `{key}`: {e}"))
                })
            })
            .collect()
    }

    /// A single enum value, checked against the wire enum `T`, returned as its string.
    ///
    /// # Errors
    /// 400 when repeated or not one of the enum's strings.
    pub fn enum_value<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<String>, ErrorResponse> {
        self.one(key)?
            .map(|v| check_enum::<T>(key, v).map(|()| v.to_owned()))
            .transpose()
    }

    /// Every value of a repeatable enum key.
    ///
    /// # Errors
    /// 400 when one is not one of the enum's strings.
    pub fn enum_values<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Vec<String>, ErrorResponse> {
        self.all(key)
            .into_iter()
            .map(|v| check_enum::<T>(key, v).map(|()| v.to_owned()))
            .collect()
    }

    /// The page requested by `limit`, `starting_after` and `ending_before`.
    ///
    /// # Errors
    /// 400 when `limit` is not a non-negative integer, a cursor is not a UUID, or both cursors are given.
    pub fn page(&self) -> Result<Page, ErrorResponse> {
        let limit = match self.one("limit")? {
            None | Some("null") => None,
            Some(text) => Some(text.parse::<usize>().map_err(|_| {
                ErrorResponse::bad_request(format!(
                    "query parameter `limit` must be a non-negative integer, got `{text}`"
                ))
            })?),
        };
        let starting_after = self.uuid("starting_after")?;
        let ending_before = self.uuid("ending_before")?;
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ErrorResponse::bad_request(
                "only one of `starting_after` and `ending_before` may be given",
            ));
        }
        Ok(Page {
            limit,
            starting_after,
            ending_before,
        })
    }
}

impl Params {
    /// The page requested of the list at `collection_path`, reading only the paging parameters
    /// the profile lets that list honour (see [`Profile::honours_cursors`]); the others are
    /// ignored, unchecked, as a server that does not declare them would. The profile's page cap
    /// (P3) bounds every cursor-paged list, and its env var default cap (P7) an env var list
    /// asked without `limit`.
    ///
    /// # Errors
    /// As [`Params::page`], for the parameters read.
    pub fn page_for(
        &self,
        profile: &Profile,
        collection_path: &str,
    ) -> Result<Page, ErrorResponse> {
        let mut honoured = self.clone();
        honoured.0.retain(|(key, _)| {
            let key = key.strip_suffix("[]").unwrap_or(key);
            match key {
                "limit" => profile.honours_limit(collection_path),
                "starting_after" | "ending_before" => profile.honours_cursors(collection_path),
                _ => false,
            }
        });
        let mut page = honoured.page()?;
        let collection = crate::vocab::Collection::at_list_path(collection_path);
        if let Some(cap) = profile.page_cap
            && collection.is_none_or(|c| c.declares_cursor_paging())
        {
            page.limit = Some(page.limit.map_or(cap, |asked| asked.min(cap)));
        }
        if let Some(cap) = profile.env_var_default_cap
            && collection == Some(crate::vocab::Collection::EnvVar)
            && page.limit.is_none()
        {
            page.limit = Some(cap);
        }
        Ok(page)
    }
}

fn check_enum<T: DeserializeOwned>(key: &str, value: &str) -> Result<(), ErrorResponse> {
    serde_json::from_value::<T>(serde_json::Value::String(value.to_owned()))
        .map(|_| ())
        .map_err(|_| {
            ErrorResponse::bad_request(format!("query parameter `{key}`: invalid value `{value}`"))
        })
}

/// A requested page of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<usize>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl Page {
    /// Cuts the page out of `items` (newest first, all from `table`).
    pub fn apply<'a>(&self, table: &Table, items: Vec<&'a Record>) -> Vec<&'a Record> {
        let limit = self.limit.unwrap_or(usize::MAX);
        if let Some(cursor) = &self.starting_after {
            let Some(at) = table.get_any(cursor).map(|r| r.seq) else {
                return Vec::new();
            };
            items
                .into_iter()
                .filter(|r| r.seq < at)
                .take(limit)
                .collect()
        } else if let Some(cursor) = &self.ending_before {
            let Some(at) = table.get_any(cursor).map(|r| r.seq) else {
                return Vec::new();
            };
            let newer: Vec<&Record> = items.into_iter().filter(|r| r.seq > at).collect();
            let skip = newer.len().saturating_sub(limit);
            newer.into_iter().skip(skip).collect()
        } else {
            items.into_iter().take(limit).collect()
        }
    }
}
