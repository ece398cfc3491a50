//! One change as API calls, per kind. Bodies follow the official spec's request schemas; the
//! emulator, which validates them strictly, is how tests check them.
//!
//! The API's traps are handled here: creates use PUT where it exists (POST returns an existing
//! object unmodified), projects are created and then patched with their settings (settings are
//! not accepted on create and are replaced whole on PATCH, so unmanaged settings are carried
//! over), group and role membership changes are add/remove deltas, and ACLs go through
//! `acl/batch_update`.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::client::Method;
use serde_json::{Map, Value, json};

use super::{ApplyInput, ChangeError, Ids, key_of};
use crate::api::client::Client;
use crate::api::read::SECRET_METADATA_KEY;
use crate::diff::fields;
use crate::kinds::CreateVerb;
use crate::live::LiveObject;
use crate::model::*;
use crate::plan::{Action, Change};
use crate::refs::{ObjectRef, RefKind, References};
use crate::vocab::{ACL_BATCH_UPDATE_PATH, ORG_MEMBERS_PATH};
use crate::wire::Id;

/// Runs one change; returns the id of the object it created, if any.
pub(super) async fn run(
    input: &ApplyInput<'_>,
    ids: &Ids,
    change: &Change,
) -> Result<Option<String>, ChangeError> {
    let key = key_of(change)?;
    let client = input
        .clients
        .get(&key.org)
        .ok_or_else(|| ChangeError::Unresolved(format!("no API client for org `{}`", key.org)))?;
    let cx = Cx {
        input,
        ids,
        client,
        key: &key,
        change,
    };
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

    /// The live object this change updates or deletes, found by id (renames change the key).
    fn live(&self) -> Option<&LiveObject> {
        let id = self.change.id.as_deref()?;
        self.input.live.objects.values().find(|o| o.id == id)
    }

    /// Ids of the referenced objects this change names.
    fn names(&self) -> Names<'_> {
        Names {
            org: &self.key.org,
            ids: self.ids,
            project: match self.key.kind {
                Kind::Project => ProjectName::new(&self.key.name).ok(),
                _ => self.key.project.clone(),
            },
            refs: &self.input.live.references,
        }
    }

    fn id_of(&self, key: &ResourceKey) -> Result<String, ChangeError> {
        self.ids.get(key).ok_or_else(|| {
            ChangeError::Unresolved(format!(
                "`{key}` has no id: it neither exists nor was created"
            ))
        })
    }

    fn org_id(&self) -> Result<String, ChangeError> {
        self.id_of(&ResourceKey::org(&self.key.org))
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

    fn org_name(&self) -> Value {
        json!(self.key.org.as_str())
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

    /// Creates a plain project child with its kind's typed create body (see `crate::kinds`).
    async fn create_child(&self, spec: &ChildSpec) -> Result<Option<String>, ChangeError> {
        let project_id = self.project_id()?;
        let project_id = Id::parse(&project_id)
            .map_err(|e| ChangeError::Unresolved(format!("`{}`: {e}", self.key)))?;
        let (verb, body) = spec.create(project_id, &self.key.name);
        let method = match verb {
            CreateVerb::Post => Method::POST,
            CreateVerb::Put => Method::PUT,
        };
        let out = self.send(method, self.collection()?, body).await?;
        Ok(self.created(&out))
    }

    async fn create(&self) -> Result<Option<String>, ChangeError> {
        let spec = self.spec()?.clone();
        match &spec {
            Spec::Org(_) => Err(ChangeError::Unresolved(
                "orgs cannot be created through the API".into(),
            )),
            Spec::Member(email) => {
                let body = json!({ "invite_users": { "emails": [email.as_str()], "send_invite_emails": false }, "org_name": self.org_name() });
                let out = self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                Ok(self.added_user(&out))
            }
            Spec::ServiceAccount => {
                let body = json!({ "invite_users": { "service_accounts": [{ "name": self.key.name }] }, "org_name": self.org_name() });
                let out = self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                Ok(self.added_user(&out))
            }
            Spec::ServiceToken(t) => {
                let account = self.id_of(&ResourceKey::in_org(
                    &self.key.org,
                    Kind::ServiceAccount,
                    t.account.as_str(),
                ))?;
                let body = json!({ "name": t.name.as_str(), "service_account_id": account, "org_name": self.org_name() });
                let out = self.send(Method::POST, self.collection()?, body).await?;
                if let Some(key) = out.get("key").and_then(Value::as_str) {
                    crate::redact::register(key);
                }
                if let (Some(path), Some(key)) =
                    (&t.write_key_to, out.get("key").and_then(Value::as_str))
                    && let Err(e) = write_key(&self.input_root().join(path), key)
                {
                    // A key nobody holds is useless and the next plan would not recreate it:
                    // revoke the token again and fail loudly.
                    let id = out.get("id").and_then(Value::as_str).unwrap_or_default();
                    let revoked = self
                        .send(
                            Method::DELETE,
                            &format!("/v1/service_token/{id}"),
                            Value::Null,
                        )
                        .await
                        .map_or_else(
                            |r| format!("revoking it failed too ({r}): delete it by hand"),
                            |_| "it was revoked again".to_owned(),
                        );
                    return Err(ChangeError::Unresolved(format!(
                        "the token was created but its key could not be written to `{path}` ({e}); {revoked}"
                    )));
                }
                Ok(self.created(&out))
            }
            Spec::Group(g) => {
                let body = json!({
                    "name": self.key.name, "description": g.description, "org_name": self.org_name(),
                    "member_users": self.principal_ids(&g.members, &g.service_accounts)?,
                    "member_groups": self.names_to_ids(Kind::Group, &g.inherits)?,
                });
                let out = self.send(Method::PUT, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::Role(r) => {
                let body = json!({
                    "name": self.key.name, "description": r.description, "org_name": self.org_name(),
                    "member_permissions": permissions(&r.permissions),
                    "member_roles": self.names_to_ids(Kind::Role, &r.inherits)?,
                });
                let out = self.send(Method::PUT, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::Environment(e) => {
                let body = json!({ "name": e.slug, "slug": e.slug, "description": e.description, "org_name": self.org_name() });
                let out = self.send(Method::POST, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::AiSecret(s) => {
                let body = json!({ "name": self.key.name, "type": s.provider, "org_name": self.org_name() });
                let write = SecretWrite::ai_secret(&s.metadata);
                let out = self
                    .send_with_secret(Method::PUT, self.collection()?, body, &write, true)
                    .await?;
                Ok(self.created(&out))
            }
            Spec::EnvVar(e) => {
                let (object_type, object_id) = self.env_var_object(&e.scope)?;
                let body = json!({ "object_type": object_type, "object_id": object_id, "name": e.name.as_str() });
                let write = SecretWrite::env_var(e.name.as_str());
                let out = self
                    .send_with_secret(Method::PUT, self.collection()?, body, &write, true)
                    .await?;
                Ok(self.created(&out))
            }
            Spec::Project(p) => {
                let body = json!({ "name": self.key.name, "description": p.description, "org_name": self.org_name() });
                let out = self.send(Method::POST, self.collection()?, body).await?;
                let id = self.created(&out);
                if let (Some(settings), Some(id)) = (&p.settings, &id) {
                    let body = json!({ "settings": settings_body(&self.names(), settings, None) });
                    self.send(Method::PATCH, &self.object_path(id)?, body)
                        .await?;
                }
                Ok(id)
            }
            Spec::Child(c) => self.create_child(c).await,
            Spec::Score(_) | Spec::OnlineScoring(_) => {
                let mut body = score_body(&self.names(), &spec)?;
                body["project_id"] = json!(self.project_id()?);
                body["name"] = json!(self.key.name);
                let out = self.send(Method::PUT, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_) => {
                let (description, mut config) = automation_body(&spec);
                // The API requires an AWS external id on create; Braintrust's UI generates one.
                if let Some(creds) = config
                    .get_mut("credentials")
                    .filter(|c| c["type"] == "aws_iam" && c.get("external_id").is_none())
                {
                    creds["external_id"] = json!(external_id(self.key));
                }
                let body = json!({ "project_id": self.project_id()?, "name": self.key.name, "description": description, "config": config });
                let out = self.send(Method::PUT, self.collection()?, body).await?;
                Ok(self.created(&out))
            }
            Spec::Grant(g) => {
                let item = self.acl_item(g)?;
                let out = self
                    .send(
                        Method::POST,
                        ACL_BATCH_UPDATE_PATH,
                        json!({ "add_acls": [item] }),
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
                let body = json!({
                    "api_url": s.api_url, "proxy_url": s.proxy_url, "realtime_url": s.realtime_url,
                    "is_universal_api": s.is_universal_api, "is_dataplane_private": s.is_dataplane_private,
                    "image_rendering_mode": s.image_rendering_mode.map(ImageRenderingMode::as_str),
                });
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
                    .await?;
            }
            (Spec::Group(g), Some(Spec::Group(old))) => {
                let want: BTreeSet<String> = self
                    .principal_ids(&g.members, &g.service_accounts)?
                    .into_iter()
                    .collect();
                let have: BTreeSet<String> = self
                    .principal_ids(&old.members, &old.service_accounts)?
                    .into_iter()
                    .collect();
                let want_groups: BTreeSet<String> = self
                    .names_to_ids(Kind::Group, &g.inherits)?
                    .into_iter()
                    .collect();
                let have_groups: BTreeSet<String> = self
                    .names_to_ids(Kind::Group, &old.inherits)?
                    .into_iter()
                    .collect();
                let body = json!({
                    "name": self.rename(), "description": g.description,
                    "add_member_users": want.difference(&have).collect::<Vec<_>>(),
                    "remove_member_users": have.difference(&want).collect::<Vec<_>>(),
                    "add_member_groups": want_groups.difference(&have_groups).collect::<Vec<_>>(),
                    "remove_member_groups": have_groups.difference(&want_groups).collect::<Vec<_>>(),
                });
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
                    .await?;
            }
            (Spec::Role(r), Some(Spec::Role(old))) => {
                let want_roles: BTreeSet<String> = self
                    .names_to_ids(Kind::Role, &r.inherits)?
                    .into_iter()
                    .collect();
                let have_roles: BTreeSet<String> = self
                    .names_to_ids(Kind::Role, &old.inherits)?
                    .into_iter()
                    .collect();
                let add: BTreeSet<_> = r
                    .permissions
                    .difference(&old.permissions)
                    .copied()
                    .collect();
                let remove: BTreeSet<_> = old
                    .permissions
                    .difference(&r.permissions)
                    .copied()
                    .collect();
                let body = json!({
                    "name": self.rename(), "description": r.description,
                    "add_member_permissions": permissions(&add), "remove_member_permissions": permissions(&remove),
                    "add_member_roles": want_roles.difference(&have_roles).collect::<Vec<_>>(),
                    "remove_member_roles": have_roles.difference(&want_roles).collect::<Vec<_>>(),
                });
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
                    .await?;
            }
            (Spec::Environment(e), _) => {
                self.send(
                    Method::PATCH,
                    &self.object_path(&id)?,
                    without_nulls(json!({ "description": e.description })),
                )
                .await?;
            }
            (Spec::AiSecret(s), _) => {
                let body = without_nulls(json!({ "name": self.rename(), "type": s.provider }));
                self.patch_with_secret(&id, body, &SecretWrite::ai_secret(&s.metadata))
                    .await?;
            }
            (Spec::EnvVar(e), _) => {
                let body = json!({ "name": e.name.as_str() });
                self.patch_with_secret(&id, body, &SecretWrite::env_var(e.name.as_str()))
                    .await?;
            }
            (Spec::Project(p), live) => {
                let old = match live {
                    Some(Spec::Project(old)) => old.settings.clone(),
                    _ => None,
                };
                let mut body = json!({ "name": self.rename(), "description": p.description });
                if let Some(settings) = &p.settings {
                    body["settings"] = settings_body(&self.names(), settings, old.as_ref());
                }
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
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
                let mut body = score_body(&self.names(), &spec)?;
                if let Some(name) = self.rename() {
                    body["name"] = json!(name);
                }
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
                    .await?;
            }
            (Spec::Alert(_) | Spec::Retention(_) | Spec::Export(_), live) => {
                let (description, mut config) = automation_body(&spec);
                // The config is sent whole and the API requires an AWS external id: keep the
                // live one when the manifest leaves it to Braintrust.
                if let Some(creds) = config
                    .get_mut("credentials")
                    .filter(|c| c["type"] == "aws_iam" && c.get("external_id").is_none())
                {
                    let kept = match live {
                        Some(Spec::Export(ExportSpec {
                            credentials:
                                ExportCredentials::Aws {
                                    external_id: Some(id),
                                    ..
                                },
                            ..
                        })) => id.clone(),
                        _ => external_id(self.key),
                    };
                    creds["external_id"] = json!(kept);
                }
                let body =
                    json!({ "name": self.rename(), "description": description, "config": config });
                self.send(Method::PATCH, &self.object_path(&id)?, without_nulls(body))
                    .await?;
            }
            (
                Spec::Member(_) | Spec::ServiceAccount | Spec::ServiceToken(_) | Spec::Grant(_),
                _,
            )
            | (Spec::Group(_) | Spec::Role(_), _) => {
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
                let email = self.key.name.clone();
                let body =
                    json!({ "remove_users": { "emails": [email] }, "org_name": self.org_name() });
                self.send(Method::PATCH, ORG_MEMBERS_PATH, body).await?;
                return Ok(());
            }
            Kind::ServiceAccount => {
                let body = json!({ "remove_users": { "ids": [id] }, "org_name": self.org_name() });
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
                    json!({ "remove_acls": [item] }),
                )
                .await?;
                return Ok(());
            }
            _ => self.collection()?,
        };
        self.client
            .send::<Value, Value>(Method::DELETE, &format!("{path}/{id}"), &Value::Null)
            .await?;
        Ok(())
    }

    fn input_root(&self) -> &std::path::Path {
        &self.input.root
    }

    /// The id of the user or service account a members PATCH added.
    fn added_user(&self, out: &Value) -> Option<String> {
        let id = out
            .pointer("/added_users/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned)?;
        self.ids.set(self.key.clone(), id.clone());
        Some(id)
    }

    fn principal_ids(
        &self,
        users: &BTreeSet<Email>,
        accounts: &BTreeSet<Name>,
    ) -> Result<Vec<String>, ChangeError> {
        let org = &self.key.org;
        users
            .iter()
            .map(|e| self.id_of(&ResourceKey::in_org(org, Kind::Member, e.as_str())))
            .chain(
                accounts.iter().map(|a| {
                    self.id_of(&ResourceKey::in_org(org, Kind::ServiceAccount, a.as_str()))
                }),
            )
            .collect()
    }

    fn names_to_ids(&self, kind: Kind, names: &BTreeSet<Name>) -> Result<Vec<String>, ChangeError> {
        names
            .iter()
            .map(|n| self.id_of(&ResourceKey::in_org(&self.key.org, kind, n.as_str())))
            .collect()
    }

    fn env_var_object(&self, scope: &EnvVarScope) -> Result<(&'static str, String), ChangeError> {
        match scope {
            EnvVarScope::Org => Ok(("organization", self.org_id()?)),
            EnvVarScope::Project(p) => Ok((
                "project",
                self.id_of(&ResourceKey::project(&self.key.org, p))?,
            )),
            EnvVarScope::Function { project, slug } => self
                .names()
                .id(project, RefKind::Function, slug)
                .map(|id| ("function", id))
                .ok_or_else(|| {
                    ChangeError::Unresolved(format!(
                        "function `{slug}` was not found when planning"
                    ))
                }),
        }
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

    fn acl_item(&self, g: &GrantSpec) -> Result<Value, ChangeError> {
        let org = &self.key.org;
        let (object_type, object_id) = match &g.target {
            GrantTarget::Org => ("organization", self.org_id()?),
            GrantTarget::Project(p) => ("project", self.id_of(&ResourceKey::project(org, p))?),
            GrantTarget::Group(n) => (
                "group",
                self.id_of(&ResourceKey::in_org(org, Kind::Group, n.as_str()))?,
            ),
            GrantTarget::Role(n) => (
                "role",
                self.id_of(&ResourceKey::in_org(org, Kind::Role, n.as_str()))?,
            ),
            GrantTarget::Object {
                project,
                object_type,
                name,
            } => {
                let kind = RefKind::of_acl_object(*object_type).ok_or_else(|| {
                    ChangeError::Unresolved(format!(
                        "grants on a {} by name are not supported",
                        object_type.as_str()
                    ))
                })?;
                let id = self.names().id(project, kind, name).ok_or_else(|| {
                    ChangeError::Unresolved(format!(
                        "{} `{name}` was not found when planning",
                        object_type.as_str()
                    ))
                })?;
                (object_type.as_str(), id)
            }
        };
        let mut item = json!({ "object_type": object_type, "object_id": object_id });
        match &g.subject {
            Subject::User(e) => {
                item["user_id"] =
                    json!(self.id_of(&ResourceKey::in_org(org, Kind::Member, e.as_str()))?)
            }
            Subject::ServiceAccount(n) => {
                item["user_id"] = json!(self.id_of(&ResourceKey::in_org(
                    org,
                    Kind::ServiceAccount,
                    n.as_str()
                ))?)
            }
            Subject::Group(n) => {
                item["group_id"] =
                    json!(self.id_of(&ResourceKey::in_org(org, Kind::Group, n.as_str()))?)
            }
        }
        match &g.privilege {
            Privilege::Role(n) => {
                item["role_id"] =
                    json!(self.id_of(&ResourceKey::in_org(org, Kind::Role, n.as_str()))?)
            }
            Privilege::Permission {
                permission,
                restrict_object_type,
            } => {
                item["permission"] = json!(permission.as_str());
                if let Some(t) = restrict_object_type {
                    item["restrict_object_type"] = json!(t.as_str());
                }
            }
        }
        Ok(item)
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
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        std::io::Write::write_all(&mut file, key.as_bytes())?;
        file.sync_all()?;
        fs_err::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    written
}

fn permissions(set: &BTreeSet<(Permission, Option<AclObjectType>)>) -> Vec<Value> {
    set.iter()
        .map(|(p, t)| match t {
            Some(t) => json!({ "permission": p.as_str(), "restrict_object_type": t.as_str() }),
            None => json!({ "permission": p.as_str() }),
        })
        .collect()
}

/// Project settings as sent: the declared ones, over the live ones the manifest leaves alone
/// (PATCH replaces settings whole).
fn settings_body(
    names: &Names<'_>,
    desired: &ProjectSettings,
    live: Option<&ProjectSettings>,
) -> Value {
    let mut map = Map::new();
    let pick = |d: Option<Value>, l: Option<Value>| d.or(l);
    let live = live.cloned().unwrap_or_default();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            map.insert(k.into(), v);
        }
    };
    put(
        "comparison_key",
        pick(
            desired.comparison_key.as_ref().map(|v| json!(v)),
            live.comparison_key.as_ref().map(|v| json!(v)),
        ),
    );
    // By name, resolved at plan time; an unmanaged live baseline is kept as it is.
    put(
        "baseline_experiment_id",
        desired
            .baseline_experiment
            .as_ref()
            .or(live.baseline_experiment.as_ref())
            .and_then(|name| names.experiment(name))
            .map(|id| json!(id)),
    );
    let fields = |f: &Vec<SpanField>| {
        json!(
            f.iter()
                .map(|f| without_nulls(fields::span_field(f)))
                .collect::<Vec<_>>()
        )
    };
    put(
        "spanFieldOrder",
        pick(
            desired.span_field_order.as_ref().map(fields),
            live.span_field_order.as_ref().map(fields),
        ),
    );
    let sources = |r: &Vec<RemoteEvalSource>| {
        json!(r.iter().map(fields::remote_eval_source).collect::<Vec<_>>())
    };
    put(
        "remote_eval_sources",
        pick(
            desired.remote_eval_sources.as_ref().map(sources),
            live.remote_eval_sources.as_ref().map(sources),
        ),
    );
    put(
        "disable_realtime_queries",
        pick(
            desired.disable_realtime_queries.map(|v| json!(v)),
            live.disable_realtime_queries.map(|v| json!(v)),
        ),
    );
    put(
        "default_preprocessor",
        desired
            .default_preprocessor
            .as_ref()
            .or(live.default_preprocessor.as_ref())
            .and_then(|f| names.function(f)),
    );
    Value::Object(map)
}

/// Names of functions, prompts, experiments and datasets as ids, from the references looked up
/// at plan time (`crate::refs`); `id:<uuid>` is an id as read back.
pub(super) struct Names<'a> {
    org: &'a OrgName,
    /// The ids of this run's objects: a dataset created by this apply is not in `refs`.
    ids: &'a Ids,
    /// The project of the change, for a project's baseline experiment.
    project: Option<ProjectName>,
    refs: &'a References,
}

impl Names<'_> {
    fn id(&self, project: &ProjectName, kind: RefKind, name: &str) -> Option<String> {
        if let Some(id) = name.strip_prefix("id:") {
            return Some(id.to_owned());
        }
        let r = ObjectRef {
            org: self.org.clone(),
            project: project.clone(),
            kind,
            name: name.to_owned(),
        };
        let managed = (kind == RefKind::Dataset)
            .then(|| {
                self.ids.get(&ResourceKey::in_project(
                    self.org,
                    project,
                    Kind::Dataset,
                    name,
                ))
            })
            .flatten();
        managed.or_else(|| self.refs.id(&r).map(str::to_owned))
    }

    fn experiment(&self, name: &str) -> Option<String> {
        self.id(self.project.as_ref()?, RefKind::Experiment, name)
    }

    /// A function reference as the API takes it.
    fn function(&self, f: &FunctionRef) -> Option<Value> {
        match f {
            FunctionRef::Global {
                name,
                function_type: t,
            } => {
                let mut v = json!({ "type": "global", "name": name });
                if let Some(t) = t {
                    v["function_type"] = json!(t.as_str());
                }
                Some(v)
            }
            FunctionRef::Project { project, slug } => self
                .id(project, RefKind::Function, slug)
                .map(|id| json!({ "type": "function", "id": id })),
        }
    }
}

fn score_body(names: &Names<'_>, spec: &Spec) -> Result<Value, ChangeError> {
    match spec {
        Spec::Score(s) => {
            let (score_type, categories) = match &s.kind {
                ScoreKind::Slider => ("slider", Value::Null),
                ScoreKind::FreeForm => ("free-form", Value::Null),
                ScoreKind::Categorical { categories, .. } => (
                    "categorical",
                    json!(
                        categories
                            .iter()
                            .map(|(n, v)| json!({ "name": n, "value": v }))
                            .collect::<Vec<_>>()
                    ),
                ),
                ScoreKind::Weighted(w) => ("weighted", json!(w)),
                ScoreKind::Minimum(n) => ("minimum", json!(n)),
                ScoreKind::Maximum(n) => ("maximum", json!(n)),
            };
            let mut config = Map::new();
            if let ScoreKind::Categorical {
                multi_select: Some(m),
                ..
            } = &s.kind
            {
                config.insert("multi_select".into(), json!(m));
            }
            if let Some(t) = &s.object_types {
                config.insert(
                    "object_types".into(),
                    json!(t.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
                );
            }
            let mut body = json!({ "score_type": score_type, "description": s.description });
            if !categories.is_null() {
                body["categories"] = categories;
            }
            if !config.is_empty() {
                body["config"] = Value::Object(config);
            }
            Ok(body)
        }
        Spec::OnlineScoring(o) => {
            let scorers: Vec<Value> = o.scorers.iter().filter_map(|f| names.function(f)).collect();
            if scorers.len() != o.scorers.len() {
                return Err(ChangeError::Unresolved(
                    "a scorer names a function that was not found when planning".into(),
                ));
            }
            let scope = without_nulls(fields::scope(&o.scope));
            let online = without_nulls(json!({
                "sampling_rate": o.sampling_rate, "scorers": scorers, "btql_filter": o.filter, "scope": scope,
                "apply_to_root_span": o.apply_to_root_span, "apply_to_span_names": o.apply_to_span_names, "skip_logging": o.skip_logging,
            }));
            Ok(
                json!({ "score_type": "online", "description": o.description, "config": { "online": online } }),
            )
        }
        _ => Err(ChangeError::Unresolved("not a score".into())),
    }
}

fn automation_body(spec: &Spec) -> (Option<String>, Value) {
    match spec {
        Spec::Alert(a) => {
            let action = match &a.notify {
                Notify::Webhook { url } => json!({ "type": "webhook", "url": url }),
                Notify::Slack {
                    workspace_id,
                    channel,
                    message_template,
                } => without_nulls(json!({
                    "type": "slack", "workspace_id": workspace_id, "channel": channel, "message_template": message_template,
                })),
            };
            (
                a.description.clone(),
                json!({ "event_type": "logs", "btql_filter": a.filter, "interval_seconds": a.interval_seconds, "action": action }),
            )
        }
        Spec::Retention(r) => (
            None,
            json!({ "event_type": "retention", "object_type": r.object_type.as_str(), "retention_days": r.days }),
        ),
        Spec::Export(e) => {
            let definition = match &e.data {
                ExportData::LogTraces => json!({ "type": "log_traces" }),
                ExportData::LogSpans => json!({ "type": "log_spans" }),
                ExportData::Query(q) => json!({ "type": "btql_query", "btql_query": q }),
            };
            let credentials = match &e.credentials {
                ExportCredentials::Aws {
                    role_arn,
                    external_id,
                } => without_nulls(
                    json!({ "type": "aws_iam", "role_arn": role_arn, "external_id": external_id }),
                ),
                ExportCredentials::Gcp { service_account } => {
                    json!({ "type": "gcp_service_account", "service_account_email": service_account })
                }
            };
            (
                e.description.clone(),
                without_nulls(json!({
                    "event_type": "btql_export", "export_definition": definition, "export_path": e.path,
                    "format": e.format.as_str(),
                    "interval_seconds": e.interval_seconds, "credentials": credentials,
                    "status": e.status.map(AutomationStatus::as_str), "batch_size": e.batch_size,
                })),
            )
        }
        _ => (None, Value::Null),
    }
}

/// Drops `null` members: PATCH ignores nulls anyway, and strict create bodies reject them.
fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, v| !v.is_null());
        for v in map.values_mut() {
            if v.is_object() {
                *v = without_nulls(std::mem::take(v));
            }
        }
    }
    v
}
