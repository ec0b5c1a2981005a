//! Staff accounts: creating, listing, disabling, and checking a password.

use super::{password, Role};
use crate::audit::{self, Actor, Change};
use crate::db::models::users::UserRow;
use crate::db::{DbConnection, Store};
use crate::error::{Error, FieldError, Result};
use serde::{Deserialize, Serialize};

/// An account as the rest of loket sees it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(row: UserRow) -> Result<Self> {
        let role = row
            .role
            .parse()
            .map_err(|e: String| Error::Internal(format!("user {}: {e}", row.id)))?;
        Ok(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
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
}

impl UserService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn create(&self, actor: Actor, new: NewUser) -> Result<User> {
        new.validate()?;
        self.store
            .write(move |conn| {
                if UserRow::find_by_username(conn, &new.username)?.is_some() {
                    return Err(Error::Conflict(format!(
                        "user '{}' already exists",
                        new.username
                    )));
                }
                let now = crate::db::now();
                let row = UserRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    display_name: new
                        .display_name
                        .clone()
                        .unwrap_or_else(|| new.username.clone()),
                    username: new.username.clone(),
                    password_hash: password::hash(&new.password)
                        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))?,
                    role: new.role.as_str().to_string(),
                    active: true,
                    created_at: now,
                    updated_at: now,
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

    /// The account behind a token, if it still exists and is active.
    pub async fn find_active(&self, id: String) -> Result<Option<User>> {
        self.store
            .read(move |conn| {
                UserRow::find(conn, &id)?
                    .filter(|row| row.active)
                    .map(User::try_from)
                    .transpose()
            })
            .await
    }

    /// Checks a username and password; any mismatch, unknown or disabled account is the same error.
    pub async fn authenticate(&self, username: String, password: String) -> Result<User> {
        self.store
            .read(move |conn| {
                let row = UserRow::find_by_username(conn, &username)?;
                let stored = row
                    .as_ref()
                    .map(|r| r.password_hash.as_str())
                    .unwrap_or_else(|| password::dummy_hash());
                let matches = password::verify(&password, stored);
                match row {
                    Some(row) if matches && row.active => User::try_from(row),
                    _ => Err(Error::InvalidCredentials),
                }
            })
            .await
    }

    /// Enables or disables an account. A disabled account's tokens stop working at once.
    pub async fn set_active(&self, actor: Actor, username: String, active: bool) -> Result<User> {
        self.store
            .write(move |conn| {
                let mut row = find_row(conn, &username)?;
                if row.active == active {
                    return User::try_from(row);
                }
                if !active && row.role == Role::Admin.as_str() {
                    refuse_last_admin(conn, &row.id)?;
                }
                row.active = active;
                row.updated_at = crate::db::now();
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

fn find_row(conn: &mut DbConnection, username: &str) -> Result<UserRow> {
    UserRow::find_by_username(conn, username)?
        .ok_or_else(|| Error::not_found(format!("user '{username}'")))
}

/// Nobody could manage accounts any more if the last active admin were disabled.
fn refuse_last_admin(conn: &mut DbConnection, disabling_id: &str) -> Result<()> {
    let other_admins = UserRow::list(conn)?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Admin.as_str() && u.id != disabling_id)
        .count();
    if other_admins == 0 {
        Err(Error::Conflict(
            "this is the last active admin; add another admin before disabling it".into(),
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
