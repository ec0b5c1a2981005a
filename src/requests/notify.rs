//! Art. 19 GDPR: a rectification, erasure or restriction is told to each recipient *to whom the
//! person's data was disclosed*, never to parties that did not have it (gdpr-rules.md section 1,
//! notification). The checklist cannot know where the person's data is, so it lists every
//! recipient of the catalog; once the tasks on every system a recipient's activities use have
//! run and found nothing of the person, that recipient's task is closed as not applicable.

use super::case::Case;
use super::run::Runner;
use super::tasks::store_task;
use super::RequestService;
use crate::audit::Change;
use crate::db::models::kept::findings_of;
use crate::db::DbConnection;
use crate::error::Result;
use crate::vocabulary::{TaskKind, TaskState};
use std::collections::{BTreeMap, BTreeSet};

/// The tasks that search a system for the person's data and act on it.
const SEARCHING: [TaskKind; 4] = [
    TaskKind::EraseData,
    TaskKind::KeepUnderException,
    TaskKind::RestrictData,
    TaskKind::CorrectData,
];

impl RequestService {
    /// Closes the open notification tasks of recipients whose systems held nothing of the
    /// person, as found by the tasks run on them.
    pub(super) fn settle_notifications(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        runner: &Runner,
    ) -> Result<()> {
        // Access and portability requests have no notification tasks: nothing to read for them.
        let open_notification = case
            .open_tasks()
            .any(|task| task.kind == TaskKind::NotifyRecipient);
        if !open_notification {
            return Ok(());
        }
        let found = self.found_per_system(conn, case)?;
        let catalog = self.catalog.get(conn)?;
        for index in 0..case.tasks.len() {
            let task = &case.tasks[index];
            if task.kind != TaskKind::NotifyRecipient || task.state != TaskState::Open {
                continue;
            }
            let Some(name) = task.recipient.clone() else {
                continue;
            };
            let systems: BTreeSet<&str> = catalog
                .activities
                .iter()
                .filter(|activity| activity.recipients.iter().any(|r| r.name == name))
                .flat_map(|activity| activity.systems.iter().map(String::as_str))
                .collect();
            let none_found = !systems.is_empty()
                && systems
                    .iter()
                    .all(|system| found.get(*system) == Some(&false));
            if !none_found {
                continue;
            }
            let mut task = task.clone();
            let systems = systems.into_iter().collect::<Vec<_>>().join(", ");
            let note = format!(
                "Not applicable (Art. 19 GDPR): nothing of the person was found in {systems}, so no data of theirs went to {name}"
            );
            self.set_task_state(
                &mut task,
                TaskState::NotApplicable,
                Some(&note),
                &runner.name,
            );
            store_task(conn, &mut task)?;
            crate::audit::record(
                conn,
                &runner.actor,
                Change {
                    action: "request.task.not_applicable",
                    object_type: "request",
                    object_id: &case.row.reference,
                    summary: format!(
                        "task {} (notify_recipient, {name}) not applicable: no data found in {systems}",
                        task.position + 1
                    ),
                },
            )?;
            case.tasks[index] = task;
        }
        Ok(())
    }

    /// Per system searched by a done task: whether the person's data was found there. A task
    /// done by hand says nothing about rows, so it counts as found.
    fn found_per_system(
        &self,
        conn: &mut DbConnection,
        case: &Case,
    ) -> Result<BTreeMap<String, bool>> {
        let findings = findings_of(conn, case.id())?;
        let mut found: BTreeMap<String, bool> = BTreeMap::new();
        for task in &case.tasks {
            let searching = SEARCHING.contains(&task.kind);
            let (true, Some(system)) =
                (searching && task.state == TaskState::Done, &task.system_key)
            else {
                continue;
            };
            let rows: Vec<i64> = findings
                .iter()
                .filter(|(id, on, _)| id == &task.id && on == system)
                .map(|(_, _, rows)| *rows)
                .collect();
            let here = rows.is_empty() || rows.iter().any(|n| *n > 0);
            *found.entry(system.clone()).or_default() |= here;
        }
        Ok(found)
    }
}
