//! Package keys: rotation adds a key, new packages are sealed with it, and packages sealed
//! before still open; the keys are stored only sealed, and every rotation is audited.

mod common;

use common::{cipher_of, dump_database, TestApp};
use loket::audit::Actor;
use loket::packages::PackageKeys;

async fn keys_of(app: &TestApp) -> PackageKeys {
    PackageKeys::new(app.store.clone(), cipher_of(&app.settings))
}

fn seal(cipher: &loket::crypto::Cipher, text: &str) -> Vec<u8> {
    let mut sealed = Vec::new();
    cipher
        .seal_stream("packages/p1", text.as_bytes(), &mut sealed)
        .expect("sealed");
    sealed
}

fn open(cipher: &loket::crypto::Cipher, sealed: &[u8]) -> String {
    let mut plain = Vec::new();
    cipher
        .open_stream("packages/p1", sealed, &mut plain)
        .expect("opened");
    String::from_utf8(plain).expect("text")
}

backend_tests! {
    async fn rotation_keeps_old_packages_readable(app: TestApp) {
        let keys = keys_of(&app).await;
        assert!(keys.list().await.unwrap().is_empty());
        // The first package makes the first key.
        let first = keys.cipher().await.unwrap();
        let listed = keys.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, first.current_key_id());
        let old_package = seal(&first, "inzage: 3 systemen");

        let rotated = keys.rotate(Actor::Cli).await.unwrap();
        let listed = keys.list().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[1].current && !listed[0].current);
        assert_eq!(listed[1].id, rotated.id);

        let second = keys.cipher().await.unwrap();
        assert_eq!(second.current_key_id(), rotated.id);
        assert_ne!(second.current_key_id(), first.current_key_id());
        assert_eq!(open(&second, &old_package), "inzage: 3 systemen");
        let new_package = seal(&second, "inzage: 4 systemen");
        assert!(first.open_stream("packages/p1", new_package.as_slice(), &mut Vec::new()).is_err(),
            "the old key alone does not open what the new key sealed");

        // The keys are stored only sealed with the data key: the key text is nowhere in the
        // database.
        let rows = {
            let mut conn = app.store.connection().unwrap();
            loket::db::models::package_keys::PackageKeyRow::all(&mut conn).unwrap()
        };
        let data = cipher_of(&app.settings);
        let dump = dump_database(&app).await;
        for row in &rows {
            assert!(row.key_enc.starts_with("v1:"), "{}", row.key_enc);
            let key = data.decrypt("package_keys.key", &row.key_enc).expect("opens with the data key");
            assert_eq!(key.len(), 44, "base64 of 32 bytes");
            assert!(dump.contains(&row.id), "the dump holds the key table");
            assert!(!dump.contains(&key), "a package key in the clear");
        }
        let officer = app.token_for(loket::auth::Role::PrivacyOfficer).await;
        let events: serde_json::Value = app
            .get("/api/v1/audit/events?per_page=200", Some(&officer))
            .await
            .json()
            .await
            .unwrap();
        let rotations = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "package_key.rotated")
            .count();
        assert_eq!(rotations, 2, "{events}");

    }
}
