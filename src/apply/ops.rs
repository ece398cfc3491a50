//! One change as API calls, per kind. Bodies follow the official spec's request schemas; the
//! emulator, which validates them strictly, is how tests check them. The kinds in
//! `crate::kinds` build their bodies there as typed `wire` values (group and role membership
//! changes as add/remove deltas, grants as `acl/batch_update` items, scores and automations
//! through their shared `project_score` and `automation` modules); this module resolves the ids
//! they name, sends them, records created ids and adds write-only values to the bodies of AI
//! secrets, env vars and project AI providers.
//!
//! The API's traps are handled here: creates use PUT where it exists (POST returns an existing
//! object unmodified), except where the name is held in another project of a collection whose
//! names may be unique per org (A3, J9: then a POST, checked), updates whose PATCH deep-merged
//! a removed key back are finished by a replacing PUT (J7, A4, S4), projects are created and then patched with their settings (settings are
//! not accepted on create and are replaced whole on PATCH, so unmanaged settings are carried
//! over: see `kinds::project`), an AWS export gets an external id when it declares none,
//! members, service accounts and grants go through their special endpoints, new members' and
//! service accounts' ids are looked up in the user list when the members PATCH does not answer
//! them, service tokens and service accounts (creates that are not idempotent) go through
//! `Client::create_once`, and a project AI provider is created with a POST whose answer is
//! checked, the entry deleted again when the server filed it as a plain env var (S12).

use std::collections::BTreeMap;

use crate::api::client::Method;
use serde_json::{Map, Value, json};

use super::{ApplyInput, ChangeError, Ids, key_of};
use crate::api::client::{Client, Created};
use crate::api::lookup;
use crate::api::read::SECRET_METADATA_KEY;
use crate::kinds::{
    BodyError, CreateVerb, Ids as BodyIds, ai_provider, ai_secret, automation, env_var, export,
    member, project, project_score, service_account, service_token,
};
use crate::live::LiveObject;
use crate::model::*;
use crate::plan::{Action, Change};
use crate::refs::{ObjectRef, RefKind};
use crate::vocab::{ACL_BATCH_UPDATE_PATH, ORG_MEMBERS_PATH};
use crate::wire::{Acl, AclBatchUpdateRequest, AclItem, Id};
use serde::Deserialize;

/// Runs one change; returns the id of the object it created, if any.
pub(super) async fn run(
    input: &ApplyInput<'_>,
    ids: &Ids,
    change: &Change,
) -> Result<Option<String>, ChangeError> {
    let key = key_of(change)?;
    let cx = Cx::new(input, ids, change, &key)?;
    match change.action {
        Action::Delete => cx.delete().await.map(|()| None),
        Action::Create => cx.create().await,
        Action::Update => cx.update().await.map(|()| None),
        Action::Replace => {
            cx.delete().await?;
            cx.create().await
        }
    }
}

/// The most ACLs one `acl/batch_update` call carries. The spec sets no bound on the arrays; an
/// ACL item is at most about 260 bytes of JSON (three ids of 36 characters, two enum values and
/// the keys), so a full call is under 30 KB, far below any common request-body limit, while 100
/// grants per call cut the round trips of a large apply a hundredfold (assumption G9).
pub(super) const ACL_BATCH_MAX: usize = 100;

/// Grant creates (`Action::Create`) or grant deletes, written together: the ACL items are built
/// change by change (a change whose ids cannot be resolved fails alone), grouped per org and
/// ordered by object so that one object's grants share a call where they fit, and sent in calls
/// of at most [`ACL_BATCH_MAX`] items, `concurrency` calls at a time. Returns one result per
/// change, in the order given; a failed call fails every grant it carried and nothing else.
/// Whether the API applies a failed call in part is not known (assumption G9): the failure is
/// reported for each of its grants and the next plan shows which of them landed.
pub(super) async fn run_grants(
    input: &ApplyInput<'_>,
    ids: &Ids,
    changes: &[&Change],
    concurrency: usize,
) -> Vec<Result<Option<String>, ChangeError>> {
    let mut results: Vec<Option<Result<Option<String>, ChangeError>>> =
        changes.iter().map(|_| None).collect();
    // (org, item, index of the change) for every change whose item could be built.
    let mut items: Vec<(OrgName, AclItem, usize)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        match grant_item(input, ids, change) {
            Ok((org, item)) => items.push((org, item, i)),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    items.sort_by(|a, b| {
        (
            a.0.as_str(),
            a.1.object_type.as_str(),
            a.1.object_id.as_str(),
            a.2,
        )
            .cmp(&(
                b.0.as_str(),
                b.1.object_type.as_str(),
                b.1.object_id.as_str(),
                b.2,
            ))
    });
    let mut batches: Vec<&[(OrgName, AclItem, usize)]> = Vec::new();
    for org_items in items.chunk_by(|a, b| a.0 == b.0) {
        batches.extend(org_items.chunks(ACL_BATCH_MAX));
    }
    let remove = changes.first().is_some_and(|c| c.action == Action::Delete);
    for wave in batches.chunks(concurrency.max(1)) {
        let calls = wave
            .iter()
            .map(|batch| send_acl_batch(input, batch, remove));
        for (batch, outcome) in wave.iter().zip(super::join_all(calls).await) {
            for (org, item, i) in batch.iter() {
                results[*i] = Some(match &outcome {
                    Ok(added) => {
                        let id = added
                            .iter()
                            .find(|acl| same_acl(acl, item))
                            .map(|acl| acl.id.as_str().to_owned());
                        if let Some(id) = &id
                            && let Ok(key) = key_of(changes[*i])
                            && key.org == *org
                        {
                            ids.set(key, id.clone());
                        }
                        Ok(id)
                    }
                    Err(e) => Err(ChangeError::Unresolved(format!(
                        "the `acl/batch_update` call carrying this grant and {} other(s) failed: {e}",
                        batch.len() - 1
                    ))),
                });
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ChangeError::Unresolved("grant was not sent".into()))))
        .collect()
}

/// The API client of `org`.
fn client_for<'a>(input: &'a ApplyInput<'_>, org: &OrgName) -> Result<&'a Client, ChangeError> {
    input
        .clients
        .get(org)
        .ok_or_else(|| ChangeError::Unresolved(format!("no API client for org `{org}`")))
}

/// The org and ACL item of one grant create (from the manifests) or delete (from live state).
fn grant_item(
    input: &ApplyInput<'_>,
    ids: &Ids,
    change: &Change,
) -> Result<(OrgName, AclItem), ChangeError> {
    let key = key_of(change)?;
    let cx = Cx::new(input, ids, change, &key)?;
    let spec = if change.action == Action::Delete {
        cx.live().map(|o| &o.spec)
    } else {
        Some(cx.spec()?)
    };
    let Some(Spec::Grant(g)) = spec else {
        return Err(ChangeError::Unresolved(format!(
            "`{key}` is not a grant in the {} state",
            if change.action == Action::Delete {
                "live"
            } else {
                "desired"
            }
        )));
    };
    let item = cx.acl_item(g)?;
    Ok((key.org.clone(), item))
}

/// Sends one batch; answers the ACLs the call says it added (empty for removals).
async fn send_acl_batch(
    input: &ApplyInput<'_>,
    batch: &[(OrgName, AclItem, usize)],
    remove: bool,
) -> Result<Vec<Acl>, ChangeError> {
    let Some((org, _, _)) = batch.first() else {
        return Ok(Vec::new());
    };
    let client = client_for(input, org)?;
    let list: Vec<AclItem> = batch.iter().map(|(_, item, _)| item.clone()).collect();
    let body = if remove {
        AclBatchUpdateRequest {
            add_acls: None,
            remove_acls: Some(list),
        }
    } else {
        AclBatchUpdateRequest {
            add_acls: Some(list),
            remove_acls: None,
        }
    };
    let out = client
        .send::<Value, Value>(Method::POST, ACL_BATCH_UPDATE_PATH, &body_value(&body))
        .await?;
    // An answer we cannot read does not undo the write: the ids are then just not known.
    let added = out
        .get("added_acls")
        .and_then(|v| Vec::<Acl>::deserialize(v).ok())
        .unwrap_or_default();
    Ok(added)
}

/// Whether an ACL the API answered is the one an item asked for.
fn same_acl(acl: &Acl, item: &AclItem) -> bool {
    acl.object_type == item.object_type
        && acl.object_id == item.object_id
        && acl.user_id == item.user_id
        && acl.group_id == item.group_id
        && acl.permission == item.permission
        && acl.restrict_object_type == item.restrict_object_type
        && acl.role_id == item.role_id
}

/// How an object kind carries its write-only secret.
struct SecretWrite<'a> {
    /// Body field holding the value: `secret` or `value`.
    field: &'static str,
    /// Metadata declared in the manifest.
    declared: &'a BTreeMap<String, Value>,
    /// `PATCH /v1/env_var/{id}` requires the name.
    name: Option<&'a str>,
    /// The metadata map is the manifest's whole (AI secrets): a key the manifest removed must
    /// go, even where a PATCH deep-merges it back (S4). Env vars declare none, and keys others
    /// put there are left alone.
    metadata_managed: bool,
}

