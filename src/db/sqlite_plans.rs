//! SQLite's query planner held to one plan per prepared statement.
//!
//! SQLite plans a statement again whenever a parameter it looked at while planning is bound
//! again, and it looks at the value bound to `LIMIT ?`. diesel binds every `LIMIT` (each
//! `.first()` is one) and binds all parameters on every run of a cached statement, so such
//! statements were parsed and planned anew at every use: `sqlite3Reprepare` was 23% of the CPU
//! of the intake and request-view benchmark (`benches/load`, perf, 2026-12-04). The query
//! planner stability guarantee (QPSG) makes SQLite plan from the SQL text alone, so a cached
//! statement is planned once. loket's own queries compare bound values for equality and range
//! only, where a plan made without the value is the same plan; the setting reaches every
//! SQLite connection of the process, the connectors' to organisation databases too, whose
//! `LIKE` prefixes are written into the SQL, not bound, and so are planned as before.
//!
//! diesel does not hand out the raw connection handle, so the setting is made by an
//! "auto extension": a function SQLite calls for every connection this process opens.
#![allow(unsafe_code)]

use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int};
use std::sync::Once;

/// Makes every SQLite connection opened from now on in this process plan each statement once.
pub fn plan_once_per_statement() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `enable_plan_stability` has exactly the signature SQLite calls an auto
        // extension with, and it lives for the whole process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(enable_plan_stability)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(code = rc, "SQLite refused the plan-stability setting; statements with LIMIT are planned at every use");
        }
    });
}

/// Called by SQLite for each new connection. Always succeeds: the setting saves time, and a
/// connection without it still answers correctly.
unsafe extern "C" fn enable_plan_stability(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection SQLite is opening; the option takes an int and an
    // optional out-pointer, which may be null.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        );
    }
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens a connection the way diesel does and asks SQLite whether QPSG is on for it.
    #[test]
    fn connections_opened_after_registration_plan_once() {
        plan_once_per_statement();
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        let mut enabled: c_int = -1;
        // SAFETY: a private in-memory database, closed before the test ends; -1 only reads the
        // setting into `enabled`.
        unsafe {
            assert_eq!(
                ffi::sqlite3_open(c":memory:".as_ptr(), &mut db),
                ffi::SQLITE_OK
            );
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut enabled as *mut c_int,
            );
            ffi::sqlite3_close(db);
        }
        assert_eq!(enabled, 1, "the query planner stability guarantee is on");
    }
}
