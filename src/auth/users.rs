//! Staff accounts: creating, listing, disabling, and checking a password.

use super::guard::{Key, Lockout, Refusal, SignInGuard};
use super::{password, Role};
use crate::audit::{self, Actor, Change};
use crate::db::models::users::UserRow;
use crate::db::notices::{ChangeNotices, Token, Topic};
use crate::db::{DbConnection, Store};
use crate::error::{ConflictCode, Error, FieldError, Result};
use crate::ids::{UserId, Username};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An account as the rest of loket sees it: never with its password hash.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// Tokens and sessions carry the epoch they were issued in; any other epoch is revoked.
    #[serde(skip)]
    pub session_epoch: i64,
    /// The partner team of a `partner_agent`: they see only the requests their team registered.
    pub team: Option<String>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(row: UserRow) -> Result<Self> {
        let role = row
            .role
            .parse()
            .map_err(|e: String| anyhow::anyhow!("user {}: {e}", row.id))?;
        Ok(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
            session_epoch: row.session_epoch,
            team: row.team,
        })
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
    /// Required for a `partner_agent` (the outsourcing partner's name), refused for others.
    #[serde(default)]
    pub team: Option<String>,
}

impl NewUser {
    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let Err(message) = check_username(&self.username) {
            errors.push(FieldError::new("username", message));
        }
        if let Some(name) = &self.display_name {
            if name.chars().count() > 200 {
                errors.push(FieldError::new(
                    "display_name",
                    "must be at most 200 characters",
                ));
            }
        }
        errors.extend(check_team(self.role, self.team.as_deref()));
        let length = self.password.chars().count();
        if length < password::MIN_LENGTH {
            errors.push(FieldError::new(
                "password",
                format!("must be at least {} characters", password::MIN_LENGTH),
            ));
        } else if length > password::MAX_LENGTH {
            errors.push(FieldError::new(
                "password",
                format!("must be at most {} characters", password::MAX_LENGTH),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(errors))
        }
    }
}

/// A partner agent needs a team (it decides which requests they see); own staff have none, so a
/// team never narrows an officer's view by accident.
fn check_team(role: Role, team: Option<&str>) -> Option<FieldError> {
    let team = team.map(str::trim).filter(|t| !t.is_empty());
    match (role, team) {
        (Role::PartnerAgent, None) => Some(FieldError::new(
            "team",
            "a partner_agent needs the name of their partner team",
        )),
        (Role::PartnerAgent, Some(t)) if t.chars().count() > 100 => {
            Some(FieldError::new("team", "must be at most 100 characters"))
        }
        (Role::PartnerAgent, Some(_)) => None,
        (_, Some(_)) => Some(FieldError::new(
            "team",
            "only a partner_agent belongs to a partner team",
        )),
        (_, None) => None,
    }
}

/// Usernames are lower-case so that `Anna` and `anna` cannot be two accounts.
fn check_username(username: &str) -> std::result::Result<(), &'static str> {
    let valid_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let starts_well = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if username.len() < 2 || username.len() > 64 || !valid_chars || !starts_well {
        Err("must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    } else {
        Ok(())
    }
}

/// Account operations over the store.
#[derive(Debug, Clone)]
pub struct UserService {
    store: Store,
    guard: SignInGuard,
    active: ActiveAccounts,
}

/// Accounts as every call checks them, kept while the store's notices say no account changed
/// (see [`crate::db::notices`]): on PostgreSQL that check was a round trip of every call.
#[derive(Debug, Clone, Default)]
struct ActiveAccounts(Arc<Mutex<HashMap<UserId, (Token, User)>>>);

/// Accounts kept at most; past it the copies start over (a desk has tens of accounts).
const ACCOUNTS_KEPT: usize = 10_000;

impl ActiveAccounts {
    fn get(&self, notices: &ChangeNotices, id: &UserId) -> Option<User> {
        let kept = self.lock();
        let (token, user) = kept.get(id)?;
        notices
            .is_current(Topic::Users, *token)
            .then(|| user.clone())
    }

