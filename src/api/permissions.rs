//! Authorisation first: which permission each staff route needs, checked by a middleware before
//! the route reads its body or the store. So a caller without the role gets 403 whatever they
//! send and whatever state the object is in, and the answer reveals nothing about either.
//! Handlers still ask for their permission too (a route left out here stays protected).

use super::auth::CurrentUser;
use crate::auth::Permission;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage};

/// The permission a route needs, by its pattern (as registered, with the `/api/v1` prefix) and
/// method; `None` for routes anyone may call (signing in, the public routes) or that check
/// something else (signing out needs only a valid token).
pub fn route_permission(method: &Method, pattern: &str) -> Option<Permission> {
    let route = pattern.strip_prefix("/api/v1")?;
    let reads = matches!(*method, Method::GET | Method::HEAD);
    let by_method = |read, write| Some(if reads { read } else { write });
    let area = route.trim_start_matches('/').split('/').next()?;
    match area {
        "users" => Some(Permission::ManageUsers),
        "webhooks" => Some(Permission::ManageWebhooks),
        "catalog" => by_method(Permission::ReadCatalog, Permission::EditCatalog),
        "ropa" => Some(Permission::ReadRegister),
        "audit" => Some(Permission::ReadAudit),
        "retention" => Some(Permission::ManageRetention),
        // A preview changes nothing; whoever may read the request may see its letters.
        "requests" if route.ends_with("/letters/preview") => Some(Permission::ReadRequests),
        // What a first-line partner may do; the handlers narrow it to their team's requests.
        "requests" if first_line(method, route) => {
            by_method(Permission::ReadRequestStatus, Permission::RegisterRequests)
        }
        "guide" => Some(Permission::ReadGuide),
        // Reading the report is reading the register; keeping a snapshot (the trend the board
        // sees) is the privacy officer's.
        "readiness" => by_method(Permission::ReadRegister, Permission::KeepReadinessSnapshots),
        "requests" | "stats" => by_method(Permission::ReadRequests, Permission::WorkRequests),
        _ => None,
    }
}

/// The routes of the first line (issue 21): registering (one or several kinds from one call),
/// the identity check, the queue and one request's status. Everything else about a request
/// (tasks, connector runs, letters, packages) needs the full agent's permissions.
fn first_line(method: &Method, route: &str) -> bool {
    matches!(
        (method.as_str(), route),
        ("GET" | "HEAD", "/requests" | "/requests/{id}")
            | (
                "POST",
                "/requests" | "/requests/calls" | "/requests/{id}/identity"
            )
    )
}

/// Middleware: authenticates and authorises a staff route before anything else runs; the
/// signed-in user is kept for the handler, so the account is read once.
pub async fn authorise_first(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let needed = request
        .match_pattern()
        .and_then(|pattern| route_permission(request.method(), &pattern));
    if let Some(permission) = needed {
        let user = CurrentUser::from_request(request.request(), &mut Payload::None).await?;
        user.require(permission)?;
        request.extensions_mut().insert(user);
    }
    next.call(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    /// The roles that may do what `method pattern` needs.
    fn allowed(method: Method, pattern: &str) -> Vec<Role> {
        let permission = route_permission(&method, pattern).expect("a staff route");
        Role::ALL
            .into_iter()
            .filter(|role| role.allows(permission))
            .collect()
    }

    #[test]
    fn only_privacy_officers_and_admins_read_the_readiness_report_or_keep_its_snapshots() {
        let officers = [Role::PrivacyOfficer, Role::Admin];
        assert_eq!(allowed(Method::GET, "/api/v1/readiness"), officers);
        assert_eq!(
            allowed(Method::GET, "/api/v1/readiness/snapshots"),
            officers
        );
        assert_eq!(
            route_permission(&Method::POST, "/api/v1/readiness/snapshots"),
            Some(Permission::KeepReadinessSnapshots)
        );
        assert_eq!(
            allowed(Method::POST, "/api/v1/readiness/snapshots"),
            officers
        );
    }

    #[test]
    fn every_agent_reads_the_guide() {
        assert_eq!(
            allowed(Method::GET, "/api/v1/guide/{kind}"),
            [
                Role::Agent,
                Role::PartnerAgent,
                Role::PrivacyOfficer,
                Role::Admin
            ]
        );
    }
}