impl<'a> SecretWrite<'a> {
    fn ai_secret(declared: &'a BTreeMap<String, Value>) -> SecretWrite<'a> {
        SecretWrite {
            field: "secret",
            declared,
            name: None,
            metadata_managed: true,
        }
    }

    /// A project AI provider: like an env var (the key in `value`, the name on every PATCH),
    /// with `metadata` the map to send (declared keys over the live ones, see
    /// `ai_provider::metadata_to_send`), never replaced whole.
    fn ai_provider(name: &'a str, metadata: &'a BTreeMap<String, Value>) -> SecretWrite<'a> {
        SecretWrite {
            field: "value",
            declared: metadata,
            name: Some(name),
            metadata_managed: false,
        }
    }

    fn env_var(name: &'a str) -> SecretWrite<'a> {
        SecretWrite {
            field: "value",
            declared: &NO_METADATA,
            name: Some(name),
            metadata_managed: false,
        }
    }
}

/// Env vars declare no metadata of their own.
static NO_METADATA: BTreeMap<String, Value> = BTreeMap::new();

struct Cx<'a> {
    input: &'a ApplyInput<'a>,
    ids: &'a Ids,
    client: &'a Client,
    key: &'a ResourceKey,
    change: &'a Change,
}

impl<'a> Cx<'a> {
    /// The context of `change` to the object `key`, with its org's client.
    fn new(
        input: &'a ApplyInput<'a>,
        ids: &'a Ids,
        change: &'a Change,
        key: &'a ResourceKey,
    ) -> Result<Cx<'a>, ChangeError> {
        Ok(Cx {
            input,
            ids,
            client: client_for(input, &key.org)?,
            key,
            change,
        })
    }
}