    fn keep(&self, token: Token, user: &User) {
        let mut kept = self.lock();
        if kept.len() >= ACCOUNTS_KEPT {
            kept.clear();
        }
        kept.insert(user.id.clone(), (token, user.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (Token, User)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl UserService {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            guard: SignInGuard::default(),
            active: ActiveAccounts::default(),
        }
    }

    /// The same accounts, with sign-ins bounded and throttled by `guard`.
    pub fn with_guard(mut self, guard: SignInGuard) -> Self {
        self.guard = guard;
        self
    }

    pub async fn create(&self, actor: Actor, new: NewUser) -> Result<User> {
        new.validate()?;
        self.store
            .write_changing(Topic::Users, move |conn| {
                if UserRow::find_by_username(conn, &new.username)?.is_some() {
                    return Err(Error::conflict(
                        ConflictCode::Exists,
                        format!("user '{}' already exists", new.username),
                    ));
                }
                let now = crate::db::now();
                let row = UserRow {
                    id: UserId::generate(),
                    display_name: new
                        .display_name
                        .clone()
                        .unwrap_or_else(|| new.username.clone()),
                    username: new.username.clone().into(),
                    password_hash: password::hash(&new.password)
                        .context("password hashing failed")?,
                    role: new.role.as_str().to_string(),
                    active: true,
                    created_at: now,
                    updated_at: now,
                    session_epoch: 0,
                    team: new
                        .team
                        .as_deref()
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                };
                row.insert(conn)?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "user.created",
                        object_type: "user",
                        object_id: &row.id,
                        summary: format!(
                            "account '{}' created with role {}",
                            row.username, row.role
                        ),
                    },
                )?;
                User::try_from(row)
            })
            .await
    }

    pub async fn list(&self) -> Result<Vec<User>> {
        self.store
            .read(|conn| {
                UserRow::list(conn)?
                    .into_iter()
                    .map(User::try_from)
                    .collect()
            })
            .await
    }

    pub async fn count(&self) -> Result<i64> {
        Ok(self.store.read(UserRow::count).await?)
    }

    /// The account behind a token, if it still exists and is active: the copy kept since it
    /// was last read while no account changed, else read (and kept while none changes).
    pub async fn find_active(&self, id: UserId) -> Result<Option<User>> {
        let notices = self.store.notices();
        if let Some(user) = self.active.get(notices, &id) {
            return Ok(Some(user));
        }
        let token = notices.token(Topic::Users);
        let found = self
            .store
            .read(move |conn| {
                UserRow::find(conn, &id)?
                    .filter(|row| row.active)
                    .map(User::try_from)
                    .transpose()
            })
            .await?;
        if let (Some(token), Some(user)) = (token, &found) {
            self.active.keep(token, user);
        }
        Ok(found)
    }

