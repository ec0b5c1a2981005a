//! Who may do what: staff accounts, their roles, password checks and the signed tokens the API
//! accepts. The permission matrix lives here, in one place, so every route asks the same question.

pub mod guard;
pub mod password;
pub mod token;
pub mod users;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use token::{Claims, TokenError, TokenService};
pub use users::{NewUser, User, UserService};

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Customer-service agent: registers and works requests.
    Agent,
    /// An outsourced first-line agent (a partner team): registers requests, records identity
    /// checks and follows their status, for their own team's requests only; never sees packages,
    /// connector results or the rest of a request's file.
    PartnerAgent,
    /// Privacy officer: owns the catalog and policies, approves refusals, reads the audit trail.
    PrivacyOfficer,
    /// Administrator: everything a privacy officer may, plus managing accounts.
    Admin,
    /// A machine account for automated work such as retention sweeps.
    Service,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Agent,
        Role::PartnerAgent,
        Role::PrivacyOfficer,
        Role::Admin,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::PartnerAgent => "partner_agent",
            Role::PrivacyOfficer => "privacy_officer",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }

    /// The permission matrix.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::PrivacyOfficer => !matches!(permission, ManageUsers | ManageWebhooks),
            Role::Agent => matches!(
                permission,
                ReadCatalog
                    | ReadRequests
                    | WorkRequests
                    | RegisterRequests
                    | ReadRequestStatus
                    | ReadGuide
            ),
            Role::PartnerAgent => {
                matches!(permission, RegisterRequests | ReadRequestStatus | ReadGuide)
            }
            Role::Service => matches!(permission, ReadCatalog | RecordAudit),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}' (expected agent, partner_agent, privacy_officer, admin or service)")
            })
    }
}

/// What a route needs. Routes ask for a permission, never for a role, so the matrix above is the
/// only place that decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadCatalog,
    EditCatalog,
    /// The request queue, a request's file and the statistics.
    ReadRequests,
    /// Registering requests and working them: tasks, pauses, letters, proposing an outcome.
    WorkRequests,
    /// Registering a request (one or several kinds from one call) and recording the identity
    /// check: what a first-line partner may do.
    RegisterRequests,
    /// The queue and a request's status (for a partner: of their own team's requests only).
    ReadRequestStatus,
    /// The agent's guide: what to say, what to register, when to hand over.
    ReadGuide,
    /// Approving (or sending back) a proposed outcome, above all a refusal.
    ApproveRequests,
    ReadRegister,
    /// Keeping a snapshot of the readiness report, the trend the board is shown.
    KeepReadinessSnapshots,
    ReadAudit,
    /// Appending events on behalf of automated jobs.
    RecordAudit,
    /// Legal holds and the record of retention sweeps.
    ManageRetention,
    ManageUsers,
    /// Outgoing webhook subscriptions and their deliveries: administrators only, as the
    /// subscriptions decide where loket sends what.
    ManageWebhooks,
}