impl Cx<'_> {
    fn spec(&self) -> Result<&Spec, ChangeError> {
        self.input
            .desired
            .resources
            .get(self.key)
            .map(|r| &r.spec)
            .ok_or_else(|| {
                ChangeError::Unresolved(format!("`{}` is not declared in the manifests", self.key))
            })
    }

    /// Adds to `sent` (the value of the live object's field `field` as this update sends it)
    /// every part of the live field that the wire type `W` does not model, so that an update
    /// sending the field whole does not erase what bt-gitops cannot see. Parts the model knows
    /// are never brought back (a key removed from the manifest stays removed), and nothing is
    /// carried across a change of `type` or `event_type`.
    fn keep_unmodelled<W: serde::de::DeserializeOwned + serde::Serialize>(
        &self,
        sent: &mut Value,
        field: &str,
    ) {
        let Some(raw) = self.live().and_then(|o| o.raw.as_ref()) else {
            return;
        };
        let Ok(typed) = W::deserialize(raw) else {
            return;
        };
        let modelled = serde_json::to_value(&typed).unwrap_or_default();
        keep_unknown(sent, &raw[field], &modelled[field]);
    }

    /// The live object this change updates or deletes, found by id (renames change the key).
    fn live(&self) -> Option<&LiveObject> {
        let id = self.change.id.as_deref()?;
        self.input.live.objects.values().find(|o| o.id == id)
    }

    /// The project a project change is about (its own name, not its parent).
    fn own_project(&self) -> Result<ProjectName, ChangeError> {
        ProjectName::new(&self.key.name)
            .map_err(|e| ChangeError::Unresolved(format!("`{}`: {e:?}", self.key)))
    }

    fn id_of(&self, key: &ResourceKey) -> Result<String, ChangeError> {
        self.ids.get(key).ok_or_else(|| {
            ChangeError::Unresolved(format!(
                "`{key}` has no id: it neither exists nor was created"
            ))
        })
    }

    fn project_id(&self) -> Result<String, ChangeError> {
        let project = self
            .key
            .project
            .as_ref()
            .ok_or_else(|| ChangeError::Unresolved(format!("`{}` has no project", self.key)))?;
        self.id_of(&ResourceKey::project(&self.key.org, project))
    }

    fn own_id(&self) -> Result<String, ChangeError> {
        self.change
            .id
            .clone()
            .ok_or_else(|| ChangeError::Unresolved(format!("`{}` has no live id", self.key)))
    }

    /// The new name when the change renames the object.
    fn rename(&self) -> Option<String> {
        self.change
            .renamed_from
            .as_ref()
            .map(|_| self.key.name.clone())
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Result<Value, ChangeError> {
        Ok(self
            .client
            .send::<Value, Value>(method, path, &body)
            .await?)
    }

    /// This kind's API collection, from the kind registry (`/v1/group`).
    fn collection(&self) -> Result<&'static str, ChangeError> {
        self.key
            .kind
            .path()
            .ok_or_else(|| ChangeError::Unresolved(format!("`{}` has no API collection", self.key)))
    }

    /// One object of this kind's API collection (`/v1/group/{id}`).
    fn object_path(&self, id: &str) -> Result<String, ChangeError> {
        Ok(format!("{}/{id}", self.collection()?))
    }

    /// Records a created object's id so later changes can refer to it.
    fn created(&self, response: &Value) -> Option<String> {
        let id = response
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)?;
        self.ids.set(self.key.clone(), id.clone());
        Some(id)
    }

    /// The id of this object's project, as the typed request bodies take it.
    fn typed_project_id(&self) -> Result<Id, ChangeError> {
        Id::parse(&self.project_id()?)
            .map_err(|e| ChangeError::Unresolved(format!("`{}`: {e}", self.key)))
    }

    /// Creates a plain project child with its kind's typed create body (see `crate::kinds`).
    async fn create_child(&self, spec: &ChildSpec) -> Result<Option<String>, ChangeError> {
        let project_id = self.typed_project_id()?;
        let (verb, body) = spec.create(project_id, &self.key.name);
        let out = match verb {
            CreateVerb::Post => self.send(Method::POST, self.collection()?, body).await?,
            CreateVerb::Put => self.put_in_project(body).await?,
        };
        Ok(self.created(&out))
    }

    /// Whether another project of the org holds, or is declared to hold, an object of this
    /// change's collection under its name, in a collection whose names the spec does not
    /// promise to be unique per project (A3, J9).
    fn name_held_elsewhere(&self) -> bool {
        let collection = self.key.kind.list_collection();
        if collection.names_unique_per_project() {
            return false;
        }
        let elsewhere =
            |project: &Option<ProjectName>| project.is_some() && *project != self.key.project;
        let same = |k: &ResourceKey| {
            k.org == self.key.org
                && elsewhere(&k.project)
                && k.kind.list_collection() == collection
                && k.name == self.key.name
        };
        self.input.live.objects.keys().any(same)
            || self.input.desired.resources.keys().any(same)
            || self.input.live.unknown.iter().any(|u| {
                u.org == self.key.org
                    && elsewhere(&u.project)
                    && u.collection == collection
                    && u.name.as_deref() == Some(self.key.name.as_str())
            })
    }

    /// Creates a project child with a PUT (create or replace by name), unless its name is
    /// held in another project of the org: where names are unique per org rather than per
    /// project, that PUT would replace the other project's object. It is then created with a
    /// POST (create, or return the existing object unmodified), and an answer from another
    /// project fails the change without anything changed (A3, J9).
    async fn put_in_project(&self, body: Value) -> Result<Value, ChangeError> {
        if !self.name_held_elsewhere() {
            return self.send(Method::PUT, self.collection()?, body).await;
        }
        let out = self.send(Method::POST, self.collection()?, body).await?;
        let ours = self.project_id()?;
        match out.get("project_id").and_then(Value::as_str) {
            Some(project_id) if project_id == ours => Ok(out),
            other => {
                let entry = match self.key.kind.list_collection() {
                    crate::vocab::Collection::SpanIframe => "J9",
                    _ => "A3",
                };
                Err(ChangeError::Unresolved(format!(
                    "the API answered the create of `{}` with an object of that name in another project ({}): its names are unique in the org, not per project (docs/api-assumptions.md {entry}); nothing was changed, give it a name no other project uses",
                    self.key,
                    other.unwrap_or("none named")
                )))
            }
        }
    }

    /// Creates a plain org-level object with its kind's typed create body (see `crate::kinds`).
    async fn create_org_child(&self, spec: &OrgChildSpec) -> Result<Option<String>, ChangeError> {
        let (verb, body) = spec
            .create(self.key.org.as_str(), &self.key.name, self)
            .map_err(|e| self.body_error(e))?;
        let method = match verb {
            CreateVerb::Post => Method::POST,
            CreateVerb::Put => Method::PUT,
        };
        if self.key.kind == Kind::Environment {
            // Whether a POST of an existing slug returns it or is an error is not documented
            // (E3): a lost answer is checked in the list, never resent blindly.
            let (org, slug) = (self.key.org.as_str(), self.key.name.as_str());
            let created = self
                .client
                .create_once(method, self.collection()?, &body, || {
                    lookup::environment(self.client, org, slug)
                })
                .await?;
            let (Created::Answered(out) | Created::Found(out)) = created;
            return Ok(self.created(&out));
        }
        let out = self.send(method, self.collection()?, body).await?;
        Ok(self.created(&out))
    }

    fn body_error(&self, e: BodyError) -> ChangeError {
        match e {
            BodyError::Unresolved(message) => ChangeError::Unresolved(message),
            BodyError::NeedsLive => {
                ChangeError::Unresolved(format!("`{}` cannot be updated in place", self.key))
            }
        }
    }

    async fn create(&self) -> Result<Option<String>, ChangeError> {
        let spec = self.spec()?.clone();
        match &spec {
            Spec::Org(_) => Err(ChangeError::Unresolved(
                "orgs cannot be created through the API".into(),
            )),
            Spec::Member(email) => {
                let body = body_value(&member::invite(email, self.key.org.as_str()));
                let out = self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                if let Some(id) = self.added_user(&out) {
                    return Ok(Some(id));
                }
                // `added_users` is promised only for service accounts with tokens (O7).
                let id =
                    lookup::member_id(self.client, self.key.org.as_str(), email.as_str()).await?;
                Ok(id.map(|id| self.record_id(id)))
            }
            Spec::ServiceAccount => {
                // Not idempotent (K6): a lost answer is checked in the user list, never resent blindly.
                let body = body_value(&service_account::invite(
                    &self.key.name,
                    self.key.org.as_str(),
                ));
                let (org, name) = (self.key.org.as_str(), self.key.name.as_str());
                let created = self
                    .client
                    .create_once(Method::PATCH, ORG_MEMBERS_PATH, &body, || async {
                        let id = lookup::service_account_id(self.client, org, name).await?;
                        Ok(id.map(|id| json!({ "added_users": [{ "id": id }] })))
                    })
                    .await?;
                let (Created::Answered(out) | Created::Found(out)) = created;
                if let Some(id) = self.added_user(&out) {
                    return Ok(Some(id));
                }
                match lookup::service_account_id(self.client, org, name).await? {
                    Some(id) => Ok(Some(self.record_id(id))),
                    // The user list hides service accounts (K1): the account exists, but
                    // nothing that names it (groups, grants, tokens) can be written.
                    None => Err(ChangeError::Unresolved(format!(
                        "the service account `{name}` was created, but this org's user list does not show service accounts (assumption K1), so its id is unknown; give it a token in the UI so that bt-gitops can see it, and do not apply again before (the next plan cannot see it either)"
                    ))),
                }
            }
            Spec::ServiceToken(t) => {
                let account = self.id_of(&ResourceKey::in_org(
                    &self.key.org,
                    Kind::ServiceAccount,
                    t.account.as_str(),
                ))?;
                let body = body_value(&service_token::create(
                    t,
                    account.clone(),
                    self.key.org.as_str(),
                ));
                // Not idempotent (K4): token names need not be unique, so a lost answer is
                // checked in the token list, never resent blindly.
                let (org, name) = (self.key.org.as_str(), t.name.as_str());
                let created = self
                    .client
                    .create_once(Method::POST, self.collection()?, &body, || {
                        lookup::service_token(self.client, org, &account, name)
                    })
                    .await?;
                let out = match created {
                    Created::Answered(out) => out,
                    Created::Found(found) if t.write_key_to.is_some() => {
                        // The key was in the lost answer and is shown only once: a token
                        // nobody holds is useless, so it is revoked for the next apply to
                        // create afresh.
                        let revoked = self.revoke_token(&found, "revoking it failed").await;
                        return Err(ChangeError::Unresolved(format!(
                            "the token was created but the answer carrying its key was lost, so no key could be written; {revoked}, and the next apply creates it afresh"
                        )));
                    }
                    Created::Found(found) => found,
                };
                if let Some(key) = out.get("key").and_then(Value::as_str) {
                    crate::redact::register(key);
                }
                if let (Some(path), Some(key)) =
                    (&t.write_key_to, out.get("key").and_then(Value::as_str))
                    && let Err(e) = write_key(&self.input_root().join(path), key)
                {
                    // A key nobody holds is useless and the next plan would not recreate it:
                    // revoke the token again and fail loudly.
                    let revoked = self.revoke_token(&out, "revoking it failed too").await;
                    return Err(ChangeError::Unresolved(format!(
                        "the token was created but its key could not be written to `{path}` ({e}); {revoked}"
                    )));
                }
                Ok(self.created(&out))
            }
            Spec::OrgChild(c) => self.create_org_child(c).await,
            Spec::AiSecret(s) => {
                let body = body_value(&ai_secret::create(s, &self.key.name, self.key.org.as_str()));
                let write = SecretWrite::ai_secret(&s.metadata);
                let out = self
                    .send_with_secret(Method::PUT, self.collection()?, body, &write, true)
                    .await?;
                Ok(self.created(&out))
            }
            Spec::EnvVar(e) => {
                let (object_type, object_id) = env_var::object(&e.scope, &self.key.org, self)
                    .map_err(|e| self.body_error(e))?;
                let body = body_value(&env_var::create(e, object_type, object_id));
                let write = SecretWrite::env_var(e.name.as_str());
                let out = self
                    .send_with_secret(Method::PUT, self.collection()?, body, &write, true)
                    .await?;
                Ok(self.created(&out))
            }
            Spec::AiProvider(p) => self.create_ai_provider(p).await,
            Spec::Project(p) => {
                let body = project::create(p, self.key.org.as_str(), &self.key.name);
                let out = self
                    .send(Method::POST, self.collection()?, typed(&Some(body))?)
                    .await?;
                let id = self.created(&out);
                let settings = project::settings_patch(p, &self.own_project()?, self)
                    .map_err(|e| self.body_error(e))?;
                if let (Some(body), Some(id)) = (settings, &id) {
                    self.send(Method::PATCH, &self.object_path(id)?, typed(&Some(body))?)
                        .await?;
                }
                Ok(id)
            }
            Spec::Child(c) => self.create_child(c).await,
            Spec::Score(_) | Spec::OnlineScoring(_) => {
                let parts = project_score::parts(&spec, self).map_err(|e| self.body_error(e))?;
                let body = project_score::create(parts, self.typed_project_id()?, &self.key.name);
                let out = self
                    .send(Method::PUT, self.collection()?, typed(&Some(body))?)
                    .await?;
                Ok(self.created(&out))
            }
            Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_) | Spec::EnvironmentAlert(_) => {
                let body =
                    automation::create(&spec, self.typed_project_id()?, &self.key.name, || {
                        external_id(self.key)
                    });
                let out = self.put_in_project(typed(&body)?).await?;
                let id = self.created(&out);
                if let (Spec::Export(_), Some(id)) = (&spec, &id) {
                    self.register_export(id).await?;
                }
                if let Some(message) = export::external_id_not_taken(&spec, &out) {
                    return Err(ChangeError::Unresolved(message));
                }
                Ok(id)
            }
            Spec::View(v) => {
                // POST, not PUT: a PUT would replace a view of that name made by someone else.
                let body = crate::kinds::view::create(v, self.typed_project_id()?, &self.key.name);
                let out = self.send(Method::POST, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::Grant(g) => {
                let item = self.acl_item(g)?;
                let out = self
                    .send(
                        Method::POST,
                        ACL_BATCH_UPDATE_PATH,
                        body_value(&AclBatchUpdateRequest {
                            add_acls: Some(vec![item]),
                            remove_acls: None,
                        }),
                    )
                    .await?;
                let id = out
                    .pointer("/added_acls/0/id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(id) = &id {
                    self.ids.set(self.key.clone(), id.clone());
                }
                Ok(id)
            }
        }
    }

    /// Reports a step of this change of its own (started: `None`; then its result) to the
    /// observer, which journals it.
    fn observe_step(&self, step: &'static str, result: Option<Result<(), &str>>) {
        if let Some(observe) = self.input.observer {
            observe(super::Outcome::Step {
                address: &self.change.address,
                step,
                result,
            });
        }
    }

    /// Registers a newly created export with Braintrust's scheduler (A6), as a journaled step
    /// of its own. The public API shows no registration, so a plan cannot tell a registered
    /// export from an unregistered one: when the registration fails, the export just created
    /// is deleted again, so that the next plan creates and registers it afresh, and the change
    /// fails loudly either way.
    async fn register_export(&self, id: &str) -> Result<(), ChangeError> {
        let observe =
            |result: Option<Result<(), &str>>| self.observe_step("register_export", result);
        observe(None);
        let Err(e) = self.client.register_export(id).await else {
            observe(Some(Ok(())));
            return Ok(());
        };
        let error = e.to_string();
        observe(Some(Err(&error)));
        let undone = self
            .client
            .delete::<Value>(&self.object_path(id)?)
            .await
            .map_or_else(
                |d| format!("deleting the unregistered export failed too ({d}): register it in the Braintrust UI or delete it by hand, since no plan can see that it is unregistered"),
                |_| "the unregistered export was deleted again, so the next apply creates and registers it afresh".to_owned(),
            );
        Err(ChangeError::Unresolved(format!(
            "the export was created but registering it with `POST /automation/cron` failed ({error}); {undone}"
        )))
    }

    async fn update(&self) -> Result<(), ChangeError> {
        let spec = self.spec()?.clone();
        let id = self.own_id()?;
        let live = self.live().map(|o| o.spec.clone());
        match (&spec, live.as_ref()) {
            (Spec::Org(s), _) => {
                let body = crate::kinds::org::patch(s);
                self.send(Method::PATCH, &self.object_path(&id)?, body_value(&body))
                    .await?;
            }
            (Spec::OrgChild(c), live) => {
                let body = c
                    .patch(live, self.rename(), self)
                    .map_err(|e| self.body_error(e))?;
                self.send(Method::PATCH, &self.object_path(&id)?, body)
                    .await?;
            }
            (Spec::AiSecret(s), _) => {
                let body = body_value(&ai_secret::patch(s, self.rename()));
                self.patch_with_secret(&id, body, &SecretWrite::ai_secret(&s.metadata))
                    .await?;
            }
            (Spec::EnvVar(e), _) => {
                let body = body_value(&env_var::patch(e));
                self.patch_with_secret(&id, body, &SecretWrite::env_var(e.name.as_str()))
                    .await?;
            }
            (Spec::AiProvider(p), _) => {
                // Live keys the manifest does not declare are sent back (S12): the same result
                // whether the PATCH deep-merges the map or replaces it.
                let live = self
                    .live()
                    .and_then(|o| o.raw.as_ref())
                    .and_then(|raw| raw.get("metadata"));
                let metadata =
                    ai_provider::metadata_to_send(&p.metadata, live, SECRET_METADATA_KEY);
                let body = body_value(&ai_provider::patch(p, &self.key.name));
                let write = SecretWrite::ai_provider(&self.key.name, &metadata);
                self.patch_with_secret(&id, body, &write).await?;
            }
            (Spec::Project(p), live) => {
                let old = match live {
                    Some(Spec::Project(old)) => old.settings.clone(),
                    _ => None,
                };
                let body =
                    project::patch(p, old.as_ref(), self.rename(), &self.own_project()?, self)
                        .map_err(|e| self.body_error(e))?;
                let mut body = typed(&Some(body))?;
                if body.get("settings").is_some() {
                    // PATCH replaces `settings` whole: send back every key we do not model.
                    self.keep_unmodelled::<crate::wire::Project>(&mut body["settings"], "settings");
                }
                self.send(Method::PATCH, &self.object_path(&id)?, body)
                    .await?;
            }
            (Spec::Child(c), _) => {
                self.send(
                    Method::PATCH,
                    &self.object_path(&id)?,
                    c.patch(self.rename()),
                )
                .await?;
            }
            (Spec::Score(_) | Spec::OnlineScoring(_), _) => {
                let parts = project_score::parts(&spec, self).map_err(|e| self.body_error(e))?;
                let body = project_score::patch(parts, self.rename());
                let mut body = typed(&Some(body))?;
                // `config` is sent whole: keep what the live one holds outside our model.
                if let Some(config) = body.get_mut("config") {
                    self.keep_unmodelled::<crate::wire::ProjectScore>(config, "config");
                }
                let out = self
                    .send(Method::PATCH, &self.object_path(&id)?, body.clone())
                    .await?;
                // A weighted score's map and the config may be deep-merged (J7).
                self.replace_if_merged(&body, &out, &["categories", "config"], None)
                    .await?;
            }
            (
                Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_) | Spec::EnvironmentAlert(_),
                live,
            ) => {
                // The config is sent whole and the API requires an AWS external id: keep the
                // live one when the manifest leaves it to Braintrust.
                let kept = match live {
                    Some(Spec::Export(ExportSpec {
                        credentials:
                            ExportCredentials::Aws {
                                external_id: Some(id),
                                ..
                            },
                        ..
                    })) => Some(id.clone()),
                    _ => None,
                };
                let body = automation::patch(&spec, self.rename(), || {
                    kept.unwrap_or_else(|| external_id(self.key))
                });
                let mut body = typed(&body)?;
                // The config is sent whole (A4): keep what the live one holds outside our model.
                if let Some(config) = body.get_mut("config") {
                    self.keep_unmodelled::<crate::wire::ProjectAutomation>(config, "config");
                }
                let out = self
                    .send(Method::PATCH, &self.object_path(&id)?, body.clone())
                    .await?;
                // The config may be deep-merged (A4).
                self.replace_if_merged(&body, &out, &["config"], None)
                    .await?;
                if let Some(message) = export::external_id_not_taken(&spec, &out) {
                    return Err(ChangeError::Unresolved(message));
                }
            }
            (Spec::View(v), _) => {
                let live = self.view_raw()?;
                let body =
                    crate::kinds::view::patch(v, self.view_locator(live)?, self.rename(), live);
                self.send(Method::PATCH, &self.object_path(&id)?, body)
                    .await?;
            }
            (
                Spec::Member(_) | Spec::ServiceAccount | Spec::ServiceToken(_) | Spec::Grant(_),
                _,
            ) => {
                return Err(ChangeError::Unresolved(format!(
                    "`{}` cannot be updated in place",
                    self.key
                )));
            }
        }
        Ok(())
    }

    async fn delete(&self) -> Result<(), ChangeError> {
        let id = self.own_id()?;
        let path = match self.key.kind {
            Kind::Org => {
                return Err(ChangeError::Unresolved(
                    "orgs cannot be deleted through the API".into(),
                ));
            }
            Kind::Member => {
                let body = body_value(&member::remove(&self.key.name, self.key.org.as_str()));
                self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                return Ok(());
            }
            Kind::ServiceAccount => {
                let id = Id::parse(&id)
                    .map_err(|e| ChangeError::Unresolved(format!("`{}`: {e}", self.key)))?;
                let body = body_value(&service_account::remove(id.clone(), self.key.org.as_str()));
                self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                // Whether `remove_users.ids` removes a service account is not documented (K9):
                // the answer says success either way, so the account is looked up again.
                let org = self.key.org.as_str();
                let still = lookup::service_account_id(self.client, org, &self.key.name).await?;
                if still.as_deref() == Some(id.as_str()) {
                    return Err(ChangeError::Unresolved(format!(
                        "`{}`: the API answered the removal with success, but the service account is still in the org (remove it in the Braintrust UI)",
                        self.key
                    )));
                }
                return Ok(());
            }
            Kind::Grant => {
                let Some(Spec::Grant(g)) = self.live().map(|o| &o.spec) else {
                    return Err(ChangeError::Unresolved(format!(
                        "`{}` is not in the live state",
                        self.key
                    )));
                };
                let item = self.acl_item(g)?;
                self.send(
                    Method::POST,
                    ACL_BATCH_UPDATE_PATH,
                    body_value(&AclBatchUpdateRequest {
                        add_acls: None,
                        remove_acls: Some(vec![item]),
                    }),
                )
                .await?;
                return Ok(());
            }
            Kind::View => {
                // The delete carries the view's locator as its body (spec `DeleteView`).
                let locator = self.view_locator(self.view_raw()?)?;
                let path = self.object_path(&id)?;
                self.client
                    .send::<_, Value>(Method::DELETE, &path, &locator)
                    .await?;
                return Ok(());
            }
            _ => self.collection()?,
        };
        self.client.delete::<Value>(&format!("{path}/{id}")).await?;
        Ok(())
    }

    /// The live view this change updates or deletes, as listed.
    fn view_raw(&self) -> Result<&Value, ChangeError> {
        self.live().and_then(|o| o.raw.as_ref()).ok_or_else(|| {
            ChangeError::Unresolved(format!("`{}` is not in the live state", self.key))
        })
    }

    /// The locator (`object_type`, `object_id`) of a listed view.
    fn view_locator(&self, raw: &Value) -> Result<crate::wire::DeleteView, ChangeError> {
        crate::kinds::view::locator(raw).ok_or_else(|| {
            ChangeError::Unresolved(format!("`{}`: the listed view has no locator", self.key))
        })
    }

    /// Revokes the service token `token` (as the API answered it) whose key could not be
    /// handed over, and says how that went for the change's error; `failed` opens the sentence
    /// when the revoke fails too.
    async fn revoke_token(&self, token: &Value, failed: &str) -> String {
        let id = token.get("id").and_then(Value::as_str).unwrap_or_default();
        self.client
            .delete::<Value>(&format!("/v1/service_token/{id}"))
            .await
            .map_or_else(
                |r| format!("{failed} ({r}): delete it by hand"),
                |_| "it was revoked again".to_owned(),
            )
    }

    fn input_root(&self) -> &std::path::Path {
        &self.input.root
    }

    /// The id of the user or service account a members PATCH added, when it says.
    fn added_user(&self, out: &Value) -> Option<String> {
        let id = out
            .pointer("/added_users/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned)?;
        Some(self.record_id(id))
    }

    /// Records the id of the object this change created, for later changes.
    fn record_id(&self, id: String) -> String {
        self.ids.set(self.key.clone(), id.clone());
        id
    }

    /// Metadata as declared, plus the digest of the secret being written.
    fn metadata(
        &self,
        declared: &std::collections::BTreeMap<String, Value>,
        digest: Option<&str>,
    ) -> Value {
        let mut map: Map<String, Value> = declared
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(d) = digest {
            map.insert(SECRET_METADATA_KEY.into(), json!({ "digest": d }));
        } else if let Some(old) = self.live().and_then(|o| o.secret.as_ref()) {
            // Keep the record of the last write when the secret itself is untouched.
            if let Some(d) = &old.recorded_digest {
                map.insert(
                    SECRET_METADATA_KEY.into(),
                    json!({ "digest": d, "written_at": old.recorded_at }),
                );
            }
        }
        Value::Object(map)
    }

    /// Sends the body of an object holding a write-only secret. When `write_value` is set and a
    /// value is available, the value goes in `write.field` and its digest in the metadata; once
    /// written, the server's time of the change is recorded next to the digest, so that a later
    /// change outside bt-gitops shows as a rotation. Otherwise the last record is kept.
    /// PATCHes an object that holds a secret; the value is written again only when the plan
    /// has a secret change for it.
    async fn patch_with_secret(
        &self,
        id: &str,
        body: Value,
        write: &SecretWrite<'_>,
    ) -> Result<Value, ChangeError> {
        let path = self.object_path(id)?;
        let rewrite = self.change.secret.is_some();
        self.send_with_secret(Method::PATCH, &path, body, write, rewrite)
            .await
    }

    async fn send_with_secret(
        &self,
        method: Method,
        path: &str,
        mut body: Value,
        write: &SecretWrite<'_>,
        write_value: bool,
    ) -> Result<Value, ChangeError> {
        self.add_secret(&mut body, write, write_value);
        let out = self.send(method.clone(), path, body.clone()).await?;
        if write.metadata_managed && method == Method::PATCH {
            // The metadata may be deep-merged (S4); bt-gitops's own record is rewritten whole
            // below, so only the declared keys are looked at. The replacing PUT carries no
            // secret, which keeps the stored one (S1).
            let mut put = body.clone();
            if let Some(map) = put.as_object_mut() {
                map.remove(write.field);
            }
            self.replace_if_merged(&body, &out, &["metadata"], Some(put))
                .await?;
        }
        self.record_write(&out, write, write_value).await?;
        Ok(out)
    }

    /// Adds the metadata (with the digest of the value when `write_value` and a value is
    /// available) and the value to a body.
    fn add_secret(&self, body: &mut Value, write: &SecretWrite<'_>, write_value: bool) {
        let secret = self.input.secrets.get(self.key).filter(|_| write_value);
        body["metadata"] = self.metadata(write.declared, secret.map(|v| v.digest.as_str()));
        if let Some(v) = secret {
            body[write.field] = json!(v.value);
        }
    }

    /// Creates a project AI provider with `POST /v1/env_var` (never PUT, which would replace an
    /// entry of that name), then checks the answer before anything else is written: whether a
    /// provider `secret_type` files the entry as an AI provider is unconfirmed (S12). When the
    /// answer is not an AI provider and its metadata holds the digest record this write sent,
    /// the entry is the plain env var this write made: it is deleted again, as a journaled step
    /// of its own, and the change fails naming S12. Any other answer (an existing entry of that
    /// name returned unmodified) is left untouched and fails the change.
    async fn create_ai_provider(
        &self,
        p: &crate::kinds::ai_provider::AiProviderSpec,
    ) -> Result<Option<String>, ChangeError> {
        let mut body = body_value(&ai_provider::create(
            p,
            &self.key.name,
            self.typed_project_id()?,
        ));
        let write = SecretWrite::ai_provider(&self.key.name, &p.metadata);
        self.add_secret(&mut body, &write, true);
        let out = self.send(Method::POST, self.collection()?, body).await?;
        let digest = self.input.secrets.get(self.key).map(|v| v.digest.as_str());
        let ours = ai_provider::holds_record(&out, SECRET_METADATA_KEY, digest);
        let id = out.get("id").and_then(Value::as_str).unwrap_or_default();
        match ai_provider::not_filed_as_provider(&out) {
            None if ours || digest.is_none() => {}
            None => {
                return Err(ChangeError::Unresolved(format!(
                    "`POST /v1/env_var` answered with an existing AI provider of that name (id {id}) that this write did not make (it was returned unmodified, so the key was not written); nothing was changed: plan again"
                )));
            }
            Some(category) if ours => {
                let undone = self.delete_plain_env_var(id).await;
                return Err(ChangeError::Unresolved(format!(
                    "the server filed the new entry as a plain env var ({category}), not as an AI provider, so project AI providers cannot be created through the API on this server (docs/api-assumptions.md S12, answer B); {undone}. Create the provider in the Braintrust UI: the next plan then manages it"
                )));
            }
            Some(category) => {
                return Err(ChangeError::Unresolved(format!(
                    "`POST /v1/env_var` answered with an entry (id {id}, {category}) that this write did not make: an existing entry of that name, returned unmodified; nothing was changed. Whether such a write files an AI provider is unconfirmed (docs/api-assumptions.md S12)"
                )));
            }
        }
        self.record_write(&out, &write, true).await?;
        Ok(self.created(&out))
    }

    /// Deletes the plain env var an AI provider create made (S12), as a journaled step of its
    /// own; says how that went for the change's error.
    async fn delete_plain_env_var(&self, id: &str) -> String {
        let observe =
            |result: Option<Result<(), &str>>| self.observe_step("delete_plain_env_var", result);
        observe(None);
        let deleted = match self.object_path(id) {
            Ok(path) => self
                .client
                .delete::<Value>(&path)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match deleted {
            Ok(_) => {
                observe(Some(Ok(())));
                format!("the entry it made (id {id}) was deleted again, so nothing is left behind")
            }
            Err(e) => {
                observe(Some(Err(&e)));
                format!(
                    "deleting the entry it made (id {id}) failed too ({e}): delete the env var `{}` of this project by hand",
                    self.key.name
                )
            }
        }
    }

    /// After a write that sent the value (see [`Cx::send_with_secret`]): records the server's
    /// time of the change next to the digest in the metadata, and checks that this did not move
    /// that time (S5, S10).
    async fn record_write(
        &self,
        out: &Value,
        write: &SecretWrite<'_>,
        write_value: bool,
    ) -> Result<(), ChangeError> {
        let secret = self.input.secrets.get(self.key).filter(|_| write_value);
        if let (Some(v), Some(id)) = (secret, out.get("id").and_then(Value::as_str)) {
            let at = out.get("secret_updated_at").cloned().unwrap_or(Value::Null);
            let mut map: Map<String, Value> = write
                .declared
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            map.insert(
                SECRET_METADATA_KEY.into(),
                json!({ "digest": v.digest, "written_at": at }),
            );
            let mut stamp = json!({ "metadata": map });
            if let Some(name) = write.name {
                stamp["name"] = json!(name);
            }
            let stamped = self
                .send(Method::PATCH, &self.object_path(id)?, stamp)
                .await?;
            // The record holds only when a metadata PATCH leaves the time alone (S5, S10);
            // otherwise every write would read as a rotation made outside git.
            if let (Some(written), Some(moved)) = (
                at.as_str(),
                stamped.get("secret_updated_at").and_then(Value::as_str),
            ) && written != moved
            {
                return Err(ChangeError::Unresolved(format!(
                    "the value was written, but the API moved `secret_updated_at` (from {written} to {moved}) when bt-gitops only recorded the write in the metadata, so its own writes would read as rotations made outside git; see docs/api-assumptions.md S10"
                )));
            }
        }
        Ok(())
    }

    /// After a PATCH that sent the object-typed `fields` of `sent` whole: when the answer still
    /// holds a key that the live object had and `sent` left out, the server deep-merged them
    /// (the spec's PATCH descriptions say it does; J7, A4, S4), and the key the manifest removed
    /// would stay, with the plan showing the same update forever. The object is then replaced by
    /// a PUT of its create body (`put`, or `sent` with the object's name and project), which
    /// keeps the object's name, and that answer is checked the same way: a key still kept fails
    /// the change loudly.
    async fn replace_if_merged(
        &self,
        sent: &Value,
        answer: &Value,
        fields: &[&str],
        put: Option<Value>,
    ) -> Result<(), ChangeError> {
        let Some(live) = self.live().and_then(|o| o.raw.as_ref()) else {
            return Ok(());
        };
        if kept_by_merge(live, sent, answer, fields).is_empty() {
            return Ok(());
        }
        let mut body = put.unwrap_or_else(|| sent.clone());
        if let Some(map) = body.as_object_mut() {
            map.insert("name".into(), json!(self.key.name));
            if self.key.project.is_some() {
                map.insert("project_id".into(), json!(self.project_id()?));
            } else {
                map.insert("org_name".into(), json!(self.key.org.as_str()));
            }
        }
        let out = self
            .send(Method::PUT, self.collection()?, body.clone())
            .await?;
        let kept = kept_by_merge(live, &body, &out, fields);
        if kept.is_empty() {
            Ok(())
        } else {
            Err(ChangeError::Unresolved(format!(
                "the API kept {} although the manifest removed {}, after a PATCH and a replacing PUT",
                kept.join(", "),
                if kept.len() == 1 { "it" } else { "them" }
            )))
        }
    }

    fn acl_item(&self, g: &GrantSpec) -> Result<AclItem, ChangeError> {
        crate::kinds::grant::acl_item(g, &self.key.org, self).map_err(|e| self.body_error(e))
    }
}

impl BodyIds for Cx<'_> {
    fn id(&self, key: &ResourceKey) -> Result<Id, BodyError> {
        let id = self
            .id_of(key)
            .map_err(|e| BodyError::Unresolved(e.to_string()))?;
        Id::parse(&id).map_err(|e| BodyError::Unresolved(format!("`{}`: {e}", self.key)))
    }

    fn org_object(&self, kind: Kind, name: &str) -> Result<Id, BodyError> {
        let id = self
            .id_of(&ResourceKey::in_org(&self.key.org, kind, name))
            .map_err(|e| BodyError::Unresolved(e.to_string()))?;
        Id::parse(&id).map_err(|e| BodyError::Unresolved(format!("`{}`: {e}", self.key)))
    }

    fn named(&self, project: &ProjectName, kind: RefKind, name: &str) -> Result<Id, BodyError> {
        let id = match name.strip_prefix("id:") {
            Some(id) => Some(id.to_owned()),
            None => {
                // A dataset this apply declares (and maybe just created) has its id here.
                let managed = (kind == RefKind::Dataset)
                    .then(|| {
                        self.ids.get(&ResourceKey::in_project(
                            &self.key.org,
                            project,
                            Kind::Dataset,
                            name,
                        ))
                    })
                    .flatten();
                managed.or_else(|| {
                    let r = ObjectRef {
                        org: self.key.org.clone(),
                        project: project.clone(),
                        kind,
                        name: name.to_owned(),
                        version: None,
                    };
                    self.input.live.references.id(&r).map(str::to_owned)
                })
            }
        };
        let id = id.ok_or_else(|| {
            BodyError::Unresolved(format!(
                "{} `{name}` in project `{project}` was not found when planning",
                kind.as_str()
            ))
        })?;
        Id::parse(&id).map_err(|e| BodyError::Unresolved(format!("`{}`: {e}", self.key)))
    }
}

