//! PagerDuty's steps: trigger, acknowledge and resolve the case's incident. The dedup key is
//! the case id, so PagerDuty itself makes a repeat harmless and none needs a crash lookup.
//! Without a PagerDuty client they do nothing (a page says so on the timeline).

use chrono::{DateTime, Utc};

use crate::case::Case;
use crate::pipeline::engine::{Engine, StepError};
use crate::render;

/// Pages on-call.
pub(super) async fn page(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if let Some(pd) = &engine.vendors.pagerduty {
        pd.trigger(&render::pagerduty::trigger(case)).await?;
        case.paged(now);
    } else {
        case.note(now, None, "PagerDuty is not configured; nobody was paged");
    }
    Ok(())
}

/// Acknowledges the incident (an analyst took the case).
pub(super) async fn acknowledge(engine: &Engine, case: &Case) -> Result<(), StepError> {
    if let Some(pd) = &engine.vendors.pagerduty {
        pd.acknowledge(case.id.as_str()).await?;
    }
    Ok(())
}

/// Resolves the incident (the case was resolved).
pub(super) async fn resolve(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if let Some(pd) = &engine.vendors.pagerduty {
        pd.resolve(case.id.as_str()).await?;
        case.note(now, None, "PagerDuty incident resolved");
    }
    Ok(())
}
