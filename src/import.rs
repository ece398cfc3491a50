//! Import: manifests written from live state, so an existing org can be put under bt-gitops.
//!
//! Pure: it turns a [`LiveState`] into `(relative path, YAML text)` pairs; the CLI writes them.
//! The org document holds people, access control and credentials; each project gets its own
//! file. Values are written in YAML flow style (`{ name: x, color: "#fff" }`), which reads like
//! the hand-written examples. Secrets become `{ env: NAME }` stubs, listed in a header comment,
//! because their values cannot be read. The functions, prompts, experiments and datasets of every
//! project are read with the org (`cli::import`), so grants on them and scorers using them are
//! written by name, and so are function-level env vars. Objects the manifest language cannot
//! express (a scorer or env var of a function known only by id) are left out and named in a
//! comment, so that
//! `plan` right after an import shows no changes besides secrets awaiting values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::kinds::{ai_provider, ai_secret, drop_empty, drop_nulls, env_var};
use crate::kinds::{alert, export, online_scoring, project, retention, score};
use crate::live::LiveState;
use crate::model::*;

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// Relative to the output directory, with `/` separators.
    pub path: String,
    pub text: String,
}

/// Manifests for every managed kind of `org` in `live`.
#[must_use]
pub fn manifests(live: &LiveState, org: &OrgName) -> Vec<ImportedFile> {
    let objects: Vec<(&ResourceKey, &Spec)> = live
        .objects
        .iter()
        .filter(|(k, _)| k.org == *org)
        .map(|(k, o)| (k, &o.spec))
        .collect();
    let mut secrets_needed: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let env_name = |name: &str| format!("{}_{}", slug(org.as_str()), slug(name));

    let mut doc = String::new();
    let _ = writeln!(doc, "org: {}", scalar(org.as_str()));
    if let Some((_, Spec::Org(s))) = objects.iter().find(|(k, _)| k.kind == Kind::Org) {
        let settings = drop_nulls(crate::kinds::org::manifest(s));
        if settings.as_object().is_some_and(|m| !m.is_empty()) {
            let _ = writeln!(doc, "settings: {}", flow(&settings));
        }
    }
    for kind in [Kind::Member, Kind::Group, Kind::Role, Kind::Grant] {
        list(
            &mut doc,
            section(kind).unwrap_or_default(),
            entries(&objects, kind, None),
        );
    }
    list(
        &mut doc,
        "ai_secrets",
        objects.iter().filter_map(|(k, s)| match s {
            Spec::AiSecret(a) => {
                let env = env_name(&k.name);
                secrets_needed.push(format!("{env} (AI secret {})", k.name));
                Some(flow(&drop_empty(ai_secret::manifest(&k.name, a, &env))))
            }
            _ => None,
        }),
    );
    list(
        &mut doc,
        "env_vars",
        objects
            .iter()
            .filter(|(k, _)| k.project.is_none())
            .filter_map(|(k, s)| match s {
                Spec::EnvVar(_) => {
                    let env = env_name(&k.name);
                    secrets_needed.push(format!("{env} (env var {})", k.name));
                    Some(flow(&env_var::manifest(&k.name, &env)))
                }
                _ => None,
            }),
    );
    // Only accounts that exist: one seen only through its tokens may be a deleted account's
    // leftovers (assumption K1), so unless a group or grant holds it (it is then in the org),
    // it is named in the header instead of written.
    let held: std::collections::BTreeSet<&str> = objects
        .iter()
        .flat_map(|(_, s)| match s {
            Spec::OrgChild(OrgChildSpec::Group(g)) => {
                g.service_accounts.iter().map(Name::as_str).collect()
            }
            Spec::Grant(GrantSpec {
                subject: Subject::ServiceAccount(n),
                ..
            }) => vec![n.as_str()],
            _ => Vec::new(),
        })
        .collect();
    let mut accounts: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (k, _) in objects
        .iter()
        .filter(|(k, _)| k.kind == Kind::ServiceAccount)
    {
        if live.accounts_seen_only_through_tokens.contains(k) && !held.contains(k.name.as_str()) {
            skipped.push(format!(
                "{k}: seen only through its service tokens (the user list does not show it), so it may have been deleted"
            ));
        } else {
            accounts.insert(k.name.as_str(), Vec::new());
        }
    }
    for (_, s) in &objects {
        if let Spec::ServiceToken(t) = s
            && let Some(tokens) = accounts.get_mut(t.account.as_str())
        {
            tokens.push(json!({ "name": t.name.as_str() }));
        }
    }
    list(
        &mut doc,
        "service_accounts",
        accounts
            .iter()
            .map(|(name, tokens)| flow(&drop_empty(json!({ "name": name, "tokens": tokens })))),
    );
    list(
        &mut doc,
        "environments",
        entries(&objects, Kind::Environment, None),
    );

    let mut files = Vec::new();
    let projects: Vec<(&ResourceKey, &ProjectSpec)> = objects
        .iter()
        .filter_map(|(k, s)| match s {
            Spec::Project(p) => Some((*k, p)),
            _ => None,
        })
        .collect();
    for (key, spec) in projects {
        let name = &key.name;
        let inside: Vec<(&ResourceKey, &Spec)> = objects
            .iter()
            .filter(|(k, _)| k.project.as_ref().map(ProjectName::as_str) == Some(name.as_str()))
            .copied()
            .collect();
        let mut p = String::new();
        let _ = writeln!(p, "project: {}", scalar(name));
        let _ = writeln!(p, "org: {}", scalar(org.as_str()));
        if let Some(d) = spec.description.as_ref().filter(|d| !d.is_empty()) {
            let _ = writeln!(p, "description: {}", scalar(d));
        }
        if let Some(settings) = project::manifest_settings(spec) {
            let _ = writeln!(p, "settings: {}", flow(&settings));
        }
        let each = |kind: Kind| inside.iter().filter(move |(k, _)| k.kind == kind);
        list(&mut p, "tags", entries(&objects, Kind::Tag, Some(name)));
        list(&mut p, "scores", entries(&objects, Kind::Score, Some(name)));
        let mut online = Vec::new();
        for (k, s) in each(Kind::OnlineScoring) {
            match entry(k, s) {
                Some(e) => online.push(e.text),
                None => skipped.push(format!("{}: a scorer is a function known only by id", k)),
            }
        }
        list(&mut p, "online_scoring", online.into_iter());
        for (k, s) in each(Kind::EnvironmentAlert) {
            if entry(k, s).is_none() {
                skipped.push(format!("{k}: its environment filter is an empty list"));
            }
        }
        for kind in [
            Kind::SpanIframe,
            Kind::McpServer,
            Kind::Dataset,
            Kind::View,
            Kind::Alert,
            Kind::Retention,
            Kind::Export,
            Kind::EnvironmentAlert,
            Kind::Grant,
        ] {
            list(
                &mut p,
                section(kind).unwrap_or_default(),
                entries(&objects, kind, Some(name)),
            );
        }
        let mut vars = Vec::new();
        for (k, s) in each(Kind::EnvVar) {
            let Spec::EnvVar(EnvVarSpec {
                name: var, scope, ..
            }) = s
            else {
                continue;
            };
            match scope {
                EnvVarScope::Project(_) => {
                    let env = env_name(&format!("{name}_{var}"));
                    secrets_needed.push(format!("{env} (env var {var} of project {name})"));
                    vars.push(flow(&env_var::manifest(var.as_str(), &env)));
                }
                // A function known only by id cannot be named in a manifest.
                EnvVarScope::Function { slug, .. } if slug.starts_with("id:") => {
                    skipped.push(format!("{k}: an env var of a function known only by id"));
                }
                EnvVarScope::Function { slug, .. } => {
                    let env = env_name(&format!("{name}_{slug}_{var}"));
                    secrets_needed.push(format!(
                        "{env} (env var {var} of function {slug} in project {name})"
                    ));
                    let mut item = env_var::manifest(var.as_str(), &env);
                    item["function"] = Value::String(slug.clone());
                    vars.push(flow(&item));
                }
                EnvVarScope::Org => {}
            }
        }
        list(&mut p, "env_vars", vars.into_iter());
        let mut providers = Vec::new();
        for (k, s) in each(Kind::AiProvider) {
            if let Spec::AiProvider(a) = s {
                let env = env_name(&format!("{name}_{}", k.name));
                secrets_needed.push(format!("{env} (AI provider {} of project {name})", k.name));
                providers.push(flow(&drop_empty(ai_provider::manifest(&k.name, a, &env))));
            }
        }
        list(&mut p, "ai_providers", providers.into_iter());
        files.push(ImportedFile {
            path: format!("projects/{}.yaml", file_name(name)),
            text: p,
        });
    }

    let mut header = format!("# Imported from org `{org}` by `bt-gitops import`.\n");
    if !secrets_needed.is_empty() {
        header
            .push_str("# Secret values cannot be read back. Set these variables before `apply`:\n");
        for s in &secrets_needed {
            let _ = writeln!(header, "#   {s}");
        }
    }
    if !skipped.is_empty() {
        header.push_str(
            "# Left out (not expressible in manifests yet, or not confirmed to exist):\n",
        );
        for s in &skipped {
            let _ = writeln!(header, "#   {s}");
        }
    }
    files.insert(
        0,
        ImportedFile {
            path: "org.yaml".into(),
            text: header + &doc,
        },
    );
    files
}

