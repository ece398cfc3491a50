//! Lowering: raw manifest documents to the typed [`DesiredState`], with every semantic check.
//!
//! One pass over the documents collects orgs, templates and projects; each object is checked
//! (names, emails, ranges, exclusivity rules) and inserted under its [`ResourceKey`]; references
//! are recorded and resolved at the end, once every declared object is known. All problems become
//! diagnostics; lowering never stops at the first one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::ids::MAX_NAME_LEN;
use super::*;
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::kinds::ChildVariant;
use crate::manifest::raw::{self, RawDocument, RawOrg, RawProject, State};
use crate::manifest::spanned::Sp;
use crate::manifest::values::{Duration, SecretRef};
use crate::manifest::{DocOrigin, ParsedDocument};
use crate::source::{SourceMap, Span};

/// Longest interval the API accepts for alerts and exports: 30 days.
pub const MAX_INTERVAL_SECONDS: u64 = 2_592_000;

/// Lowers parsed documents into desired state.
#[must_use]
pub fn lower(docs: &[ParsedDocument], sources: &SourceMap) -> (DesiredState, Vec<Diagnostic>) {
    let mut lw = Lowerer {
        sources,
        diags: Vec::new(),
        state: DesiredState::default(),
        refs: Vec::new(),
        renames: Vec::new(),
        unparsed: Unparsed::default(),
    };
    lw.run(docs);
    let Lowerer {
        mut diags, state, ..
    } = lw;
    dedupe(&mut diags);
    (state, diags)
}

/// A reference to resolve once every object is known.
struct PendingRef {
    from: ResourceKey,
    target: ResourceKey,
    span: Span,
    /// What the reference names, for messages: "group", "member", "score"...
    what: &'static str,
    hint: Option<&'static str>,
}

/// The lowering pass's state; per-kind modules (`crate::kinds`) lower their entries through it.
/// Public only as a parameter type of `ProjectChild::lower`: it has no public constructor.
pub struct Lowerer<'a> {
    sources: &'a SourceMap,
    pub(crate) diags: Vec<Diagnostic>,
    state: DesiredState,
    refs: Vec<PendingRef>,
    /// Every `previous_names` entry of an inserted object, checked once all objects are known.
    renames: Vec<(ResourceKey, String, Span)>,
    /// Names declared by documents that failed to parse.
    unparsed: Unparsed,
}

/// What documents that failed to parse declared, so that references to them are not reported a
/// second time as unknown.
#[derive(Default)]
struct Unparsed {
    orgs: BTreeSet<String>,
    templates: BTreeSet<String>,
    /// `(org, project)`; the org is `None` when the document did not say.
    projects: Vec<(Option<String>, String)>,
}

/// Where an object is being declared.
#[derive(Clone, Copy)]
pub struct Cx<'d> {
    pub(crate) at: DocOrigin,
    org: &'d OrgName,
    project: Option<&'d ProjectName>,
    /// Entries from a template yield to the project's own entries of the same key.
    from_template: bool,
}

