//! What scores and online-scoring rules share: both are project scores on
//! `/v1/project_score` (a rule is a score of type `online`), in one list and one name space per
//! project. This module holds that shared part (the request bodies' common header, telling a
//! list item's kind by its type); each kind's own part is in `score` and `online_scoring`,
//! whose lowering also checks the shared name space (scores are lowered first). The scaffolds
//! call these plain functions: the two kinds share one API list, so they do not fit
//! [`super::ProjectChild`].

use super::{BodyError, Ids, online_scoring, score};
use crate::model::{Kind, ProjectName, Spec};
use crate::refs::References;
use crate::wire::{
    self, Id, ProjectScoreBody, ProjectScoreCategories, ProjectScoreConfigBody,
    ProjectScorePatchBody, ProjectScoreType,
};

/// What a score or an online-scoring rule sends besides its name and project.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreParts {
    pub score_type: ProjectScoreType,
    pub description: Option<String>,
    pub categories: Option<ProjectScoreCategories>,
    pub config: Option<ProjectScoreConfigBody>,
}

/// The body parts of a score or online-scoring rule.
///
/// # Errors
/// For another spec, or when the body cannot be built yet (see [`online_scoring::body`]).
pub fn parts(spec: &Spec, ids: &dyn Ids) -> Result<ScoreParts, BodyError> {
    match spec {
        Spec::Score(s) => Ok(score::body(s)),
        Spec::OnlineScoring(o) => online_scoring::body(o, ids),
        _ => Err(BodyError::Unresolved("not a score".into())),
    }
}

/// The create (PUT) body of a score or rule named `name` in the project `project_id`.
#[must_use]
pub fn create(p: ScoreParts, project_id: Id, name: &str) -> ProjectScoreBody {
    ProjectScoreBody {
        score_type: p.score_type,
        description: p.description,
        categories: p.categories,
        config: p.config,
        project_id,
        name: name.to_owned(),
    }
}

/// The PATCH body; `rename` is the new name when the object is renamed.
#[must_use]
pub fn patch(p: ScoreParts, rename: Option<String>) -> ProjectScorePatchBody {
    ProjectScorePatchBody {
        score_type: p.score_type,
        description: p.description,
        categories: p.categories,
        config: p.config,
        name: rename,
    }
}

/// The kind and spec of a list item in the project `project`; `None` for an online rule
/// without its config, and for a minimum or maximum score whose categories are not a list of
/// score names (J10: the spec documents that shape for minimum only).
#[must_use]
pub fn read(
    s: &wire::ProjectScore,
    project: &ProjectName,
    refs: &References,
) -> Option<(Kind, Spec)> {
    if names_of_another_shape(s) {
        return None;
    }
    if s.score_type == ProjectScoreType::Online {
        return online_scoring::read(s, project, refs)
            .map(|o| (Kind::OnlineScoring, Spec::OnlineScoring(o)));
    }
    Some((Kind::Score, Spec::Score(score::read(s))))
}

/// Why [`read`] does not manage a project score: an online rule without its online config.
pub const UNMANAGED_REASON: &str = "an online score without `config.online`";

/// Whether a minimum or maximum score's categories hold something other than a list of score
/// names (an empty list reads as no names).
fn names_of_another_shape(s: &wire::ProjectScore) -> bool {
    matches!(
        s.score_type,
        ProjectScoreType::Minimum | ProjectScoreType::Maximum
    ) && match &s.categories {
        Some(ProjectScoreCategories::Weighted(_)) => true,
        Some(ProjectScoreCategories::Categorical(items)) => !items.is_empty(),
        _ => false,
    }
}

/// Why [`read`] does not manage the project score `s`.
#[must_use]
pub fn unmanaged_reason(s: &wire::ProjectScore) -> String {
    if names_of_another_shape(s) {
        "a minimum or maximum score whose `categories` are not a list of score names".into()
    } else {
        UNMANAGED_REASON.into()
    }
}