/// One object as an item of a manifest list: the list's key and the item in flow style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The list it belongs in (`groups`, `tags`...), in the org document or its project's file.
    pub section: &'static str,
    /// The item, e.g. `{ name: regression, color: "#f00" }`.
    pub text: String,
}

/// The list key of the kinds written as list items, by [`entry`].
#[must_use]
pub fn section(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Member => "members",
        Kind::Group => "groups",
        Kind::Role => "roles",
        Kind::Grant => "grants",
        Kind::Environment => "environments",
        Kind::Tag => "tags",
        Kind::Score => "scores",
        Kind::OnlineScoring => "online_scoring",
        Kind::SpanIframe => "span_iframes",
        Kind::McpServer => "mcp_servers",
        Kind::Dataset => "datasets",
        Kind::View => "views",
        Kind::Alert => "alerts",
        Kind::Retention => "retention",
        Kind::Export => "exports",
        Kind::EnvironmentAlert => "environment_alerts",
        _ => return None,
    })
}

/// An object of a list-item kind as import writes it; `None` for other kinds (org settings,
/// projects, secrets, service accounts and tokens) and for what manifests cannot express yet
/// (an online scoring rule with a scorer known only by function id, an environment alert whose
/// filter is an empty list).
#[must_use]
pub fn entry(k: &ResourceKey, spec: &Spec) -> Option<Entry> {
    let value = match spec {
        Spec::Member(_) => {
            return Some(Entry {
                section: "members",
                text: scalar(&k.name),
            });
        }
        Spec::Grant(g) => {
            crate::kinds::grant::manifest(g, k.project.as_ref().map(ProjectName::as_str))
        }
        Spec::OrgChild(c) => {
            return Some(Entry {
                section: c.manifest_key(),
                text: flow(&drop_nulls(c.manifest(&k.name))),
            });
        }
        Spec::Child(c) => {
            return Some(Entry {
                section: c.manifest_key(),
                text: flow(&drop_nulls(c.manifest(&k.name))),
            });
        }
        Spec::Score(sc) => score::manifest(&k.name, sc),
        Spec::OnlineScoring(o) => online_scoring::manifest(&k.name, o, k.project.as_ref())?,
        Spec::Alert(a) => alert::manifest(&k.name, a),
        Spec::Retention(r) => retention::manifest(&k.name, r),
        Spec::Export(e) => export::manifest(&k.name, e),
        Spec::EnvironmentAlert(e) => crate::kinds::environment_alert::manifest(&k.name, e)?,
        Spec::View(v) => crate::kinds::view::manifest(&k.name, v),
        _ => return None,
    };
    Some(Entry {
        section: section(k.kind)?,
        text: flow(&value),
    })
}

/// The [`entry`] texts of the objects of `kind` in `project` (`None`: the org itself).
fn entries<'a>(
    objects: &'a [(&ResourceKey, &Spec)],
    kind: Kind,
    project: Option<&str>,
) -> impl Iterator<Item = String> + use<'a> {
    let project = project.map(str::to_owned);
    objects
        .iter()
        .filter(move |(k, _)| {
            k.kind == kind && k.project.as_ref().map(ProjectName::as_str) == project.as_deref()
        })
        .filter_map(|(k, s)| entry(k, s).map(|e| e.text))
}

fn list(out: &mut String, key: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key}:");
    for item in items {
        let _ = writeln!(out, "  - {item}");
    }
}

/// A value in YAML flow style. JSON is valid YAML flow syntax; keys are written bare when they
/// are plain words, and strings are quoted only when they must be.
fn flow(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), flow(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) => scalar(s),
        other => other.to_string(),
    }
}

/// A string as a YAML scalar: bare when that reads back as the same string, quoted otherwise.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '/'))
        && !s.starts_with(['-', '.', '/'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