    /// Checks a username and password sent from `address`; any mismatch, unknown or disabled
    /// account is the same error. A locked-out account or address is refused before any hash is
    /// computed, and the check itself runs in the bounded hashing pool, holding no database
    /// connection while it runs.
    pub async fn authenticate(
        &self,
        username: String,
        password: String,
        address: String,
    ) -> Result<User> {
        let account = Key::Account(username.clone());
        let keys = [account.clone(), Key::Address(address)];
        self.guard.check(&keys).map_err(refused)?;
        let row = {
            let username = username.clone();
            self.store
                .read(move |conn| UserRow::find_by_username(conn, &username))
                .await?
        };
        let stored = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_string());
        let matches = self
            .guard
            .hash(move || password::verify(&password, &stored))
            .await
            .map_err(refused)?;
        match row {
            Some(row) if matches && row.active => {
                self.guard.succeeded(&account);
                User::try_from(row)
            }
            _ => {
                let lockouts = self.guard.failed(&keys);
                self.audit_lockouts(lockouts).await?;
                Err(Error::InvalidCredentials)
            }
        }
    }

    async fn audit_lockouts(&self, lockouts: Vec<Lockout>) -> Result<()> {
        if lockouts.is_empty() {
            return Ok(());
        }
        self.store
            .write(move |conn| {
                for lockout in &lockouts {
                    let (object_type, object_id) = match &lockout.key {
                        Key::Account(username) => ("account", username.as_str()),
                        Key::Address(address) => ("address", address.as_str()),
                    };
                    tracing::warn!(object_type, seconds = lockout.seconds, "sign-in locked out");
                    audit::record(
                        conn,
                        &Actor::System("sign-in"),
                        Change {
                            action: "auth.locked_out",
                            object_type,
                            object_id,
                            summary: format!(
                                "{} locked out for {} s after {} failed sign-ins",
                                lockout.key.describe(),
                                lockout.seconds,
                                lockout.failures
                            ),
                        },
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Revokes every token and session of the account (signing out everywhere).
    pub async fn revoke_sessions(&self, actor: Actor, id: UserId) -> Result<()> {
        self.store
            .write_changing(Topic::Users, move |conn| {
                let row = UserRow::find(conn, &id)?
                    .ok_or_else(|| Error::not_found(format!("user {id}")))?;
                UserRow::bump_session_epoch(conn, &row.id)?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "user.signed_out",
                        object_type: "user",
                        object_id: &row.id,
                        summary: format!("account '{}' signed out everywhere", row.username),
                    },
                )?;
                Ok(())
            })
            .await
    }

    /// Gives an account another role; its tokens and sessions stop working at once.
    pub async fn set_role(&self, actor: Actor, username: String, role: Role) -> Result<User> {
        self.store
            .write_changing(Topic::Users, move |conn| {
                let mut row = find_row(conn, &username)?;
                if row.role == role.as_str() {
                    return User::try_from(row);
                }
                if row.active && row.role == Role::Admin.as_str() {
                    refuse_last_admin(conn, &row.id)?;
                }
                let before = std::mem::replace(&mut row.role, role.as_str().to_string());
                row.updated_at = crate::db::now();
                row.session_epoch += 1;
                row.update(conn)?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "user.role_changed",
                        object_type: "user",
                        object_id: &row.id,
                        summary: format!(
                            "account '{}' changed from role {before} to {}",
                            row.username, row.role
                        ),
                    },
                )?;
                User::try_from(row)
            })
            .await
    }

    /// Sets where the account gets its reminder digest (`""` removes the address) and the
    /// language it reads (`nl` or `en`). Audited without the address.
    pub async fn set_contact(
        &self,
        actor: Actor,
        username: String,
        email: Option<String>,
        language: Option<String>,
    ) -> Result<User> {
        let email = email.map(|e| e.trim().to_string());
        let mut errors = Vec::new();
        if let Some(address) = email.as_deref().filter(|a| !a.is_empty()) {
            let plausible = address.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.ends_with('.')
            });
            if !plausible || address.len() > 254 || address.chars().any(char::is_whitespace) {
                errors.push(FieldError::new("email", "must be an e-mail address"));
            }
        }
        if language.as_deref().is_some_and(|l| l != "nl" && l != "en") {
            errors.push(FieldError::new("language", "must be nl or en"));
        }
        crate::error::all_valid(errors)?;
        self.store
            .write_changing(Topic::Users, move |conn| {
                let row = find_row(conn, &username)?;
                let address = email.as_deref().map(|a| Some(a).filter(|a| !a.is_empty()));
                crate::db::models::users::set_contact(
                    conn,
                    &username,
                    address,
                    language.as_deref(),
                    crate::db::now(),
                )?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "user.contact_changed",
                        object_type: "user",
                        object_id: &row.id,
                        summary: format!(
                            "account '{}': reminder address or language changed",
                            row.username
                        ),
                    },
                )?;
                User::try_from(find_row(conn, &username)?)
            })
            .await
    }

    /// Enables or disables an account. A disabled account's tokens stop working at once, and
    /// stay revoked when it is enabled again.
    pub async fn set_active(&self, actor: Actor, username: String, active: bool) -> Result<User> {
        self.store
            .write_changing(Topic::Users, move |conn| {
                let mut row = find_row(conn, &username)?;
                if row.active == active {
                    return User::try_from(row);
                }
                if !active && row.role == Role::Admin.as_str() {
                    refuse_last_admin(conn, &row.id)?;
                }
                row.active = active;
                row.updated_at = crate::db::now();
                row.session_epoch += 1;
                row.update(conn)?;
                let verb = if active { "enabled" } else { "disabled" };
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: if active {
                            "user.enabled"
                        } else {
                            "user.disabled"
                        },
                        object_type: "user",
                        object_id: &row.id,
                        summary: format!("account '{}' {verb}", row.username),
                    },
                )?;
                User::try_from(row)
            })
            .await
    }
}

fn refused(refusal: Refusal) -> Error {
    match refusal {
        Refusal::LockedOut { retry_after_secs } => Error::TooManyAttempts { retry_after_secs },
        Refusal::Busy { retry_after_secs } => Error::Busy { retry_after_secs },
    }
}

fn find_row(conn: &mut DbConnection, username: &str) -> Result<UserRow> {
    UserRow::find_by_username(conn, username)?
        .ok_or_else(|| Error::not_found(format!("user '{username}'")))
}

/// Nobody could manage accounts any more if the last active admin were disabled.
fn refuse_last_admin(conn: &mut DbConnection, disabling_id: &UserId) -> Result<()> {
    let other_admins = UserRow::list(conn)?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Admin.as_str() && u.id != *disabling_id)
        .count();
    if other_admins == 0 {
        Err(Error::conflict(
            ConflictCode::Other,
            "this is the last active admin; add another admin before disabling it",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_username;

    #[test]
    fn usernames() {
        assert!(check_username("anna").is_ok());
        assert!(check_username("j.de-vries_2").is_ok());
        assert!(check_username("Anna").is_err());
        assert!(check_username("a").is_err());
        assert!(check_username("-anna").is_err());
        assert!(check_username("anna smit").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
    }
}