impl Lowerer<'_> {
    fn run(&mut self, docs: &[ParsedDocument]) {
        let mut orgs: Vec<(&RawOrg, DocOrigin, OrgName)> = Vec::new();
        let mut templates: BTreeMap<String, (&RawProject, DocOrigin)> = BTreeMap::new();
        let mut projects: Vec<(&RawProject, DocOrigin)> = Vec::new();

        for parsed in docs {
            match &parsed.doc {
                RawDocument::Unparsed(u) => match (&u.project, &u.project_template, &u.org) {
                    (Some(p), _, org) => self.unparsed.projects.push((org.clone(), p.clone())),
                    (None, Some(t), _) => {
                        self.unparsed.templates.insert(t.clone());
                    }
                    (None, None, Some(o)) => {
                        self.unparsed.orgs.insert(o.clone());
                    }
                    (None, None, None) => {}
                },
                RawDocument::Org(org) => {
                    let Some(name) = self.org_name(parsed.at, &org.org) else {
                        continue;
                    };
                    if let Some((_, first_at, _)) = orgs.iter().find(|(_, _, n)| *n == name) {
                        let first = orgs
                            .iter()
                            .find(|(_, _, n)| *n == name)
                            .map(|(o, _, _)| first_at.of(&o.org, self.sources));
                        let mut d = Diagnostic::error(
                            Code::DuplicateObject,
                            format!("org `{name}` is declared twice"),
                        )
                        .with_label(parsed.at.of(&org.org, self.sources), "declared again here");
                        if let Some(first) = first {
                            d = d.with_label(first, "first declared here");
                        }
                        self.diags.push(d.with_hint("declare each org in one document; put its projects in project documents"));
                        continue;
                    }
                    orgs.push((org, parsed.at, name));
                }
                RawDocument::Project(project) => {
                    match (&project.project, &project.project_template) {
                        (Some(_), Some(tpl)) => self.diags.push(
                            Diagnostic::error(
                                Code::FieldNotAllowed,
                                "a document cannot be both a project and a project template",
                            )
                            .with_label(
                                parsed.at.of(tpl, self.sources),
                                "remove `project_template` or `project`",
                            )
                            .with_hint("`project: NAME` declares a project; `project_template: NAME` declares a template that projects include with `template: NAME`"),
                        ),
                        (None, Some(tpl)) => {
                            self.check_template_fields(project, parsed.at);
                            if let Some((first, first_at)) = templates.get(tpl.value.as_str()) {
                                let first_span = first
                                    .project_template
                                    .as_ref()
                                    .map(|t| first_at.of(t, self.sources));
                                let mut d = Diagnostic::error(
                                    Code::DuplicateObject,
                                    format!("project template `{}` is declared twice", tpl.value),
                                )
                                .with_label(parsed.at.of(tpl, self.sources), "declared again here");
                                if let Some(s) = first_span {
                                    d = d.with_label(s, "first declared here");
                                }
                                self.diags.push(d);
                            } else {
                                templates.insert(tpl.value.clone(), (project, parsed.at));
                            }
                        }
                        _ => projects.push((project, parsed.at)),
                    }
                }
            }
        }

        for (org, at, name) in &orgs {
            self.lower_org(org, *at, name);
        }

        let org_names: Vec<&OrgName> = orgs.iter().map(|(_, _, n)| n).collect();
        let mut used_templates = HashSet::new();
        for (project, at) in &projects {
            let Some(org) = self.project_org(project, *at, &org_names) else {
                continue;
            };
            let template = match &project.template {
                Some(name) => {
                    match templates.get(name.value.as_str()) {
                        Some(t) => {
                            used_templates.insert(name.value.clone());
                            Some(*t)
                        }
                        None if self.unparsed.templates.contains(&name.value) => None,
                        None => {
                            let mut d = Diagnostic::error(
                                Code::UnknownTemplate,
                                format!("unknown project template `{}`", name.value),
                            )
                            .with_label(
                                at.of(name, self.sources),
                                "no `project_template` with this name",
                            );
                            d = match did_you_mean(&name.value, templates.keys().map(String::as_str)) {
                            Some(best) => d.with_hint(format!("did you mean `{best}`?")),
                            None => d.with_hint("declare it in a document starting with `project_template: NAME`"),
                        };
                            self.diags.push(d);
                            None
                        }
                    }
                }
                None => None,
            };
            self.lower_project(project, *at, &org, template);
        }
        for (name, (tpl, at)) in &templates {
            if !used_templates.contains(name)
                && let Some(t) = &tpl.project_template
            {
                self.diags.push(
                    Diagnostic::warning(
                        Code::Suspicious,
                        format!("project template `{name}` is not used by any project"),
                    )
                    .with_label(at.of(t, self.sources), "declared here")
                    .with_hint("templates are only checked through the projects that use them"),
                );
            }
        }
        self.check_renames();
        self.resolve_refs();
    }

    // ---- small checked conversions -------------------------------------------------------

    pub(crate) fn span<T>(&self, at: DocOrigin, value: &Sp<T>) -> Span {
        at.of(value, self.sources)
    }

    fn org_name(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<OrgName> {
        OrgName::new(&value.value)
            .map_err(|e| self.invalid_name(at, value, e))
            .ok()
    }

    fn name(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<Name> {
        Name::new(&value.value)
            .map_err(|e| self.invalid_name(at, value, e))
            .ok()
    }

    fn project_name(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<ProjectName> {
        ProjectName::new(&value.value)
            .map_err(|e| self.invalid_name(at, value, e))
            .ok()
    }

    fn invalid_name(&mut self, at: DocOrigin, value: &Sp<String>, err: InvalidId) {
        let v = value.value.as_str();
        let hint = if v.is_empty() {
            "give it a name; names identify objects across runs".to_owned()
        } else if v.trim() != v && !v.trim().is_empty() {
            format!("did you mean `{}`?", v.trim())
        } else if v.chars().any(char::is_control) {
            "remove the tab, newline or other control character from the name".to_owned()
        } else if v.chars().any(super::ids::is_invisible) {
            "retype the name: it holds a character that is not shown or that reverses the text around it, so reviewers would read a different name".to_owned()
        } else {
            format!("use a shorter name (at most {MAX_NAME_LEN} characters)")
        };
        let d = Diagnostic::error(Code::InvalidName, err.0)
            .with_label(self.span(at, value), "invalid name")
            .with_hint(hint);
        self.diags.push(d);
    }

    fn email(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<Email> {
        match Email::new(&value.value) {
            Ok(e) => Some(e),
            Err(err) => {
                let d = Diagnostic::error(Code::InvalidEmail, err.0)
                    .with_label(self.span(at, value), "not an email address")
                    .with_hint("users are referenced by the email address they sign in with");
                self.diags.push(d);
                None
            }
        }
    }

    fn range(
        &mut self,
        at: DocOrigin,
        value: &Sp<f64>,
        lo: f64,
        hi: f64,
        what: &str,
    ) -> Option<f64> {
        let v = value.value;
        if v.is_finite() && v >= lo && v <= hi {
            return Some(v);
        }
        let bound = if hi.is_infinite() {
            format!("at least {lo}")
        } else {
            format!("between {lo} and {hi}")
        };
        let mut d = Diagnostic::error(
            Code::OutOfRange,
            format!("{what} must be {bound}, found {v}"),
        )
        .with_label(self.span(at, value), format!("must be {bound}"));
        if let Some(hint) = range_hint(what) {
            d = d.with_hint(hint);
        }
        self.diags.push(d);
        None
    }

    fn int_range(
        &mut self,
        at: DocOrigin,
        value: &Sp<i64>,
        lo: i64,
        hi: i64,
        what: &str,
    ) -> Option<i64> {
        if (lo..=hi).contains(&value.value) {
            return Some(value.value);
        }
        let mut d = Diagnostic::error(
            Code::OutOfRange,
            format!(
                "{what} must be between {lo} and {hi}, found {}",
                value.value
            ),
        )
        .with_label(
            self.span(at, value),
            format!("must be between {lo} and {hi}"),
        );
        if let Some(hint) = range_hint(what) {
            d = d.with_hint(hint);
        }
        self.diags.push(d);
        None
    }

    fn interval(&mut self, at: DocOrigin, value: &Sp<Duration>, what: &str) -> Option<u64> {
        let Some(seconds) = value.seconds() else {
            let why = match &value.value {
                Duration::Text(text) => duration_problem(text),
                Duration::Seconds(_) => "it is not a number of seconds".to_owned(),
            };
            self.diags.push(
                Diagnostic::error(Code::InvalidDuration, format!("{what} is not a duration: {why}"))
                    .with_label(self.span(at, value), "expected a duration")
                    .with_hint("write a number of seconds, or numbers with units: `90s`, `15m`, `1h`, `7d`, `2w`, `1h30m`"),
            );
            return None;
        };
        if seconds == 0 || seconds > MAX_INTERVAL_SECONDS {
            self.diags.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!(
                        "{what} must be between 1 second and 30 days, found {}",
                        human_duration(seconds)
                    ),
                )
                .with_label(self.span(at, value), "must be between `1s` and `30d`")
                .with_hint(if seconds == 0 {
                    "an interval of 0 would run continuously; use at least `1s`"
                } else {
                    "Braintrust runs automations at least once every 30 days; use `30d` or less"
                }),
            );
            return None;
        }
        Some(seconds)
    }

    pub(crate) fn url(
        &mut self,
        at: DocOrigin,
        value: &Sp<String>,
        what: &str,
        schemes: &[&str],
    ) -> Option<String> {
        let url = value.value.trim();
        let ok = schemes.iter().any(|s| {
            url.strip_prefix(s)
                .and_then(|rest| rest.strip_prefix("://"))
                .is_some_and(|rest| {
                    !rest.is_empty()
                        && !rest.starts_with('/')
                        && !rest.contains(char::is_whitespace)
                })
        });
        let loopback_http = schemes.contains(&"https") && is_loopback_http(url);
        if ok || loopback_http {
            return Some(url.to_owned());
        }
        let allowed = schemes
            .iter()
            .map(|s| format!("`{s}://`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let hint = if schemes.contains(&"s3") {
            "write `s3://bucket/prefix` for AWS or `gs://bucket/prefix` for GCS".to_owned()
        } else if url.starts_with("http://") && schemes.contains(&"https") {
            "plain `http://` is only accepted for `localhost`; use `https://`".to_owned()
        } else {
            format!(
                "write a full URL such as `{}://host.example.com/path`",
                schemes.first().copied().unwrap_or("https")
            )
        };
        self.diags.push(
            Diagnostic::error(Code::InvalidUrl, format!("{what} must be a {allowed} URL"))
                .with_label(self.span(at, value), "invalid URL")
                .with_hint(hint),
        );
        None
    }

    fn secret(
        &mut self,
        at: DocOrigin,
        value: &Option<Sp<SecretRef>>,
        what: &str,
    ) -> Option<SecretSource> {
        let value = value.as_ref()?;
        match &value.value {
            SecretRef::Env(name) => Some(SecretSource::Env(name.clone())),
            SecretRef::File(path) => Some(SecretSource::File(path.clone())),
            SecretRef::Literal => {
                self.diags.push(
                    Diagnostic::error(Code::LiteralSecret, format!("{what} is written literally in the manifest"))
                        .with_label(self.trimmed(self.span(at, value)), "secret value here (not shown)")
                        .with_hint(
                            "secrets never live in git: write `{ env: NAME }` or `{ file: PATH }`, and rotate this one since it was committed",
                        ),
                );
                None
            }
        }
    }

    /// A span without the trailing whitespace and newlines a block scalar's span includes.
    fn trimmed(&self, span: Span) -> Span {
        let text = &self.sources.get(span.file).text;
        let len = text
            .get(span.start..span.end().min(text.len()))
            .map_or(span.len, |t| t.trim_end().len().max(1));
        Span::new(span.file, span.start, len)
    }

    fn not_allowed<T>(&mut self, at: DocOrigin, value: &Sp<T>, message: String, hint: &str) {
        self.diags.push(
            Diagnostic::error(Code::FieldNotAllowed, message)
                .with_label(self.span(at, value), "not allowed here")
                .with_hint(hint.to_owned()),
        );
    }

    fn presence(state: &Option<Sp<State>>) -> Presence {
        match state.as_ref().map(|s| s.value) {
            Some(State::Absent) => Presence::Absent,
            _ => Presence::Present,
        }
    }

    fn names(&mut self, at: DocOrigin, values: &[Sp<String>]) -> Vec<String> {
        values
            .iter()
            .filter_map(|v| self.name(at, v))
            .map(|n| n.to_string())
            .collect()
    }

    /// Inserts a resource, reporting a duplicate key.
    fn insert(&mut self, cx: Cx<'_>, resource: Resource) -> bool {
        if let Some(existing) = self.state.resources.get(&resource.key) {
            if cx.from_template {
                return false;
            }
            let d = Diagnostic::error(
                Code::DuplicateObject,
                format!("{} is declared twice", describe(&resource.key)),
            )
            .with_label(resource.span, "declared again here")
            .with_label(existing.span, "first declared here")
            .with_hint(if resource.key.kind == Kind::Retention {
                "an unnamed retention rule is named `retention-<object_type>`; keep one rule per object type, or give each a `name:`"
            } else {
                "names are unique per kind within an org (or within a project for project objects)"
            });
            self.diags.push(d);
            return false;
        }
        self.state.resources.insert(resource.key.clone(), resource);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        cx: Cx<'_>,
        key: ResourceKey,
        spec: Spec,
        span: Span,
        state: &Option<Sp<State>>,
        protect: Option<bool>,
        previous_names: &[Sp<String>],
    ) -> Option<ResourceKey> {
        let previous = self.names(cx.at, previous_names);
        for (prev, raw) in previous.iter().zip(previous_names) {
            if *prev == key.name {
                self.diags.push(
                    Diagnostic::error(
                        Code::RenameConflict,
                        format!("{} lists its own name in `previous_names`", describe(&key)),
                    )
                    .with_label(self.span(cx.at, raw), "same as the current name")
                    .with_hint("`previous_names` lists the names the object had before a rename; remove this entry"),
                );
            }
        }
        let spans: Vec<(String, Span)> = previous_names
            .iter()
            .filter(|raw| previous.contains(&raw.value))
            .map(|raw| (raw.value.clone(), self.span(cx.at, raw)))
            .collect();
        let resource = Resource {
            key: key.clone(),
            spec,
            presence: Self::presence(state),
            protect: protect.unwrap_or(key.kind.protected_by_default()),
            previous_names: previous,
            depends_on: Vec::new(),
            span,
        };
        if !self.insert(cx, resource) {
            return None;
        }
        for (prev, span) in spans {
            if prev != key.name {
                self.renames.push((key.clone(), prev, span));
            }
        }
        Some(key)
    }

    /// A previous name must not be a declared object of the same kind and scope (the rename
    /// would take its name), nor be claimed by two objects.
    fn check_renames(&mut self) {
        let renames = std::mem::take(&mut self.renames);
        let mut claimed: HashMap<ResourceKey, (&ResourceKey, Span)> = HashMap::new();
        for (key, prev, span) in &renames {
            let old = ResourceKey {
                name: prev.clone(),
                ..key.clone()
            };
            if let Some(existing) = self.state.resources.get(&old) {
                self.diags.push(
                    Diagnostic::error(
                        Code::RenameConflict,
                        format!(
                            "{} is renamed from `{prev}`, but `{prev}` is also declared",
                            describe(key)
                        ),
                    )
                    .with_label(*span, "previous name")
                    .with_label(existing.span, "declared here under that name")
                    .with_hint(format!(
                        "a rename moves the live `{prev}` to the new name; remove `{prev}` from `previous_names`, or remove the declaration of `{prev}`"
                    )),
                );
                continue;
            }
            if let Some((first, first_span)) = claimed.get(&old) {
                self.diags.push(
                    Diagnostic::error(
                        Code::RenameConflict,
                        format!(
                            "`{prev}` is a previous name of both `{}` and `{}`",
                            first.name, key.name
                        ),
                    )
                    .with_label(*span, "claimed again here")
                    .with_label(*first_span, "first claimed here")
                    .with_hint("one live object can only be renamed to one new name"),
                );
                continue;
            }
            claimed.insert(old, (key, *span));
        }
    }

    /// Records a dependency of `from` on `target`, checked once every object is known.
    fn reference(
        &mut self,
        from: &ResourceKey,
        target: ResourceKey,
        span: Span,
        what: &'static str,
    ) {
        self.refs.push(PendingRef {
            from: from.clone(),
            target,
            span,
            what,
            hint: None,
        });
    }

    fn reference_with_hint(
        &mut self,
        from: &ResourceKey,
        target: ResourceKey,
        span: Span,
        what: &'static str,
        hint: &'static str,
    ) {
        self.refs.push(PendingRef {
            from: from.clone(),
            target,
            span,
            what,
            hint: Some(hint),
        });
    }

    // ---- orgs ------------------------------------------------------------------------------

    fn lower_org(&mut self, raw: &RawOrg, at: DocOrigin, org: &OrgName) {
        let cx = Cx {
            at,
            org,
            project: None,
            from_template: false,
        };
        let org_span = self.span(at, &raw.org);
        let api_url = raw
            .api_url
            .as_ref()
            .and_then(|u| self.url(at, u, "`api_url`", &["https"]));
        let api_key_env = raw.api_key_env.as_ref().map(|e| e.value.clone());
        let api_key_policy = raw.api_key_policy.as_ref().map(|p| ApiKeyPolicy {
            max_age_days: p.max_age_days.as_ref().map(|d| d.value),
            allowed_users: p
                .allowed_users
                .as_ref()
                .map(|users| users.iter().filter_map(|u| self.email(at, u)).collect()),
            on_violation: p
                .on_violation
                .as_ref()
                .map_or(PolicyAction::Report, |a| a.value),
        });
        self.state.orgs.insert(
            org.clone(),
            OrgConfig {
                name: org.clone(),
                api_url,
                api_key_env,
                authoritative: raw.authoritative.iter().map(|a| a.value).collect(),
                project_authoritative: BTreeMap::new(),
                api_key_policy,
                span: org_span,
            },
        );

        let settings = raw
            .settings
            .as_ref()
            .map_or_else(OrgSettings::default, |s| OrgSettings {
                api_url: s
                    .api_url
                    .as_ref()
                    .and_then(|u| self.url(at, u, "`settings.api_url`", &["https"])),
                proxy_url: s
                    .proxy_url
                    .as_ref()
                    .and_then(|u| self.url(at, u, "`proxy_url`", &["https"])),
                realtime_url: s
                    .realtime_url
                    .as_ref()
                    .and_then(|u| self.url(at, u, "`realtime_url`", &["https", "wss"])),
                is_universal_api: s.is_universal_api.as_ref().map(|v| v.value),
                is_dataplane_private: s.is_dataplane_private.as_ref().map(|v| v.value),
                image_rendering_mode: s.image_rendering_mode.as_ref().map(|v| v.value),
            });
        self.add(
            cx,
            ResourceKey::org(org),
            Spec::Org(settings),
            org_span,
            &None,
            None,
            &[],
        );

        let mut members = HashSet::new();
        for m in &raw.members {
            let Some(email) = self.email(at, m) else {
                continue;
            };
            members.insert(email.clone());
            let key = ResourceKey::in_org(org, Kind::Member, email.as_str());
            self.add(
                cx,
                key,
                Spec::Member(email),
                self.span(at, m),
                &None,
                None,
                &[],
            );
        }

        for sa in &raw.service_accounts {
            let Some(name) = self.name(at, &sa.name) else {
                continue;
            };
            let key = ResourceKey::in_org(org, Kind::ServiceAccount, name.as_str());
            let Some(key) = self.add(
                cx,
                key,
                Spec::ServiceAccount,
                self.span(at, &sa.name),
                &sa.state,
                None,
                &[],
            ) else {
                continue;
            };
            for token in &sa.tokens {
                let Some(token_name) = self.name(at, &token.name) else {
                    continue;
                };
                let write_key_to = token
                    .write_key_to
                    .as_ref()
                    .and_then(|p| self.relative_path(at, p));
                let tkey =
                    ResourceKey::in_org(org, Kind::ServiceToken, format!("{name}/{token_name}"));
                let spec = Spec::ServiceToken(ServiceTokenSpec {
                    account: name.clone(),
                    name: token_name,
                    write_key_to,
                });
                if let Some(tkey) = self.add(
                    cx,
                    tkey,
                    spec,
                    self.span(at, &token.name),
                    &token.state,
                    None,
                    &[],
                ) {
                    self.reference(
                        &tkey,
                        key.clone(),
                        self.span(at, &token.name),
                        "service account",
                    );
                }
            }
        }

        for g in &raw.groups {
            self.lower_group(cx, g, !members.is_empty());
        }
        for r in &raw.roles {
            self.lower_role(cx, r);
        }
        for e in &raw.environments {
            self.lower_environment(cx, e);
        }
        for s in &raw.ai_secrets {
            self.lower_ai_secret(cx, s);
        }
        for e in &raw.env_vars {
            self.lower_env_var(cx, e);
        }
        for g in &raw.grants {
            self.lower_grant(cx, g, !members.is_empty());
        }
    }

    fn relative_path(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<String> {
        let p = value.value.as_str();
        let bad = p.is_empty()
            || p.starts_with('/')
            || p.contains('\\')
            || p.split('/').any(|c| c == "..");
        if bad {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidName,
                    format!("`{p}` must be a relative path inside the manifest tree"),
                )
                .with_label(self.span(at, value), "invalid path")
                .with_hint(
                    "write a path like `.secrets/ci.token`; keep it out of git with .gitignore",
                ),
            );
            return None;
        }
        Some(p.to_owned())
    }

    fn lower_group(&mut self, cx: Cx<'_>, g: &Sp<raw::RawGroup>, check_members: bool) {
        let at = cx.at;
        let Some(name) = self.name(at, &g.name) else {
            return;
        };
        let builtin = BUILTIN_GROUPS.contains(&name.as_str());
        let span = self.span(at, &g.name);
        if builtin {
            if let Some(state) = g.state.as_ref().filter(|s| s.value == State::Absent) {
                self.diags.push(
                    Diagnostic::error(
                        Code::BuiltinObject,
                        format!("the built-in group `{name}` cannot be deleted"),
                    )
                    .with_label(self.span(at, state), "built-in groups exist in every org")
                    .with_hint("remove `state: absent`; to empty the group, list no members"),
                );
            }
            if let Some(prev) = g.previous_names.first() {
                self.diags.push(
                    Diagnostic::error(
                        Code::BuiltinObject,
                        format!("the built-in group `{name}` cannot be renamed"),
                    )
                    .with_label(self.span(at, prev), "built-in groups keep their names")
                    .with_hint("remove `previous_names`; to use another name, declare a new group and move the members"),
                );
            }
        }
        let mut members = BTreeSet::new();
        let mut member_spans = Vec::new();
        for m in &g.members {
            if let Some(email) = self.email(at, m) {
                member_spans.push((email.clone(), self.span(at, m)));
                members.insert(email);
            }
        }
        let service_accounts: BTreeSet<Name> = g
            .service_accounts
            .iter()
            .filter_map(|s| self.name(at, s))
            .collect();
        let inherits: BTreeSet<Name> = g.inherits.iter().filter_map(|s| self.name(at, s)).collect();
        let spec = GroupSpec {
            description: g.description.as_ref().map(|d| d.value.clone()),
            members,
            service_accounts,
            inherits,
            builtin,
        };
        let key = ResourceKey::in_org(cx.org, Kind::Group, name.as_str());
        let Some(key) = self.add(
            cx,
            key,
            Spec::Group(spec),
            span,
            &g.state,
            None,
            &g.previous_names,
        ) else {
            return;
        };
        if check_members {
            for (email, span) in member_spans {
                let target = ResourceKey::in_org(cx.org, Kind::Member, email.as_str());
                self.reference_with_hint(
                    &key,
                    target,
                    span,
                    "member",
                    "add the email to the org's `members` list",
                );
            }
        }
        for s in &g.service_accounts {
            let target = ResourceKey::in_org(cx.org, Kind::ServiceAccount, s.value.as_str());
            self.reference(&key, target, self.span(at, s), "service account");
        }
        for i in &g.inherits {
            let target = ResourceKey::in_org(cx.org, Kind::Group, i.value.as_str());
            self.reference(&key, target, self.span(at, i), "group");
        }
    }

    fn lower_role(&mut self, cx: Cx<'_>, r: &Sp<raw::RawRole>) {
        let at = cx.at;
        let Some(name) = self.name(at, &r.name) else {
            return;
        };
        let permissions = r
            .permissions
            .iter()
            .map(|p| (p.permission, p.restrict_object_type))
            .collect();
        let inherits: BTreeSet<Name> = r.inherits.iter().filter_map(|s| self.name(at, s)).collect();
        let spec = RoleSpec {
            description: r.description.as_ref().map(|d| d.value.clone()),
            permissions,
            inherits,
        };
        let key = ResourceKey::in_org(cx.org, Kind::Role, name.as_str());
        let Some(key) = self.add(
            cx,
            key,
            Spec::Role(spec),
            self.span(at, &r.name),
            &r.state,
            None,
            &r.previous_names,
        ) else {
            return;
        };
        for i in &r.inherits {
            let target = ResourceKey::in_org(cx.org, Kind::Role, i.value.as_str());
            self.reference(&key, target, self.span(at, i), "role");
        }
    }

    fn lower_environment(&mut self, cx: Cx<'_>, e: &Sp<raw::RawEnvironment>) {
        let at = cx.at;
        let Some(name) = self.name(at, &e.name) else {
            return;
        };
        let slug = match &e.slug {
            Some(s) => {
                let ok = !s.value.is_empty()
                    && s.value.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    });
                if !ok {
                    self.diags.push(
                        Diagnostic::error(
                            Code::InvalidName,
                            format!("`{}` is not a valid environment slug", s.value),
                        )
                        .with_label(self.span(at, s), "invalid slug")
                        .with_hint("use lowercase letters, digits, `-` and `_`"),
                    );
                    return;
                }
                s.value.clone()
            }
            None => slugify(name.as_str()),
        };
        let spec = EnvironmentSpec {
            slug: slug.clone(),
            description: e.description.as_ref().map(|d| d.value.clone()),
        };
        let key = ResourceKey::in_org(cx.org, Kind::Environment, slug);
        self.add(
            cx,
            key,
            Spec::Environment(spec),
            self.span(at, &e.name),
            &e.state,
            None,
            &[],
        );
    }

    fn lower_ai_secret(&mut self, cx: Cx<'_>, s: &Sp<raw::RawAiSecret>) {
        let at = cx.at;
        let Some(name) = self.name(at, &s.name) else {
            return;
        };
        let secret = self.secret(at, &s.secret, &format!("the secret of AI secret `{name}`"));
        let spec = AiSecretSpec {
            provider: s.provider.as_ref().map(|p| p.value.clone()),
            secret,
            metadata: s.metadata.clone(),
        };
        let protect = s.protect.as_ref().map(|p| p.value);
        let key = ResourceKey::in_org(cx.org, Kind::AiSecret, name.as_str());
        self.add(
            cx,
            key,
            Spec::AiSecret(spec),
            self.span(at, &s.name),
            &s.state,
            protect,
            &s.previous_names,
        );
    }

    fn lower_env_var(&mut self, cx: Cx<'_>, e: &Sp<raw::RawEnvVar>) {
        let at = cx.at;
        let Some(name) = self.name(at, &e.name) else {
            return;
        };
        let value = self.secret(
            at,
            &e.value.value,
            &format!("the value of env var `{name}`"),
        );
        let (scope, key_name) = match (cx.project, &e.function) {
            (None, None) => (EnvVarScope::Org, name.to_string()),
            (None, Some(f)) => {
                self.not_allowed(
                    at,
                    f,
                    "`function` is only allowed on env vars in a project document".into(),
                    "move this env var into the document of the project that holds the function",
                );
                return;
            }
            (Some(p), None) => (EnvVarScope::Project(p.clone()), name.to_string()),
            (Some(p), Some(f)) => (
                EnvVarScope::Function {
                    project: p.clone(),
                    slug: f.value.clone(),
                },
                format!("function:{}/{name}", f.value),
            ),
        };
        let spec = Spec::EnvVar(EnvVarSpec { name, scope, value });
        let key = match cx.project {
            Some(p) => ResourceKey::in_project(cx.org, p, Kind::EnvVar, key_name),
            None => ResourceKey::in_org(cx.org, Kind::EnvVar, key_name),
        };
        if let Some(key) = self.add(cx, key, spec, self.span(at, &e.name), &e.state, None, &[]) {
            self.depend_on_project(cx, &key, self.span(at, &e.name));
        }
    }

    fn depend_on_project(&mut self, cx: Cx<'_>, key: &ResourceKey, span: Span) {
        if let Some(p) = cx.project {
            self.reference(key, ResourceKey::project(cx.org, p), span, "project");
        }
    }

    fn lower_grant(&mut self, cx: Cx<'_>, g: &Sp<raw::RawGrant>, check_members: bool) {
        let at = cx.at;
        let span = self.span(at, g);
        let subjects: Vec<(&Sp<String>, &str)> = [
            (&g.user, "user"),
            (&g.group, "group"),
            (&g.service_account, "service_account"),
        ]
        .into_iter()
        .filter_map(|(v, n)| v.as_ref().map(|v| (v, n)))
        .collect();
        if subjects.len() != 1 {
            let mut d = Diagnostic::error(
                Code::AclSubject,
                format!(
                    "a grant needs exactly one of `user`, `group` or `service_account`, found {}",
                    subjects.len()
                ),
            )
            .with_hint(if subjects.is_empty() {
                "say who gets access: add `user: EMAIL`, `group: NAME` or `service_account: NAME`"
            } else {
                "split it into one grant per subject"
            });
            d = match subjects.first() {
                Some((v, _)) => d.with_label(self.span(at, v), "subject"),
                None => d.with_label(span, "grant without a subject"),
            };
            for (v, _) in subjects.iter().skip(1) {
                d = d.with_label(self.span(at, v), "another subject");
            }
            self.diags.push(d);
            return;
        }
        if g.role.is_some() == g.permission.is_some() {
            let mut d = Diagnostic::error(
                Code::AclPrivilege,
                "a grant needs exactly one of `role` or `permission`",
            )
            .with_hint(if g.role.is_some() {
                "a grant gives either a role or a single permission; write two grants for both"
            } else {
                "say what access is given: add `role: NAME` or `permission: read` (or another permission)"
            });
            d = match (&g.role, &g.permission) {
                (Some(r), Some(p)) => d
                    .with_label(self.span(at, r), "a role")
                    .with_label(self.span(at, p), "and a permission"),
                _ => d.with_label(span, "grant without a role or permission"),
            };
            self.diags.push(d);
            return;
        }
        if let (Some(restrict), Some(role)) = (&g.restrict_object_type, &g.role) {
            self.diags.push(
                Diagnostic::error(Code::RestrictWithRole, "`restrict_object_type` cannot be combined with `role`")
                    .with_label(self.span(at, restrict), "restriction")
                    .with_label(self.span(at, role), "role grant")
                    .with_hint("restrict inside the role: `{ permission: create, restrict_object_type: experiment }`"),
            );
            return;
        }
        let (subject_value, subject_kind) = subjects[0];
        let subject = match subject_kind {
            "user" => match self.email(at, subject_value) {
                Some(e) => Subject::User(e),
                None => return,
            },
            "group" => match self.name(at, subject_value) {
                Some(n) => Subject::Group(n),
                None => return,
            },
            _ => match self.name(at, subject_value) {
                Some(n) => Subject::ServiceAccount(n),
                None => return,
            },
        };
        let privilege = match (&g.role, &g.permission) {
            (Some(r), _) => match self.name(at, r) {
                Some(n) => Privilege::Role(n),
                None => return,
            },
            (None, Some(p)) => Privilege::Permission {
                permission: p.value,
                restrict_object_type: g.restrict_object_type.as_ref().map(|r| r.value),
            },
            (None, None) => return,
        };
        let Some((target, target_ref)) = self.grant_target(cx, g) else {
            return;
        };
        let spec = GrantSpec {
            subject: subject.clone(),
            privilege: privilege.clone(),
            target,
        };
        // A grant lives where its object lives: grants on a project (or on one of its objects)
        // are keyed in the project whichever document declares them, as live ACLs are.
        let key = match &spec.target {
            GrantTarget::Project(p) | GrantTarget::Object { project: p, .. } => {
                ResourceKey::in_project(cx.org, p, Kind::Grant, spec.key_name())
            }
            _ => ResourceKey::in_org(cx.org, Kind::Grant, spec.key_name()),
        };
        let Some(key) = self.add(cx, key, Spec::Grant(spec), span, &g.state, None, &[]) else {
            return;
        };
        let subject_span = self.span(at, subject_value);
        match &subject {
            Subject::User(email) if check_members => self.reference_with_hint(
                &key,
                ResourceKey::in_org(cx.org, Kind::Member, email.as_str()),
                subject_span,
                "member",
                "add the email to the org's `members` list",
            ),
            Subject::User(_) => {}
            Subject::Group(name) => {
                self.reference(
                    &key,
                    ResourceKey::in_org(cx.org, Kind::Group, name.as_str()),
                    subject_span,
                    "group",
                );
            }
            Subject::ServiceAccount(name) => self.reference(
                &key,
                ResourceKey::in_org(cx.org, Kind::ServiceAccount, name.as_str()),
                subject_span,
                "service account",
            ),
        }
        if let (Privilege::Role(name), Some(r)) = (&privilege, &g.role) {
            self.reference(
                &key,
                ResourceKey::in_org(cx.org, Kind::Role, name.as_str()),
                self.span(at, r),
                "role",
            );
        }
        if let Some((target_key, span, what)) = target_ref {
            self.reference(&key, target_key, span, what);
        }
    }

    /// The object a grant is on, and the declared object it depends on (if any).
    #[allow(clippy::type_complexity)]
    fn grant_target(
        &mut self,
        cx: Cx<'_>,
        g: &Sp<raw::RawGrant>,
    ) -> Option<(GrantTarget, Option<(ResourceKey, Span, &'static str)>)> {
        let at = cx.at;
        let Some(on) = &g.on else {
            return Some(match cx.project {
                Some(p) => (
                    GrantTarget::Project(p.clone()),
                    Some((ResourceKey::project(cx.org, p), self.span(at, g), "project")),
                ),
                None => (GrantTarget::Org, None),
            });
        };
        let fields: Vec<(&Sp<String>, &str)> = [
            (&on.project, "project"),
            (&on.group, "group"),
            (&on.role, "role"),
            (&on.experiment, "experiment"),
            (&on.dataset, "dataset"),
            (&on.prompt, "prompt"),
        ]
        .into_iter()
        .filter_map(|(v, n)| v.as_ref().map(|v| (v, n)))
        .collect();
        let [(value, field)] = fields[..] else {
            self.diags.push(
                Diagnostic::error(
                    Code::FieldNotAllowed,
                    format!("`on` needs exactly one object, found {}", fields.len()),
                )
                .with_label(self.span(at, on), "grant target")
                .with_hint("write `on: { project: NAME }`, `on: { dataset: NAME }`..."),
            );
            return None;
        };
        let span = self.span(at, value);
        let object = |t: AclObjectType| -> Option<GrantTarget> {
            cx.project.map(|p| GrantTarget::Object {
                project: p.clone(),
                object_type: t,
                name: value.value.clone(),
            })
        };
        let target = match field {
            "project" if cx.project.is_none() => {
                let p = self.project_name(at, value)?;
                let key = ResourceKey::project(cx.org, &p);
                return Some((GrantTarget::Project(p), Some((key, span, "project"))));
            }
            "group" if cx.project.is_none() => {
                let n = self.name(at, value)?;
                let key = ResourceKey::in_org(cx.org, Kind::Group, n.as_str());
                return Some((GrantTarget::Group(n), Some((key, span, "group"))));
            }
            "role" if cx.project.is_none() => {
                let n = self.name(at, value)?;
                let key = ResourceKey::in_org(cx.org, Kind::Role, n.as_str());
                return Some((GrantTarget::Role(n), Some((key, span, "role"))));
            }
            "experiment" => object(AclObjectType::Experiment),
            "dataset" => {
                // Ordered after the dataset when the manifests declare it.
                let t = object(AclObjectType::Dataset);
                if let (Some(t), Some(p)) = (t.clone(), cx.project) {
                    let key = ResourceKey::in_project(cx.org, p, Kind::Dataset, &value.value);
                    return Some((t, Some((key, span, "dataset"))));
                }
                t
            }
            "prompt" => object(AclObjectType::Prompt),
            _ => None,
        };
        if target.is_none() {
            let (msg, hint) = if cx.project.is_some() {
                (
                    format!("`on: {{ {field}: ... }}` is not allowed in a project document"),
                    "a project grant applies to the project itself or to one of its experiments, datasets or prompts; put org-wide grants in the org document",
                )
            } else {
                (
                    format!("`on: {{ {field}: ... }}` needs a project"),
                    "grant on experiments, datasets and prompts from the document of the project that holds them",
                )
            };
            self.not_allowed(at, value, msg, hint);
        }
        target.map(|t| (t, None))
    }

    // ---- projects --------------------------------------------------------------------------

    fn check_template_fields(&mut self, tpl: &RawProject, at: DocOrigin) {
        let fields: [(&str, Option<Span>); 4] = [
            ("org", tpl.org.as_ref().map(|v| self.span(at, v))),
            ("template", tpl.template.as_ref().map(|v| self.span(at, v))),
            (
                "previous_names",
                tpl.previous_names.first().map(|v| self.span(at, v)),
            ),
            ("state", tpl.state.as_ref().map(|v| self.span(at, v))),
        ];
        for (field, span) in fields {
            if let Some(span) = span {
                self.diags.push(
                    Diagnostic::error(Code::FieldNotAllowed, format!("`{field}` is not allowed in a project template"))
                        .with_label(span, "not allowed here")
                        .with_hint("templates describe a project's shape; set this on each project that uses the template"),
                );
            }
        }
    }

    fn project_org(
        &mut self,
        project: &RawProject,
        at: DocOrigin,
        orgs: &[&OrgName],
    ) -> Option<OrgName> {
        match &project.org {
            Some(org) => {
                if let Some(found) = orgs.iter().find(|o| o.as_str() == org.value) {
                    return Some((*found).clone());
                }
                if self.unparsed.orgs.contains(&org.value) {
                    // The org's document failed to parse (that error is reported): still check
                    // the project, without reporting references into the org.
                    return OrgName::new(&org.value).ok();
                }
                let mut d =
                    Diagnostic::error(Code::UnknownOrg, format!("unknown org `{}`", org.value))
                        .with_label(self.span(at, org), "no org document declares this org");
                d = match did_you_mean(&org.value, orgs.iter().map(|o| o.as_str())) {
                    Some(best) => d.with_hint(format!("did you mean `{best}`?")),
                    None => d.with_hint("declare the org in a document starting with `org: NAME`"),
                };
                self.diags.push(d);
                None
            }
            None => match orgs {
                [only] if self.unparsed.orgs.is_empty() => Some((*only).clone()),
                [] if self.unparsed.orgs.len() == 1 => self
                    .unparsed
                    .orgs
                    .first()
                    .and_then(|o| OrgName::new(o).ok()),
                _ => {
                    let span = project
                        .project
                        .as_ref()
                        .map_or(Span::new(at.file, at.base, 1), |p| self.span(at, p));
                    let (code, msg, hint) = if orgs.is_empty() && self.unparsed.orgs.is_empty() {
                        (
                            Code::UnknownOrg,
                            "the project has no org, and no org is declared",
                            "declare the org in a document starting with `org: NAME`".to_owned(),
                        )
                    } else {
                        (
                            Code::AmbiguousOrg,
                            "the project does not say which org it belongs to",
                            format!("add `org: NAME`; the manifests declare {}", {
                                let mut names: Vec<&str> = orgs
                                    .iter()
                                    .map(|o| o.as_str())
                                    .chain(self.unparsed.orgs.iter().map(String::as_str))
                                    .collect();
                                names.sort_unstable();
                                names
                                    .iter()
                                    .map(|o| format!("`{o}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }),
                        )
                    };
                    self.diags.push(
                        Diagnostic::error(code, msg)
                            .with_label(span, "in this project")
                            .with_hint(hint),
                    );
                    None
                }
            },
        }
    }

    fn lower_project(
        &mut self,
        raw: &RawProject,
        at: DocOrigin,
        org: &OrgName,
        template: Option<(&RawProject, DocOrigin)>,
    ) {
        let Some(name_value) = &raw.project else {
            return;
        };
        let Some(name) = self.project_name(at, name_value) else {
            return;
        };
        let span = self.span(at, name_value);
        let cx = Cx {
            at,
            org,
            project: Some(&name),
            from_template: false,
        };

        let (settings_src, settings_at) = match (&raw.settings, template) {
            (Some(s), _) => (Some(s), at),
            (None, Some((t, t_at))) => (t.settings.as_ref(), t_at),
            (None, None) => (None, at),
        };
        let settings = settings_src.map(|s| self.project_settings(settings_at, &name, s));
        let description = raw
            .description
            .as_ref()
            .or_else(|| template.and_then(|(t, _)| t.description.as_ref()))
            .map(|d| d.value.clone());
        let protect = raw
            .protect
            .as_ref()
            .or_else(|| template.and_then(|(t, _)| t.protect.as_ref()))
            .map(|p| p.value);
        let key = ResourceKey::project(org, &name);
        let spec = Spec::Project(ProjectSpec {
            description,
            settings,
        });
        if self
            .add(
                cx,
                key,
                spec,
                span,
                &raw.state,
                protect,
                &raw.previous_names,
            )
            .is_none()
        {
            return;
        }
        let mut authoritative: BTreeSet<ProjectCollection> =
            raw.authoritative.iter().map(|a| a.value).collect();
        if let Some((t, _)) = template {
            authoritative.extend(t.authoritative.iter().map(|a| a.value));
        }
        if let Some(cfg) = self.state.orgs.get_mut(org) {
            cfg.project_authoritative
                .insert(name.clone(), authoritative);
        }

        self.lower_project_body(cx, raw);
        if let Some((t, t_at)) = template {
            self.lower_project_body(
                Cx {
                    at: t_at,
                    from_template: true,
                    ..cx
                },
                t,
            );
        }
    }

    fn lower_project_body(&mut self, cx: Cx<'_>, raw: &RawProject) {
        macro_rules! lower_children {
            ([$lw:expr, $cx:expr, $raw:expr] $($module:ident::$kind:ident($field:ident)),*) => {
                $($lw.lower_children::<crate::kinds::$module::$kind>($cx, $raw);)*
            };
        }
        crate::kinds::project_children!(lower_children!(self, cx, raw));
        for s in &raw.scores {
            self.lower_score(cx, s);
        }
        for o in &raw.online_scoring {
            self.lower_online_scoring(cx, o);
        }
        for a in &raw.alerts {
            self.lower_alert(cx, a);
        }
        for r in &raw.retention {
            self.lower_retention(cx, r);
        }
        for e in &raw.exports {
            self.lower_export(cx, e);
        }
        let check_members = self
            .state
            .resources
            .keys()
            .any(|k| k.org == *cx.org && k.kind == Kind::Member);
        for g in &raw.grants {
            self.lower_grant(cx, g, check_members);
        }
        for e in &raw.env_vars {
            self.lower_env_var(cx, e);
        }
    }

    fn project_settings(
        &mut self,
        at: DocOrigin,
        project: &ProjectName,
        s: &raw::RawProjectSettings,
    ) -> ProjectSettings {
        ProjectSettings {
            comparison_key: s.comparison_key.as_ref().map(|v| v.value.clone()),
            baseline_experiment: s.baseline_experiment.as_ref().map(|v| v.value.clone()),
            span_field_order: s.span_field_order.as_ref().map(|fields| {
                fields
                    .iter()
                    .map(|f| SpanField {
                        object_type: f.object_type.value.clone(),
                        column_id: f.column_id.value.clone(),
                        position: f.position.value.clone(),
                        layout: f.layout.as_ref().map(|l| l.value),
                    })
                    .collect()
            }),
            remote_eval_sources: s.remote_eval_sources.as_ref().map(|sources| {
                sources
                    .iter()
                    .filter_map(|r| {
                        Some(RemoteEvalSource {
                            url: self.url(
                                at,
                                &r.url,
                                "a remote eval source",
                                &["https", "http"],
                            )?,
                            name: r.name.as_ref().map(|v| v.value.clone()),
                            description: r.description.as_ref().map(|v| v.value.clone()),
                        })
                    })
                    .collect()
            }),
            disable_realtime_queries: s.disable_realtime_queries.as_ref().map(|v| v.value),
            default_preprocessor: s
                .default_preprocessor
                .as_ref()
                .and_then(|f| self.function_ref(at, project, f)),
        }
    }

    fn function_ref(
        &mut self,
        at: DocOrigin,
        project: &ProjectName,
        f: &Sp<raw::RawFunctionRef>,
    ) -> Option<FunctionRef> {
        match (&f.global, &f.function) {
            (Some(global), None) => {
                if let Some(p) = &f.project {
                    self.not_allowed(
                        at,
                        p,
                        "`project` only applies to `function` references".into(),
                        "built-in functions belong to no project",
                    );
                    return None;
                }
                Some(FunctionRef::Global {
                    name: global.value.clone(),
                    function_type: f.function_type.as_ref().map(|t| t.value),
                })
            }
            (None, Some(slug)) => {
                if let Some(t) = &f.function_type {
                    self.not_allowed(
                        at,
                        t,
                        "`function_type` only applies to `global` references".into(),
                        "a project function already has a type",
                    );
                    return None;
                }
                let project = match &f.project {
                    Some(p) => self.project_name(at, p)?,
                    None => project.clone(),
                };
                Some(FunctionRef::Project {
                    project,
                    slug: slug.value.clone(),
                })
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(Code::FieldNotAllowed, "a function reference needs exactly one of `global` or `function`")
                        .with_label(self.span(at, f), "function reference")
                        .with_hint("write `{ global: Factuality }` for a built-in or `{ function: my-scorer }` for a project function"),
                );
                None
            }
        }
    }

    fn project_key(cx: Cx<'_>, kind: Kind, name: impl Into<String>) -> Option<ResourceKey> {
        cx.project
            .map(|p| ResourceKey::in_project(cx.org, p, kind, name))
    }

    /// The entries of one [`ProjectChild`] kind in a project: the name is checked, the kind's
    /// module checks the rest and builds the spec, and the object depends on its project.
    fn lower_children<K: ChildVariant>(&mut self, cx: Cx<'_>, raw: &RawProject) {
        for entry in K::entries(raw) {
            let header = K::header(entry);
            let Some(name) = self.name(cx.at, header.name) else {
                continue;
            };
            let Some(spec) = K::lower(self, cx, entry) else {
                continue;
            };
            let Some(key) = Self::project_key(cx, K::KIND, name.as_str()) else {
                continue;
            };
            let span = self.span(cx.at, header.name);
            if let Some(key) = self.add(
                cx,
                key,
                K::wrap(spec),
                span,
                header.state,
                None,
                header.previous_names,
            ) {
                self.depend_on_project(cx, &key, span);
            }
        }
    }

    fn lower_score(&mut self, cx: Cx<'_>, s: &Sp<raw::RawScore>) {
        use raw::ScoreType as T;
        let at = cx.at;
        let Some(name) = self.name(at, &s.name) else {
            return;
        };
        let ty = s.score_type.value;
        let type_name = match ty {
            T::Slider => "slider",
            T::Categorical => "categorical",
            T::FreeForm => "free-form",
            T::Weighted => "weighted",
            T::Minimum => "minimum",
            T::Maximum => "maximum",
        };
        let mut ok = true;
        let mut disallow = |lw: &mut Self, present: Option<Span>, field: &str, allowed: &str| {
            if let Some(span) = present {
                ok = false;
                lw.diags.push(
                    Diagnostic::error(
                        Code::FieldNotAllowed,
                        format!("`{field}` does not apply to a {type_name} score"),
                    )
                    .with_label(span, "not allowed here")
                    .with_hint(format!("`{field}` is only for {allowed} scores")),
                );
            }
        };
        let categories_span = s.categories.as_ref().map(|c| {
            c.first()
                .map_or(self.span(at, &s.score_type), |c| self.span(at, c))
        });
        if ty != T::Categorical {
            disallow(self, categories_span, "categories", "categorical");
            disallow(
                self,
                s.multi_select.as_ref().map(|v| self.span(at, v)),
                "multi_select",
                "categorical",
            );
        }
        if ty != T::Weighted {
            disallow(
                self,
                s.weights.as_ref().map(|v| self.span(at, v)),
                "weights",
                "weighted",
            );
        }
        if !matches!(ty, T::Minimum | T::Maximum) {
            let span = s.scores.as_ref().map(|v| {
                v.first()
                    .map_or(self.span(at, &s.score_type), |c| self.span(at, c))
            });
            disallow(self, span, "scores", "minimum and maximum");
        }
        let mut refs: Vec<(String, Span)> = Vec::new();
        let kind = match ty {
            T::Slider => ScoreKind::Slider,
            T::FreeForm => ScoreKind::FreeForm,
            T::Categorical => match &s.categories {
                None => {
                    ok = false;
                    self.score_missing(at, s, type_name, "categories");
                    ScoreKind::Slider
                }
                Some(cats) => {
                    let mut seen = HashMap::new();
                    let mut categories = Vec::new();
                    for c in cats {
                        let value = self.range(at, &c.value.value, 0.0, 1.0, "a category value");
                        if let Some(first) =
                            seen.insert(c.name.value.clone(), self.span(at, &c.name))
                        {
                            ok = false;
                            self.diags.push(
                                Diagnostic::error(
                                    Code::DuplicateObject,
                                    format!("category `{}` is listed twice", c.name.value),
                                )
                                .with_label(self.span(at, &c.name), "listed again here")
                                .with_label(first, "first listed here"),
                            );
                        }
                        match value {
                            Some(v) => categories.push((c.name.value.clone(), v)),
                            None => ok = false,
                        }
                    }
                    if cats.is_empty() {
                        ok = false;
                        self.score_missing(at, s, type_name, "categories");
                    }
                    ScoreKind::Categorical {
                        categories,
                        multi_select: s.multi_select.as_ref().map(|m| m.value),
                    }
                }
            },
            T::Weighted => match &s.weights {
                None => {
                    ok = false;
                    self.score_missing(at, s, type_name, "weights");
                    ScoreKind::Slider
                }
                Some(weights) => {
                    let mut out = BTreeMap::new();
                    for (score, w) in &weights.value {
                        if let Some(v) = self.range(at, w, 0.0, f64::INFINITY, "a weight") {
                            out.insert(score.clone(), v);
                        } else {
                            ok = false;
                        }
                        refs.push((score.clone(), self.span(at, w)));
                    }
                    if out.is_empty() {
                        ok = false;
                        self.score_missing(at, s, type_name, "weights");
                    } else if out.values().all(|w| *w == 0.0) {
                        self.diags.push(
                            Diagnostic::warning(
                                Code::Suspicious,
                                "every weight is 0, so this score is always 0",
                            )
                            .with_label(self.span(at, weights), "weights"),
                        );
                    }
                    ScoreKind::Weighted(out)
                }
            },
            T::Minimum | T::Maximum => match &s.scores {
                None => {
                    ok = false;
                    self.score_missing(at, s, type_name, "scores");
                    ScoreKind::Slider
                }
                Some(scores) => {
                    if scores.is_empty() {
                        ok = false;
                        self.score_missing(at, s, type_name, "scores");
                    }
                    for sc in scores {
                        refs.push((sc.value.clone(), self.span(at, sc)));
                    }
                    let set = scores.iter().map(|s| s.value.clone()).collect();
                    if ty == T::Minimum {
                        ScoreKind::Minimum(set)
                    } else {
                        ScoreKind::Maximum(set)
                    }
                }
            },
        };
        if !ok {
            return;
        }
        let spec = Spec::Score(ScoreSpec {
            description: s.description.as_ref().map(|d| d.value.clone()),
            kind,
            object_types: s
                .object_types
                .as_ref()
                .map(|o| o.iter().map(|t| t.value).collect()),
        });
        let Some(key) = Self::project_key(cx, Kind::Score, name.as_str()) else {
            return;
        };
        let span = self.span(at, &s.name);
        let Some(key) = self.add(cx, key, spec, span, &s.state, None, &s.previous_names) else {
            return;
        };
        self.depend_on_project(cx, &key, span);
        for (score, span) in refs {
            if let Some(target) = Self::project_key(cx, Kind::Score, score) {
                self.reference(&key, target, span, "score");
            }
        }
    }

    fn score_missing(
        &mut self,
        at: DocOrigin,
        s: &Sp<raw::RawScore>,
        type_name: &str,
        field: &str,
    ) {
        self.diags.push(
            Diagnostic::error(
                Code::MissingField,
                format!("a {type_name} score needs `{field}`"),
            )
            .with_label(self.span(at, &s.score_type), format!("{type_name} score"))
            .with_hint(match field {
                "categories" => {
                    "add `categories: [{ name: good, value: 1 }, { name: bad, value: 0 }]`"
                }
                "weights" => "add `weights: { score-a: 0.5, score-b: 0.5 }`",
                _ => "add `scores: [score-a, score-b]`",
            }),
        );
    }

    fn lower_online_scoring(&mut self, cx: Cx<'_>, o: &Sp<raw::RawOnlineScoring>) {
        let at = cx.at;
        let Some(project) = cx.project else { return };
        let Some(name) = self.name(at, &o.name) else {
            return;
        };
        let sampling_rate = self.range(at, &o.sampling_rate, 0.0, 1.0, "`sampling_rate`");
        let scorers: Vec<FunctionRef> = o
            .scorers
            .iter()
            .filter_map(|f| self.function_ref(at, project, f))
            .collect();
        if o.scorers.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    Code::MissingField,
                    "an online-scoring rule needs at least one scorer",
                )
                .with_label(self.span(at, &o.name), "rule without scorers")
                .with_hint("add `scorers: [{ global: Factuality }]`"),
            );
            return;
        }
        let scope = match &o.scope {
            None => Some(Scope::Span),
            Some(scope) => self.scope(at, scope),
        };
        if let Some(scope) = &scope
            && !matches!(scope, Scope::Span)
        {
            let span_only = [
                (
                    "apply_to_root_span",
                    o.apply_to_root_span.as_ref().map(|v| self.span(at, v)),
                ),
                (
                    "apply_to_span_names",
                    o.apply_to_span_names
                        .as_ref()
                        .and_then(|v| v.first())
                        .map(|v| self.span(at, v)),
                ),
            ];
            for (field, span) in span_only {
                if let Some(span) = span {
                    self.diags.push(
                        Diagnostic::error(
                            Code::FieldNotAllowed,
                            format!("`{field}` only applies to the span scope"),
                        )
                        .with_label(span, "not allowed with this scope")
                        .with_hint("remove it, or use `scope: { type: span }`"),
                    );
                    return;
                }
            }
        }
        let (Some(sampling_rate), Some(scope)) = (sampling_rate, scope) else {
            return;
        };
        if scorers.len() != o.scorers.len() {
            return;
        }
        let spec = Spec::OnlineScoring(OnlineScoringSpec {
            description: o.description.as_ref().map(|d| d.value.clone()),
            sampling_rate,
            scorers,
            filter: o.filter.as_ref().map(|f| f.value.clone()),
            scope,
            apply_to_root_span: o.apply_to_root_span.as_ref().map(|v| v.value),
            apply_to_span_names: o
                .apply_to_span_names
                .as_ref()
                .map(|v| v.iter().map(|s| s.value.clone()).collect()),
            skip_logging: o.skip_logging.as_ref().map(|v| v.value),
        });
        // Online-scoring rules are project scores on the wire, so they share the score namespace.
        let Some(key) = Self::project_key(cx, Kind::OnlineScoring, name.as_str()) else {
            return;
        };
        let score_key = Self::project_key(cx, Kind::Score, name.as_str());
        let span = self.span(at, &o.name);
        if let Some(existing) = score_key.and_then(|k| self.state.resources.get(&k)) {
            if !cx.from_template {
                let d = Diagnostic::error(
                    Code::DuplicateObject,
                    format!("`{name}` is both a score and an online-scoring rule in project `{project}`"),
                )
                .with_label(span, "online-scoring rule")
                .with_label(existing.span, "score with the same name")
                .with_hint("scores and online-scoring rules share one namespace per project; rename one of them");
                self.diags.push(d);
            }
            return;
        }
        if let Some(key) = self.add(cx, key, spec, span, &o.state, None, &o.previous_names) {
            self.depend_on_project(cx, &key, span);
        }
    }

    fn scope(&mut self, at: DocOrigin, scope: &Sp<raw::RawScope>) -> Option<Scope> {
        let idle = scope
            .idle_seconds
            .as_ref()
            .and_then(|v| self.range(at, v, 0.0, f64::INFINITY, "`idle_seconds`"));
        let group_fields = [
            (
                "group_by",
                scope.group_by.as_ref().map(|v| self.span(at, v)),
            ),
            (
                "placement",
                scope.placement.as_ref().map(|v| self.span(at, v)),
            ),
            (
                "interval_seconds",
                scope.interval_seconds.as_ref().map(|v| self.span(at, v)),
            ),
            (
                "max_traces",
                scope.max_traces.as_ref().map(|v| self.span(at, v)),
            ),
        ];
        match scope.scope_type.value {
            raw::ScopeType::Span | raw::ScopeType::Trace => {
                let type_name = if scope.scope_type.value == raw::ScopeType::Span {
                    "span"
                } else {
                    "trace"
                };
                let mut extra: Vec<(&str, Span)> = group_fields
                    .iter()
                    .filter_map(|(f, s)| s.map(|s| (*f, s)))
                    .collect();
                if type_name == "span"
                    && let Some(v) = &scope.idle_seconds
                {
                    extra.push(("idle_seconds", self.span(at, v)));
                }
                if let Some((field, span)) = extra.first() {
                    self.diags.push(
                        Diagnostic::error(Code::FieldNotAllowed, format!("`{field}` does not apply to the {type_name} scope"))
                            .with_label(*span, "not allowed here")
                            .with_hint("`group_by`, `placement`, `interval_seconds` and `max_traces` are for `type: group`"),
                    );
                    return None;
                }
                Some(if type_name == "span" {
                    Scope::Span
                } else {
                    Scope::Trace { idle_seconds: idle }
                })
            }
            raw::ScopeType::Group => {
                let (Some(group_by), Some(placement)) = (&scope.group_by, &scope.placement) else {
                    self.diags.push(
                        Diagnostic::error(Code::MissingField, "a group scope needs `group_by` and `placement`")
                            .with_label(self.span(at, &scope.scope_type), "group scope")
                            .with_hint("add `group_by: metadata.session_id` and `placement: first` (or `each`)"),
                    );
                    return None;
                };
                let interval_seconds = scope
                    .interval_seconds
                    .as_ref()
                    .and_then(|v| self.range(at, v, 1.0, f64::INFINITY, "`interval_seconds`"));
                let max_traces = scope
                    .max_traces
                    .as_ref()
                    .and_then(|v| self.int_range(at, v, 1, 64, "`max_traces`"));
                if scope.interval_seconds.is_some() && interval_seconds.is_none()
                    || scope.max_traces.is_some() && max_traces.is_none()
                {
                    return None;
                }
                Some(Scope::Group {
                    group_by: group_by.value.clone(),
                    placement: placement.value,
                    interval_seconds,
                    max_traces,
                    idle_seconds: idle,
                })
            }
        }
    }

    /// Automations (alerts, retention rules, exports) share one namespace per project.
    #[allow(clippy::too_many_arguments)]
    fn add_automation(
        &mut self,
        cx: Cx<'_>,
        kind: Kind,
        name: &Name,
        spec: Spec,
        span: Span,
        state: &Option<Sp<State>>,
        previous: &[Sp<String>],
    ) {
        let others = [Kind::Alert, Kind::Retention, Kind::Export]
            .into_iter()
            .filter(|k| *k != kind);
        for other in others {
            let Some(other_key) = Self::project_key(cx, other, name.as_str()) else {
                return;
            };
            if let Some(existing) = self.state.resources.get(&other_key) {
                if !cx.from_template {
                    self.diags.push(
                        Diagnostic::error(
                            Code::DuplicateObject,
                            format!("automation `{name}` is declared twice"),
                        )
                        .with_label(span, format!("{kind} declared here"))
                        .with_label(existing.span, format!("{other} with the same name"))
                        .with_hint(
                            "alerts, retention rules and exports share one namespace per project",
                        ),
                    );
                }
                return;
            }
        }
        let Some(key) = Self::project_key(cx, kind, name.as_str()) else {
            return;
        };
        if let Some(key) = self.add(cx, key, spec, span, state, None, previous) {
            self.depend_on_project(cx, &key, span);
        }
    }

    fn lower_alert(&mut self, cx: Cx<'_>, a: &Sp<raw::RawAlert>) {
        let at = cx.at;
        let Some(name) = self.name(at, &a.name) else {
            return;
        };
        let interval = self.interval(at, &a.interval, "`interval`");
        let notify = match (&a.notify.webhook, &a.notify.slack) {
            (Some(url), None) => self
                .url(at, url, "a webhook", &["https"])
                .map(|url| Notify::Webhook { url }),
            (None, Some(slack)) => Some(Notify::Slack {
                workspace_id: slack.workspace_id.value.clone(),
                channel: slack.channel.value.clone(),
                message_template: slack.message_template.as_ref().map(|m| m.value.clone()),
            }),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        Code::FieldNotAllowed,
                        "`notify` needs exactly one of `webhook` or `slack`",
                    )
                    .with_label(self.span(at, &a.notify), "notification target")
                    .with_hint(if a.notify.webhook.is_none() {
                        "add `webhook: https://...` or `slack: { workspace_id: ..., channel: ... }`"
                    } else {
                        "keep `webhook` or `slack`; to notify both, declare two alerts"
                    }),
                );
                None
            }
        };
        let (Some(interval_seconds), Some(notify)) = (interval, notify) else {
            return;
        };
        let spec = Spec::Alert(AlertSpec {
            description: a.description.as_ref().map(|d| d.value.clone()),
            filter: a.filter.value.clone(),
            interval_seconds,
            notify,
        });
        self.add_automation(
            cx,
            Kind::Alert,
            &name,
            spec,
            self.span(at, &a.name),
            &a.state,
            &a.previous_names,
        );
    }

    fn lower_retention(&mut self, cx: Cx<'_>, r: &Sp<raw::RawRetention>) {
        let at = cx.at;
        let object = r.object_type.value.as_str();
        let name = match &r.name {
            Some(n) => self.name(at, n),
            None => Name::new(&format!("retention-{object}")).ok(),
        };
        let Some(name) = name else { return };
        let Some(days) = self.range(at, &r.days, 0.0, f64::INFINITY, "`days`") else {
            return;
        };
        if days == 0.0 {
            self.diags.push(
                Diagnostic::warning(
                    Code::Suspicious,
                    format!("`days: 0` deletes all {object} data as soon as it is written"),
                )
                .with_label(self.span(at, &r.days), "zero days")
                .with_hint("retention permanently deletes data; check this is intended"),
            );
        }
        let spec = Spec::Retention(RetentionSpec {
            object_type: r.object_type.value,
            days,
        });
        let span = r
            .name
            .as_ref()
            .map_or_else(|| self.span(at, &r.object_type), |n| self.span(at, n));
        self.add_automation(cx, Kind::Retention, &name, spec, span, &r.state, &[]);
    }

    fn lower_export(&mut self, cx: Cx<'_>, e: &Sp<raw::RawExport>) {
        let at = cx.at;
        let Some(name) = self.name(at, &e.name) else {
            return;
        };
        let interval = self.interval(at, &e.interval, "`interval`");
        let path = self.url(at, &e.path, "an export path", &["s3", "gs"]);
        let data = match (e.data.value, &e.query) {
            (raw::ExportData::BtqlQuery, Some(q)) => Some(ExportData::Query(q.value.clone())),
            (raw::ExportData::BtqlQuery, None) => {
                self.diags.push(
                    Diagnostic::error(Code::MissingField, "`data: btql_query` needs `query`")
                        .with_label(self.span(at, &e.data), "query export")
                        .with_hint("add `query: \"select: * from: project_logs('...')\"`"),
                );
                None
            }
            (_, Some(q)) => {
                self.not_allowed(
                    at,
                    q,
                    "`query` only applies to `data: btql_query`".into(),
                    "remove `query`, or set `data: btql_query`",
                );
                None
            }
            (raw::ExportData::LogTraces, None) => Some(ExportData::LogTraces),
            (raw::ExportData::LogSpans, None) => Some(ExportData::LogSpans),
        };
        let c = &e.credentials;
        let credentials = match (&c.aws_role_arn, &c.gcp_service_account) {
            (Some(arn), None) => {
                if arn.value.starts_with("arn:") {
                    Some(ExportCredentials::Aws {
                        role_arn: arn.value.clone(),
                        external_id: c.external_id.as_ref().map(|x| x.value.clone()),
                    })
                } else {
                    self.diags.push(
                        Diagnostic::error(
                            Code::InvalidName,
                            format!("`{}` is not an AWS role ARN", arn.value),
                        )
                        .with_label(
                            self.span(at, arn),
                            "expected `arn:aws:iam::ACCOUNT:role/NAME`",
                        )
                        .with_hint("copy the role's ARN from the IAM console; it starts with `arn:aws:iam::`"),
                    );
                    None
                }
            }
            (None, Some(sa)) => {
                if let Some(x) = &c.external_id {
                    self.not_allowed(
                        at,
                        x,
                        "`external_id` only applies to AWS credentials".into(),
                        "remove `external_id`",
                    );
                    None
                } else {
                    Email::new(&sa.value)
                        .map_err(|err| {
                            self.diags.push(
                                Diagnostic::error(Code::InvalidEmail, err.0).with_label(
                                    self.span(at, sa),
                                    "expected a service account email",
                                ),
                            );
                        })
                        .ok()
                        .map(|_| ExportCredentials::Gcp {
                            service_account: sa.value.clone(),
                        })
                }
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(Code::FieldNotAllowed, "`credentials` needs exactly one of `aws_role_arn` or `gcp_service_account`")
                        .with_label(self.span(at, c), "credentials"),
                );
                None
            }
        };
        if let (Some(path), Some(creds)) = (&path, &credentials) {
            let mismatch = match creds {
                ExportCredentials::Aws { .. } => !path.starts_with("s3://"),
                ExportCredentials::Gcp { .. } => !path.starts_with("gs://"),
            };
            if mismatch {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidUrl,
                        "the export path does not match the credentials",
                    )
                    .with_label(self.span(at, &e.path), "path")
                    .with_label(self.span(at, c), "credentials")
                    .with_hint("AWS credentials write to `s3://`, GCP credentials to `gs://`"),
                );
                return;
            }
        }
        let batch_size = e
            .batch_size
            .as_ref()
            .and_then(|b| self.int_range(at, b, 1, 100_000, "`batch_size`"));
        if e.batch_size.is_some() && batch_size.is_none() {
            return;
        }
        let (Some(interval_seconds), Some(path), Some(data), Some(credentials)) =
            (interval, path, data, credentials)
        else {
            return;
        };
        let spec = Spec::Export(ExportSpec {
            description: e.description.as_ref().map(|d| d.value.clone()),
            data,
            path,
            format: e.format.value,
            interval_seconds,
            credentials,
            status: e.status.as_ref().map(|s| s.value),
            batch_size,
        });
        self.add_automation(
            cx,
            Kind::Export,
            &name,
            spec,
            self.span(at, &e.name),
            &e.state,
            &e.previous_names,
        );
    }

    // ---- references ------------------------------------------------------------------------

    fn resolve_refs(&mut self) {
        let refs = std::mem::take(&mut self.refs);
        // A reference written in a template is resolved once per project using the template:
        // report it once, naming every project.
        let mut unresolved: Vec<(Span, ResourceKey, &str, Vec<String>, Diagnostic)> = Vec::new();
        for r in refs {
            let builtin_group =
                r.target.kind == Kind::Group && BUILTIN_GROUPS.contains(&r.target.name.as_str());
            match self.state.resources.get(&r.target) {
                Some(target) if target.presence == Presence::Absent => {
                    let from_present = self
                        .state
                        .resources
                        .get(&r.from)
                        .is_some_and(|f| f.presence == Presence::Present);
                    if from_present {
                        self.diags.push(
                            Diagnostic::error(
                                Code::UnresolvedReference,
                                format!(
                                    "{} refers to {}, which is marked `state: absent`",
                                    describe_short(&r.from),
                                    describe(&r.target)
                                ),
                            )
                            .with_label(r.span, format!("{} to be deleted", r.what))
                            .with_label(target.span, "marked absent here")
                            .with_hint("remove the reference, or keep the object"),
                        );
                    }
                }
                Some(_) => {
                    let dep = Dependency {
                        target: r.target.clone(),
                        span: r.span,
                    };
                    if let Some(from) = self.state.resources.get_mut(&r.from)
                        && !from.depends_on.contains(&dep)
                    {
                        from.depends_on.push(dep);
                    }
                }
                None if builtin_group => {}
                // A dataset need not be declared: an undeclared one is looked up live when
                // planning (`crate::refs`), and a missing one refuses the plan there.
                None if r.target.kind == Kind::Dataset => {}
                // Objects of an org whose document failed to parse are unknown, not missing.
                None if r.target.project.is_none()
                    && self.unparsed.orgs.contains(r.target.org.as_str()) => {}
                None if r.target.kind == Kind::Project
                    && self.unparsed.projects.iter().any(|(org, p)| {
                        *p == r.target.name
                            && org.as_deref().is_none_or(|o| o == r.target.org.as_str())
                    }) => {}
                None => {
                    let candidates: Vec<&str> = self
                        .state
                        .resources
                        .keys()
                        .filter(|k| {
                            k.kind == r.target.kind
                                && k.org == r.target.org
                                && k.project == r.target.project
                        })
                        .map(|k| k.name.as_str())
                        .chain(if r.target.kind == Kind::Group {
                            BUILTIN_GROUPS.to_vec()
                        } else {
                            Vec::new()
                        })
                        .collect();
                    let scope = match &r.target.project {
                        Some(p) => format!("project `{p}`"),
                        None => format!("org `{}`", r.target.org),
                    };
                    let mut d = if r.target.kind == Kind::Member {
                        Diagnostic::error(
                            Code::UnresolvedReference,
                            format!(
                                "`{}` is not a member of org `{}`",
                                r.target.name, r.target.org
                            ),
                        )
                        .with_label(r.span, "not in the org's `members` list")
                    } else {
                        Diagnostic::error(
                            Code::UnresolvedReference,
                            format!("unknown {} `{}` in {scope}", r.what, r.target.name),
                        )
                        .with_label(r.span, format!("no {} with this name is declared", r.what))
                    };
                    d = match (
                        did_you_mean(&r.target.name, candidates.iter().copied()),
                        r.hint,
                    ) {
                        (Some(best), _) => d.with_hint(format!("did you mean `{best}`?")),
                        (None, Some(hint)) => d.with_hint(hint),
                        (None, None) if !candidates.is_empty() && candidates.len() <= 8 => {
                            let mut names = candidates.clone();
                            names.sort_unstable();
                            names.dedup();
                            d.with_hint(format!(
                                "declared {}s: {}",
                                r.what,
                                names
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        }
                        (None, None) => {
                            d.with_hint(format!("declare the {} in the manifests", r.what))
                        }
                    };
                    let same = unresolved.iter_mut().find(|(span, target, _, _, _)| {
                        *span == r.span
                            && target.kind == r.target.kind
                            && target.name == r.target.name
                    });
                    match same {
                        Some((_, _, _, scopes, _)) => scopes.push(scope),
                        None => unresolved.push((r.span, r.target.clone(), r.what, vec![scope], d)),
                    }
                }
            }
        }
        for (_, target, what, mut scopes, mut d) in unresolved {
            scopes.dedup();
            if scopes.len() > 1 {
                let projects: Vec<&str> = scopes
                    .iter()
                    .map(|s| s.strip_prefix("project ").unwrap_or(s))
                    .collect();
                d.message = format!(
                    "unknown {what} `{}` in projects {}",
                    target.name,
                    projects.join(" and ")
                );
            }
            self.diags.push(d);
        }
    }
}

pub(crate) fn is_hex_color(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|hex| {
        (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "localhost" | "[::1]") || host.starts_with("127.")
}

fn slugify(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Drops repeated diagnostics: a template checked once per project that uses it reports each of
/// its problems once.
fn dedupe(diags: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.code, d.primary_span(), d.message.clone())));
}

