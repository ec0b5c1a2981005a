//! Staff accounts.

use crate::db::schema::users;
use crate::db::{DbConnection, StoreError};
use crate::ids::{UserId, Username};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserRow {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// Raised to revoke every token and session issued before.
    pub session_epoch: i64,
    /// The partner team of an outsourced agent (`partner_agent`); `None` for own staff.
    pub team: Option<String>,
}

impl UserRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(users::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find_by_username(
        conn: &mut DbConnection,
        username: &str,
    ) -> Result<Option<Self>, StoreError> {
        Ok(users::table
            .filter(users::username.eq(username))
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn find(conn: &mut DbConnection, id: &UserId) -> Result<Option<Self>, StoreError> {
        Ok(users::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn list(conn: &mut DbConnection) -> Result<Vec<Self>, StoreError> {
        Ok(users::table
            .order(users::username.asc())
            .select(Self::as_select())
            .load(conn)?)
    }

    pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
        Ok(users::table.count().get_result(conn)?)
    }

    /// Revokes every token and session of the account: they carry the old epoch.
    pub fn bump_session_epoch(conn: &mut DbConnection, id: &UserId) -> Result<(), StoreError> {
        diesel::update(users::table.find(id))
            .set(users::session_epoch.eq(users::session_epoch + 1))
            .execute(conn)?;
        Ok(())
    }

    /// Saves role, display name, active flag and password hash; `updated_at` is set by the caller.
    pub fn update(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::update(users::table.find(&self.id))
            .set((
                users::display_name.eq(&self.display_name),
                users::password_hash.eq(&self.password_hash),
                users::role.eq(&self.role),
                users::active.eq(self.active),
                users::updated_at.eq(self.updated_at),
                users::session_epoch.eq(self.session_epoch),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// Where an account is reached by mail (reminder digests) and the language it reads.
#[derive(Debug, Clone, Queryable)]
pub struct ContactRow {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub email: Option<String>,
    pub language: String,
}

/// Sets an account's mail address (`None` removes it) and language; whether the account exists.
pub fn set_contact(
    conn: &mut DbConnection,
    username: &str,
    email: Option<Option<&str>>,
    language: Option<&str>,
    now: chrono::NaiveDateTime,
) -> Result<bool, StoreError> {
    let target = || users::table.filter(users::username.eq(username));
    let mut changed = diesel::update(target())
        .set(users::updated_at.eq(now))
        .execute(conn)?;
    if let Some(email) = email {
        changed = diesel::update(target())
            .set(users::email.eq(email))
            .execute(conn)?;
    }
    if let Some(language) = language {
        changed = diesel::update(target())
            .set(users::language.eq(language))
            .execute(conn)?;
    }
    Ok(changed == 1)
}

/// The contact of every active account, by username.
pub fn active_contacts(conn: &mut DbConnection) -> Result<Vec<ContactRow>, StoreError> {
    Ok(users::table
        .filter(users::active.eq(true))
        .order(users::username.asc())
        .select((
            users::username,
            users::display_name,
            users::role,
            users::email,
            users::language,
        ))
        .load(conn)?)
}
