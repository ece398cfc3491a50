//! One change as API calls, per kind. Bodies follow the official spec's request schemas; the
//! emulator, which validates them strictly, is how tests check them. The kinds in
//! `crate::kinds` build their bodies there as typed `wire` values (group and role membership
//! changes as add/remove deltas, grants as `acl/batch_update` items, scores and automations
//! through their shared `project_score` and `automation` modules); this module resolves the ids
//! they name, sends them, records created ids and adds write-only values to the bodies of AI
//! secrets and env vars.
//!
//! The API's traps are handled here: creates use PUT where it exists (POST returns an existing
//! object unmodified), projects are created and then patched with their settings (settings are
//! not accepted on create and are replaced whole on PATCH, so unmanaged settings are carried
//! over: see `kinds::project`), an AWS export gets an external id when it declares none,
//! members, service accounts and grants go through their special endpoints, new members' and
//! service accounts' ids are looked up in the user list when the members PATCH does not answer
//! them, and service tokens and service accounts (creates that are not idempotent) go through
//! `Client::create_once`.

use std::collections::BTreeMap;

use crate::api::client::Method;
use serde_json::{Map, Value, json};

use super::{ApplyInput, ChangeError, Ids, key_of};
use crate::api::client::{Client, Created};
use crate::api::lookup;
use crate::api::read::SECRET_METADATA_KEY;
use crate::kinds::{
    BodyError, CreateVerb, Ids as BodyIds, ai_secret, automation, env_var, member, project,
    project_score, service_account, service_token,
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
}

impl<'a> SecretWrite<'a> {
    fn ai_secret(declared: &'a BTreeMap<String, Value>) -> SecretWrite<'a> {
        SecretWrite {
            field: "secret",
            declared,
            name: None,
        }
    }

    fn env_var(name: &'a str) -> SecretWrite<'a> {
        SecretWrite {
            field: "value",
            declared: &NO_METADATA,
            name: Some(name),
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
        let method = match verb {
            CreateVerb::Post => Method::POST,
            CreateVerb::Put => Method::PUT,
        };
        let out = self.send(method, self.collection()?, body).await?;
        Ok(self.created(&out))
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
                let id = lookup::service_account_id(self.client, org, name).await?;
                Ok(id.map(|id| self.record_id(id)))
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
            Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_) => {
                let body =
                    automation::create(&spec, self.typed_project_id()?, &self.key.name, || {
                        external_id(self.key)
                    });
                let out = self
                    .send(Method::PUT, self.collection()?, typed(&body)?)
                    .await?;
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
                self.send(Method::PATCH, &self.object_path(&id)?, body)
                    .await?;
            }
            (Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_), live) => {
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
                let body = body_value(&service_account::remove(id, self.key.org.as_str()));
                self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
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
            _ => self.collection()?,
        };
        self.client.delete::<Value>(&format!("{path}/{id}")).await?;
        Ok(())
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
        let secret = self.input.secrets.get(self.key).filter(|_| write_value);
        body["metadata"] = self.metadata(write.declared, secret.map(|v| v.digest.as_str()));
        if let Some(v) = secret {
            body[write.field] = json!(v.value);
        }
        let out = self.send(method, path, body).await?;
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
            self.send(Method::PATCH, &self.object_path(id)?, stamp)
                .await?;
        }
        Ok(out)
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

    use super::keep_unknown;

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
