//! The first line (issue 21): one call registers several kinds of request at once, linked, in
//! one transaction; and an outsourced partner agent sees only the requests their own team
//! registered, and of those only the status — never the file, connector results or packages.

use super::intake::NewRequest;
use super::view::RequestView;
use super::{RequestService, Staff};
use crate::auth::{Role, User};
use crate::db::models::first_line as calls;
use crate::error::{Error, FieldError, Result};
use crate::ids::RequestId;
use crate::vocabulary::{RequestKind, RequestState};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Whose requests a member of staff may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// The organisation's own staff: every request.
    All,
    /// A partner agent: the requests registered by this team, status only.
    Team(String),
}

impl Visibility {
    pub fn of(user: &User) -> Visibility {
        match (user.role, &user.team) {
            (Role::PartnerAgent, Some(team)) => Visibility::Team(team.clone()),
            // A partner account without a team sees nothing rather than everything.
            (Role::PartnerAgent, None) => Visibility::Team(String::new()),
            _ => Visibility::All,
        }
    }

    /// The team to narrow a queue to.
    pub fn team(&self) -> Option<String> {
        match self {
            Visibility::All => None,
            Visibility::Team(team) => Some(team.clone()),
        }
    }
}

/// What a partner agent sees of a request: where it stands, never what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct RequestStatus {
    pub id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub channel: String,
    pub state: RequestState,
    pub received_at: NaiveDateTime,
    pub due_on: NaiveDate,
    pub overdue: bool,
    pub identity_verified: bool,
    pub verification_method: Option<String>,
    pub verified_by: Option<String>,
    pub created_by: String,
    pub version: i32,
    /// The references of the other requests registered in the same call.
    pub same_call: Vec<String>,
}

impl RequestStatus {
    fn of(view: &RequestView, same_call: Vec<String>) -> Self {
        RequestStatus {
            id: view.id.clone(),
            reference: view.reference.clone(),
            kind: view.kind,
            channel: view.channel.clone(),
            state: view.state,
            received_at: view.received_at,
            due_on: view.due_on,
            overdue: view.overdue,
            identity_verified: view.identity_verified,
            verification_method: view.verification_method.clone(),
            verified_by: view.verified_by.clone(),
            created_by: view.created_by.clone(),
            version: view.version,
            same_call,
        }
    }
}

/// The most kinds one call registers: every right once.
const MAX_KINDS: usize = 7;

/// `POST /api/v1/requests/calls`: the fields of a new request, with `kinds` instead of `kind`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCall {
    pub kinds: Vec<RequestKind>,
    #[serde(flatten)]
    pub request: serde_json::Map<String, serde_json::Value>,
}

impl NewCall {
    /// One request per kind, each checked as a single registration is; every error at once.
    fn requests(mut self) -> Result<Vec<NewRequest>> {
        let mut errors = Vec::new();
        if self.kinds.is_empty() {
            errors.push(FieldError::new(
                "kinds",
                "name at least one kind of request",
            ));
        }
        if self.kinds.len() > MAX_KINDS {
            errors.push(FieldError::new("kinds", "at most one request per kind"));
        }
        let mut seen = std::collections::BTreeSet::new();
        if self.kinds.iter().any(|kind| !seen.insert(kind.as_str())) {
            errors.push(FieldError::new("kinds", "each kind once"));
        }
        if self.request.contains_key("kind") {
            errors.push(FieldError::new("kind", "give the kinds as `kinds`"));
        }
        crate::error::all_valid(errors)?;
        self.kinds
            .iter()
            .map(|kind| {
                self.request
                    .insert("kind".into(), serde_json::Value::from(kind.as_str()));
                serde_json::from_value::<NewRequest>(serde_json::Value::Object(
                    self.request.clone(),
                ))
                .map_err(|e| Error::Invalid(vec![FieldError::new("request", e.to_string())]))
            })
            .collect()
    }
}

impl RequestService {
    /// Registers one request per kind the caller asked for, linked as one call, in one
    /// transaction: either all are registered (each with its deadline, checklist and receipt
    /// confirmation) or none.
    #[tracing::instrument(skip_all)]
    pub async fn register_call(&self, staff: Staff, call: NewCall) -> Result<Vec<RequestView>> {
        let now = crate::db::now();
        let requests = call
            .requests()?
            .into_iter()
            .map(|new| new.validate(now))
            .collect::<Result<Vec<_>>>()?;
        let service = self.clone();
        let views = self
            .store
            .write(move |conn| {
                let call_id = crate::ids::new_id();
                let mut views = Vec::new();
                for new in &requests {
                    let view = service.register_in(conn, &staff, new, now)?;
                    calls::link_to_call(conn, &view.id, &call_id)?;
                    views.push(view);
                }
                let references: Vec<&str> = views.iter().map(|v| v.reference.as_str()).collect();
                crate::audit::record(
                    conn,
                    &staff.actor(),
                    crate::audit::Change {
                        action: "request.call_registered",
                        object_type: "call",
                        object_id: &call_id,
                        summary: format!(
                            "{} requests registered from one call: {}",
                            views.len(),
                            references.join(", ")
                        ),
                    },
                )?;
                Ok::<_, Error>(views)
            })
            .await?;
        (self.mail_queued)();
        for view in views.iter().filter(|v| v.identity_verified) {
            self.run_automatically(&view.id);
        }
        Ok(views)
    }

    /// Refuses (403) a request another partner team registered; own staff see every request.
    pub async fn check_visible(
        &self,
        visibility: &Visibility,
        request_id: RequestId,
    ) -> Result<()> {
        let Visibility::Team(team) = visibility else {
            return Ok(());
        };
        let owner = self
            .store
            .read(move |conn| Ok::<_, Error>(calls::team_of_request(conn, &request_id)?))
            .await?;
        if owner.as_deref() == Some(team.as_str()) && !team.is_empty() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "this request was registered by another team".into(),
            ))
        }
    }

    /// A request's status, as a partner agent sees it.
    pub async fn status(&self, request_id: RequestId) -> Result<RequestStatus> {
        let view = self.get(request_id.clone()).await?;
        let same_call = self.same_call(request_id).await?;
        Ok(RequestStatus::of(
            &view,
            same_call.into_iter().map(|(_, r)| r).collect(),
        ))
    }

    /// The id and reference of the requests registered in the same call.
    pub async fn same_call(&self, request_id: RequestId) -> Result<Vec<(String, String)>> {
        self.store
            .read(move |conn| Ok::<_, Error>(calls::same_call(conn, &request_id)?))
            .await
    }
}
