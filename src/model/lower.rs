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
use crate::kinds::{ChildVariant, OrgVariant};
use crate::manifest::raw::{RawDocument, RawOrg, RawProject, State};
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
    pub(crate) state: DesiredState,
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
    pub(crate) org: &'d OrgName,
    pub(crate) project: Option<&'d ProjectName>,
    /// Entries from a template yield to the project's own entries of the same key.
    pub(crate) from_template: bool,
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
            // A project names its template even when the project itself is in error (no org):
            // the template is used, so no "not used" warning on top of that error.
            if let Some(name) = &project.template
                && templates.contains_key(name.value.as_str())
            {
                used_templates.insert(name.value.clone());
            }
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

    pub(crate) fn name(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<Name> {
        Name::new(&value.value)
            .map_err(|e| self.invalid_name(at, value, e))
            .ok()
    }

    pub(crate) fn project_name(
        &mut self,
        at: DocOrigin,
        value: &Sp<String>,
    ) -> Option<ProjectName> {
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

    /// A field required unless the entry is a tombstone (see
    /// [`crate::manifest::raw::TombstoneFields`]): when it is missing, reports it as the parser
    /// reports a missing field (E0103 on the first key of the entry's mapping), so present
    /// objects read the same as when the schema required the field. `anchor` is any value of
    /// the entry written on a `key: value` line of its block mapping (its name), or the entry.
    pub(crate) fn required<'v, F>(
        &mut self,
        anchor: Span,
        field: &'v Option<F>,
        name: &str,
    ) -> Option<&'v F> {
        if field.is_none() {
            let d = crate::manifest::missing_field(self.sources, anchor, name);
            self.diags.push(d);
        }
        field.as_ref()
    }

    pub(crate) fn email(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<Email> {
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

    pub(crate) fn range(
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

    pub(crate) fn int_range(
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

    pub(crate) fn interval(
        &mut self,
        at: DocOrigin,
        value: &Sp<Duration>,
        what: &str,
    ) -> Option<u64> {
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

    pub(crate) fn secret(
        &mut self,
        at: DocOrigin,
        value: &Option<Sp<SecretRef>>,
        what: &str,
    ) -> Option<SecretSource> {
        let value = value.as_ref()?;
        match &value.value {
            // Not a variable's name: perhaps the secret itself, pasted where its name belongs.
            // Masked like a literal secret, so that no output repeats it.
            SecretRef::Env(name) if !is_env_name(name) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::LiteralSecret,
                        format!("{what} names no environment variable: `env` is not a variable name"),
                    )
                    .with_label(self.trimmed(self.span(at, value)), "not a variable name (not shown)")
                    .with_hint(
                        "`env` takes the variable's name (letters, digits and `_`, not starting with a digit); if this was the secret itself, rotate it, since it was committed",
                    ),
                );
                None
            }
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

    pub(crate) fn not_allowed<T>(
        &mut self,
        at: DocOrigin,
        value: &Sp<T>,
        message: String,
        hint: &str,
    ) {
        self.diags.push(
            Diagnostic::error(Code::FieldNotAllowed, message)
                .with_label(self.span(at, value), "not allowed here")
                .with_hint(hint.to_owned()),
        );
    }

    pub(crate) fn presence(state: &Option<Sp<State>>) -> Presence {
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
    pub(crate) fn add(
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
    pub(crate) fn reference(
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

    pub(crate) fn reference_with_hint(
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
        let api_key_env = raw.api_key_env.as_ref().and_then(|e| {
            if is_env_name(&e.value) {
                return Some(e.value.clone());
            }
            // Perhaps the key itself, pasted where its variable's name belongs: masked.
            self.diags.push(
                Diagnostic::error(
                    Code::LiteralSecret,
                    "`api_key_env` names no environment variable: it is not a variable name",
                )
                .with_label(self.trimmed(self.span(at, e)), "not a variable name (not shown)")
                .with_hint(
                    "`api_key_env` takes the name of the variable holding the key (letters, digits and `_`, not starting with a digit); if this was the key itself, rotate it, since it was committed",
                ),
            );
            None
        });
        let api_key_policy = raw.api_key_policy.as_ref().map(|p| ApiKeyPolicy {
            max_age_days: p.max_age_days.as_ref().map(|d| d.value),
            allowed_users: p
                .allowed_users
                .as_ref()
                .map(|users| users.iter().filter_map(|u| self.email(at, u)).collect()),
            allowed_service_accounts: p
                .allowed_service_accounts
                .as_ref()
                .map(|names| names.iter().filter_map(|n| self.name(at, n)).collect()),
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
            .map_or_else(OrgSettings::default, |s| {
                crate::kinds::org::lower(self, at, s)
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

        let members_declared = self.lower_members(cx, raw);
        self.lower_service_accounts(cx, raw);

        macro_rules! lower_org_children {
            ([$lw:expr, $cx:expr, $raw:expr] $($module:ident::$kind:ident($field:ident)),*) => {
                $($lw.lower_org_children::<crate::kinds::$module::$kind>($cx, $raw);)*
            };
        }
        crate::kinds::org_children!(lower_org_children!(self, cx, raw));
        for s in &raw.ai_secrets {
            self.lower_ai_secret(cx, s);
        }
        for e in &raw.env_vars {
            self.lower_env_var(cx, e);
        }
        for g in &raw.grants {
            self.lower_grant(cx, g, members_declared);
        }
    }

    /// The entries of one [`OrgChild`] kind in an org: the name is checked, the kind's module
    /// checks the rest and builds the spec, and the references it names are recorded.
    fn lower_org_children<K: OrgVariant>(&mut self, cx: Cx<'_>, raw: &RawOrg) {
        for entry in K::entries(raw) {
            let header = K::header(entry);
            let Some(name) = self.name(cx.at, header.name) else {
                continue;
            };
            let Some(lowered) = K::lower(self, cx, entry, &name) else {
                continue;
            };
            let key = ResourceKey::in_org(cx.org, K::KIND, lowered.key);
            let span = self.span(cx.at, header.name);
            let Some(key) = self.add(
                cx,
                key,
                K::wrap(lowered.spec),
                span,
                header.state,
                header.protect,
                header.previous_names,
            ) else {
                continue;
            };
            for r in lowered.refs {
                let target = ResourceKey::in_org(cx.org, r.kind, r.name);
                self.refs.push(PendingRef {
                    from: key.clone(),
                    target,
                    span: r.span,
                    what: r.what,
                    hint: r.hint,
                });
            }
        }
    }

    /// Whether the org being lowered declares members (then users named elsewhere must be
    /// among them).
    pub(crate) fn declares_members(&self, cx: Cx<'_>) -> bool {
        self.state
            .resources
            .keys()
            .any(|k| k.org == *cx.org && k.kind == Kind::Member)
    }

    pub(crate) fn relative_path(&mut self, at: DocOrigin, value: &Sp<String>) -> Option<String> {
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

    pub(crate) fn depend_on_project(&mut self, cx: Cx<'_>, key: &ResourceKey, span: Span) {
        if let Some(p) = cx.project {
            self.reference(key, ResourceKey::project(cx.org, p), span, "project");
        }
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

        let protect = raw
            .protect
            .as_ref()
            .or_else(|| template.and_then(|(t, _)| t.protect.as_ref()))
            .map(|p| p.value);
        let key = ResourceKey::project(org, &name);
        let spec = Spec::Project(crate::kinds::project::lower(self, raw, at, &name, template));
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
            crate::kinds::score::lower(self, cx, s);
        }
        for o in &raw.online_scoring {
            crate::kinds::online_scoring::lower(self, cx, o);
        }
        for a in &raw.alerts {
            crate::kinds::alert::lower(self, cx, a);
        }
        for r in &raw.retention {
            crate::kinds::retention::lower(self, cx, r);
        }
        for e in &raw.exports {
            crate::kinds::export::lower(self, cx, e);
        }
        for e in &raw.environment_alerts {
            crate::kinds::environment_alert::lower(self, cx, e);
        }
        for v in &raw.views {
            crate::kinds::view::lower(self, cx, v);
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
        // After the env vars: a provider's name must not be a declared env var's.
        for p in &raw.ai_providers {
            crate::kinds::ai_provider::lower(self, cx, p);
        }
    }

    pub(crate) fn project_key(
        cx: Cx<'_>,
        kind: Kind,
        name: impl Into<String>,
    ) -> Option<ResourceKey> {
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

    // ---- references ------------------------------------------------------------------------

    /// Whether a score name is written by a scorer of one of the project's online-scoring
    /// rules (a built-in by name, or a function by slug).
    fn scorer_output(&self, score: &ResourceKey) -> bool {
        self.state
            .resources
            .values()
            .filter(|r| r.key.org == score.org && r.key.project == score.project)
            .any(|r| match &r.spec {
                Spec::OnlineScoring(o) => o.scorers.iter().any(|f| match f {
                    FunctionRef::Global { name, .. } => *name == score.name,
                    FunctionRef::Project { slug, .. } => *slug == score.name,
                }),
                _ => false,
            })
    }

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
                        // A member leaves through `removed_members`, not `state: absent`.
                        let (marked, here, hint) = if r.target.kind == Kind::Member {
                            (
                                "is listed in `removed_members`",
                                "listed in `removed_members` here",
                                "remove the reference, or take the email out of `removed_members`",
                            )
                        } else {
                            (
                                "is marked `state: absent`",
                                "marked absent here",
                                "remove the reference, or keep the object",
                            )
                        };
                        self.diags.push(
                            Diagnostic::error(
                                Code::UnresolvedReference,
                                format!(
                                    "{} refers to {}, which {marked}",
                                    describe_short(&r.from),
                                    describe(&r.target)
                                ),
                            )
                            .with_label(r.span, format!("{} to be deleted", r.what))
                            .with_label(target.span, here)
                            .with_hint(hint),
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
                // Likewise an environment an environment alert watches: an undeclared one is
                // looked up live when planning (`kinds::environment_alert::unresolved`).
                None if r.target.kind == Kind::Environment
                    && r.from.kind == Kind::EnvironmentAlert => {}
                // An aggregate score may combine what a scorer of the project's online rules
                // writes (`Factuality`), which is not a declared project score.
                None if r.target.kind == Kind::Score && self.scorer_output(&r.target) => {}
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

pub(crate) fn slugify(name: &str) -> String {
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

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting with
/// a digit.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