/// A fresh external id for an AWS export role, unique per object and apply.
fn external_id(key: &ResourceKey) -> String {
    use sha2::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = sha2::Sha256::digest(format!("{key}|{nanos}|{}", std::process::id()).as_bytes());
    format!(
        "bt-gitops-{}",
        digest
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Writes a service token's key to a file only its owner can read: a temporary file (mode
/// 0600) beside it, synced, then renamed over the target, so the file is never half-written and
/// an existing file ends with mode 0600 too.
fn write_key(path: &std::path::Path, key: &str) -> std::io::Result<()> {
    crate::private_file::write(path, key.as_bytes())
}

/// Copies into `sent` the keys of `live` that `modelled` (the same object through our wire
/// types) lacks, recursing into objects both sides have, unless their `type` or `event_type`
/// differ (a Slack action turned webhook keeps nothing of the Slack one).
fn keep_unknown(sent: &mut Value, live: &Value, modelled: &Value) {
    let (Value::Object(sent), Value::Object(live)) = (sent, live) else {
        return;
    };
    for tag in ["type", "event_type"] {
        if let (Some(a), Some(b)) = (sent.get(tag), live.get(tag))
            && a != b
        {
            return;
        }
    }
    for (k, v) in live {
        if v.is_null() {
            continue;
        }
        match (sent.get_mut(k), modelled.get(k)) {
            (Some(s), Some(m)) => keep_unknown(s, v, m),
            (None, None) => {
                sent.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

/// The keys (as `field.key` paths) under the object-typed `fields` that `live` held, `sent`
/// left out and `answer` still holds; bt-gitops's own secret record is not looked at.
fn kept_by_merge(live: &Value, sent: &Value, answer: &Value, fields: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for field in fields {
        if let Some(sent) = sent.get(*field) {
            kept_keys(&live[*field], sent, &answer[*field], field, &mut out);
        }
    }
    out
}

fn kept_keys(live: &Value, sent: &Value, answer: &Value, at: &str, out: &mut Vec<String>) {
    let (Value::Object(live), Value::Object(sent), Value::Object(answer)) = (live, sent, answer)
    else {
        return;
    };
    for (k, v) in live {
        if v.is_null() || k == SECRET_METADATA_KEY {
            continue;
        }
        let path = format!("{at}.{k}");
        match (sent.get(k), answer.get(k)) {
            (None, Some(kept)) if !kept.is_null() => out.push(path),
            (Some(s), Some(a)) => kept_keys(v, s, a, &path, out),
            _ => {}
        }
    }
}

/// A typed request body as JSON; `None` (a spec the body builder does not take) is a bug in the
/// caller's match.
fn typed<T: serde::Serialize>(body: &Option<T>) -> Result<Value, ChangeError> {
    let body = body
        .as_ref()
        .ok_or_else(|| ChangeError::Unresolved("no request body for this kind".into()))?;
    serde_json::to_value(body).map_err(|e| ChangeError::Unresolved(e.to_string()))
}

/// A typed request body as JSON.
fn body_value<T: serde::Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{SECRET_METADATA_KEY, keep_unknown, kept_by_merge};

    #[test]
    fn keys_a_merging_patch_kept_are_found() {
        let live = json!({"categories": {"a": 0.5, "b": 0.5},
            "metadata": {"team": "ml", "region": "us", SECRET_METADATA_KEY: {"digest": "d", "written_at": "t"}}});
        let sent = json!({"categories": {"a": 1.0},
            "metadata": {"region": "eu", SECRET_METADATA_KEY: {"digest": "e"}}});
        // A merging server: every live key stays.
        let merged = json!({"categories": {"a": 1.0, "b": 0.5},
            "metadata": {"team": "ml", "region": "eu", SECRET_METADATA_KEY: {"digest": "e", "written_at": "t"}}});
        assert_eq!(
            kept_by_merge(&live, &sent, &merged, &["categories", "metadata"]),
            ["categories.b", "metadata.team"]
        );
        // A replacing server: nothing kept; bt-gitops's own record is never looked at.
        assert!(kept_by_merge(&live, &sent, &sent, &["categories", "metadata"]).is_empty());
        // A field the body does not send is not looked at either.
        assert!(kept_by_merge(&live, &json!({}), &merged, &["categories"]).is_empty());
    }

    #[test]
    fn unknown_parts_are_kept_and_known_ones_are_not_brought_back() {
        let live = json!({"event_type": "logs", "interval_seconds": 600, "future": 1,
            "action": {"type": "slack", "channel": "#a", "message_template": "t", "thread": true}});
        let modelled = json!({"event_type": "logs", "interval_seconds": 600,
            "action": {"type": "slack", "channel": "#a", "message_template": "t"}});
        // The manifest dropped the template: it stays dropped; `future` and `thread` are kept.
        let mut sent = json!({"event_type": "logs", "interval_seconds": 900,
            "action": {"type": "slack", "channel": "#a"}});
        keep_unknown(&mut sent, &live, &modelled);
        assert_eq!(
            sent,
            json!({"event_type": "logs", "interval_seconds": 900, "future": 1,
                "action": {"type": "slack", "channel": "#a", "thread": true}})
        );
        // A Slack action turned webhook keeps nothing of the Slack one.
        let mut sent = json!({"event_type": "logs", "interval_seconds": 600,
            "action": {"type": "webhook", "url": "https://x"}});
        keep_unknown(&mut sent, &live, &modelled);
        assert_eq!(
            sent["action"],
            json!({"type": "webhook", "url": "https://x"})
        );
    }
}