/// An object as people name it: ``group `ml-engineers` in org `acme` ``.
fn describe(key: &ResourceKey) -> String {
    match (&key.project, key.kind) {
        (_, Kind::Org) => format!("org `{}`", key.org),
        (Some(p), _) => format!("{} in project `{p}`", describe_short(key)),
        (None, _) => format!("{} in org `{}`", describe_short(key), key.org),
    }
}

/// An object's kind and name, without its scope: ``score `overall` ``.
fn describe_short(key: &ResourceKey) -> String {
    format!("{} `{}`", key.kind.human(), key.name)
}

/// What a range-checked value means, for out-of-range hints.
fn range_hint(what: &str) -> Option<&'static str> {
    Some(match what {
        "`sampling_rate`" => "a fraction of logs: `0.1` scores 10 %, `1` scores every log",
        "a category value" => "category values go from 0 (worst) to 1 (best)",
        "a weight" => "weights are relative importances, such as `0.7` and `0.3`",
        "`days`" => "the number of days data is kept before it is deleted",
        "`max_traces`" => "a group scope scores at most 64 traces at a time",
        "`batch_size`" => "leave `batch_size` out to use Braintrust's default",
        "`interval_seconds`" => "the time to wait between scoring runs of a group, in seconds",
        _ => return None,
    })
}

/// Why a duration text does not parse.
fn duration_problem(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "it is empty".to_owned();
    }
    if t.starts_with('-') {
        return "it is negative".to_owned();
    }
    if t.contains('.') {
        return "fractions are not supported; write `90s` rather than `1.5m`".to_owned();
    }
    let mut digits = 0;
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if "smhdw".contains(c) {
            if digits == 0 {
                return format!("`{c}` needs a number before it, like `1{c}`");
            }
            digits = 0;
        } else {
            return format!("`{c}` is not a unit (use `s`, `m`, `h`, `d` or `w`)");
        }
    }
    if digits > 0 {
        return "the last number has no unit".to_owned();
    }
    "it is too large".to_owned()
}

/// `2678400` as `31 days`, for messages.
fn human_duration(seconds: u64) -> String {
    let (n, unit) = if seconds == 0 {
        (0, "second")
    } else if seconds.is_multiple_of(86_400) {
        (seconds / 86_400, "day")
    } else if seconds.is_multiple_of(3_600) {
        (seconds / 3_600, "hour")
    } else if seconds.is_multiple_of(60) {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
