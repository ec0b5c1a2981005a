//! Data-subject requests: intake, the legal deadline, the lifecycle, the checklist and the letters.

pub mod checklist;
pub mod deadline;
pub mod model;
pub mod requester;
