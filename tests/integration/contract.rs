//! The API as a contract (issue 20): the OpenAPI document served is the one in the repository,
//! it is OpenAPI 3.1 with every reference resolved, it names every route actix mounts under
//! `/api/v1` and every route of the README's table, each answered by its own route; and the
//! modules import each other without cycles.

use crate::common;

use actix_web::http::Method;
use common::{expect_json, TestApp};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const REGENERATE: &str = "cargo run -- openapi > openapi.json";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(METHOD, path)` of every operation in the document, with path parameters written `{}`.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.insert((method.to_uppercase(), generic(path)));
            }
        }
    }
    found
}

/// `/requests/{id}/tasks/{task}` → `/requests/{}/tasks/{}`: parameter names are the docs' choice.
fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn missing_report(what: &str, missing: &BTreeSet<(String, String)>) -> String {
    let lines: Vec<String> = missing.iter().map(|(m, p)| format!("  {m} {p}")).collect();
    format!(
        "{} route(s) {what} are missing from the OpenAPI document: add a #[utoipa::path] above \
         the handler, list it in src/api/openapi.rs, then `{REGENERATE}`:\n{}",
        missing.len(),
        lines.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_one_in_the_repository() {
    let app = TestApp::spawn(loket::db::Backend::Sqlite).await;
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.status().as_u16(), 200, "served without a token");
    let served = response.text().await.expect("body");
    let kept = std::fs::read_to_string(repository().join("openapi.json")).unwrap_or_default();
    assert!(
        served == kept,
        "openapi.json differs from the document the code generates: regenerate it with `{REGENERATE}` and commit it"
    );
    // The CLI prints the same document.
    assert_eq!(served, loket::api::openapi::document_json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_with_every_reference_resolved() {
    let app = TestApp::spawn(loket::db::Backend::Sqlite).await;
    let document = expect_json(app.get("/api/v1/openapi.json", None).await, 200).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(document["security"][0]["bearer"], serde_json::json!([]));
    let mut references = BTreeSet::new();
    collect_refs(&document, &mut references);
    for reference in &references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} points nowhere"
        );
    }
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success"
            );
            assert!(responses.contains_key("422"), "{method} {path}: no 422");
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
        }
    }
    // The error body, with the optional stable `code`.
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));
    assert!(error["properties"]["code"].is_object());
    // The main request routes answer with their typed views.
    let create = &document["paths"]["/api/v1/requests"]["post"]["responses"]["201"];
    assert!(create["headers"]["Location"].is_object());
    assert_eq!(
        create["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RequestView"
    );
}

fn collect_refs(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => {
                        into.insert(reference.replace("~1", "/"));
                    }
                    _ => collect_refs(item, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

/// Every pattern actix mounts, read from its resource map (whose `Debug` is the only public view
/// of it), then each one's methods by asking: without the app's state every handler fails, but
/// not with the fallback's "no such route" (or a resource's `405`).
async fn mounted_api_routes() -> BTreeSet<(String, String)> {
    use actix_web::{test, web, App, HttpRequest};
    let config = loket::api::ApiConfig::new(100_000);
    let app = test::init_service(
        App::new()
            .route(
                "/__resource_map",
                web::get().to(|request: HttpRequest| async move {
                    format!("{:?}", request.resource_map())
                }),
            )
            .configure(|cfg| loket::api::configure(cfg, &config)),
    )
    .await;
    let map = test::call_and_read_body(
        &app,
        test::TestRequest::get().uri("/__resource_map").to_request(),
    )
    .await;
    let patterns = patterns_of(std::str::from_utf8(&map).expect("utf-8"));
    assert!(
        patterns.iter().any(|p| p == "/api/v1/requests/{id}"),
        "could not read actix's resource map (has its Debug format changed?): {patterns:?}"
    );
    let mut routes = BTreeSet::new();
    for pattern in patterns.iter().filter(|p| p.starts_with("/api/v1/")) {
        let uri = generic(pattern).replace("{}", "probe");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let probe = test::TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&uri)
                .peer_addr("127.0.0.1:1".parse().unwrap())
                .to_request();
            let response = test::call_service(&app, probe).await;
            let status = response.status().as_u16();
            let body = test::read_body(response).await;
            // The app's fallback (`ApiError::NoRoute`), or a resource without this method.
            let unrouted = status == 405
                || (status == 404 && String::from_utf8_lossy(&body).contains("no such route"));
            if !unrouted {
                routes.insert((method.to_string(), generic(pattern)));
            }
        }
    }
    routes
}

/// The full patterns of the leaves of actix's resource map, from its `Debug` text: each
/// `ResourceMap` holds its own (relative) pattern and its children, nested.
fn patterns_of(debug: &str) -> Vec<String> {
    let mut found = Vec::new();
    // (brace depth at which a map opened, its pattern, whether it has children)
    let mut open: Vec<(usize, String, bool)> = Vec::new();
    let mut depth = 0usize;
    let bytes = debug.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &debug[i..];
        if rest.starts_with("ResourceMap {") {
            open.push((depth + 1, String::new(), false));
            depth += 1;
            i += "ResourceMap {".len();
            continue;
        }
        if let Some(after) = rest.strip_prefix("patterns: Single(\"") {
            let end = after.find('"').expect("closing quote");
            if let Some(top) = open.last_mut() {
                if top.1.is_empty() {
                    top.1 = format!("\u{1}{}", &after[..end]);
                }
            }
        }
        if rest.starts_with("nodes: Some(") {
            if let Some(top) = open.last_mut() {
                top.2 = true;
            }
        }
        match bytes[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                if let Some(&(opened, _, children)) = open.last() {
                    if opened == depth {
                        if !children {
                            let path: String = open
                                .iter()
                                .map(|(_, p, _)| p.trim_start_matches('\u{1}'))
                                .collect();
                            found.push(path);
                        }
                        open.pop();
                    }
                }
                depth = depth.saturating_sub(1);
            }
            b'"' => {
                // Skip a string, escapes included.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found.sort();
    found.dedup();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_actix_mounts_under_api_v1_is_in_the_document() {
    let documented = operations(&serde_json::to_value(loket::api::openapi::document()).unwrap());
    let mounted = mounted_api_routes().await;
    assert!(mounted.len() > 40, "found only {mounted:?}");
    // A literal path such as `/requests/calls` also answers the methods of `/requests/{id}`:
    // those answers are the templated route's, documented there.
    let missing: BTreeSet<_> = mounted
        .difference(&documented)
        .filter(|route| !documented.iter().any(|d| same_template(d, route)))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "{}",
        missing_report("mounted by actix", &missing)
    );
    let stale: BTreeSet<_> = documented.difference(&mounted).cloned().collect();
    assert!(
        stale.is_empty(),
        "documented but not mounted (remove them from src/api/openapi.rs): {stale:?}"
    );
}

/// actix tries routes in the order they are registered and takes the first whose pattern (and,
/// for routes added with `.route(…)`, method) fits, so a templated route registered before a
/// literal one of the same shape would take its calls (`/requests/{id}` before
/// `/requests/calls`). `src/api/mod.rs` orders the route groups for speed; this checks that
/// every documented operation is still answered by its own route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_answered_by_its_own_route() {
    use actix_web::dev::Service;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::{test, App};
    const MATCHED: &str = "x-matched-pattern";
    let config = loket::api::ApiConfig::new(100_000);
    let app = test::init_service(
        App::new()
            .wrap_fn(|request, service| {
                let answer = service.call(request);
                async move {
                    let mut response = answer.await?;
                    let pattern = response.request().match_pattern().unwrap_or_default();
                    if let Ok(value) = HeaderValue::from_str(&pattern) {
                        response
                            .headers_mut()
                            .insert(HeaderName::from_static(MATCHED), value);
                    }
                    Ok(response)
                }
            })
            .configure(|cfg| loket::api::configure(cfg, &config)),
    )
    .await;
    let documented = operations(&serde_json::to_value(loket::api::openapi::document()).unwrap());
    assert!(documented.len() > 40, "found only {documented:?}");
    let mut answered_elsewhere = Vec::new();
    for (method, path) in &documented {
        let probe = test::TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&path.replace("{}", "probe"))
            .peer_addr("127.0.0.1:1".parse().unwrap())
            .to_request();
        let response = test::call_service(&app, probe).await;
        let matched = response
            .headers()
            .get(MATCHED)
            .and_then(|value| value.to_str().ok())
            .map(generic)
            .unwrap_or_default();
        if matched != *path {
            answered_elsewhere.push(format!("{method} {path} answered by `{matched}`"));
        }
    }
    assert!(
        answered_elsewhere.is_empty(),
        "routes taken by another registered before them (see the order in src/api/mod.rs):\n{}",
        answered_elsewhere.join("\n")
    );
}

/// Whether `literal` (`GET /api/v1/requests/calls`) is an instance of `documented`
/// (`GET /api/v1/requests/{id}`): same method, same segments but where `documented` has a
/// parameter.
fn same_template(documented: &(String, String), literal: &(String, String)) -> bool {
    let documented_segments: Vec<&str> = documented.1.split('/').collect();
    let literal_segments: Vec<&str> = literal.1.split('/').collect();
    documented.0 == literal.0
        && documented_segments.len() == literal_segments.len()
        && documented_segments
            .iter()
            .zip(&literal_segments)
            .all(|(d, l)| d == l || d.starts_with('{'))
}

/// A route whose id is a newtype (`web::Path<Username>`) gets no parameter from utoipa unless
/// `params(…)` names it; a contract tester refuses such an operation as a schema error.
#[test]
fn every_path_parameter_is_defined() {
    let document = serde_json::to_value(loket::api::openapi::document()).unwrap();
    let mut undefined = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        let named: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in operations.as_object().expect("operations") {
            let defined: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            for name in named.difference(&defined) {
                undefined.push(format!("{method} {path}: {{{name}}}"));
            }
        }
    }
    assert!(
        undefined.is_empty(),
        "path parameters without a definition (add params(…) to #[utoipa::path]):\n{}",
        undefined.join("\n")
    );
}

#[test]
fn every_route_in_the_readme_table_is_in_the_document() {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let documented = operations(&serde_json::to_value(loket::api::openapi::document()).unwrap());
    let mut listed = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split(" | ").next().unwrap_or_default();
        for span in first_cell.split('`').skip(1).step_by(2) {
            let Some((methods, path)) = span.split_once(' ') else {
                continue;
            };
            if !path.starts_with("/api/v1/") {
                continue;
            }
            let path = path.split('?').next().unwrap_or(path);
            for method in methods.split('/') {
                listed.insert((method.to_string(), generic(path)));
            }
        }
    }
    assert!(listed.len() > 40, "the README's route table was not found");
    let missing: BTreeSet<_> = listed.difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "{}",
        missing_report("in README.md", &missing)
    );
}

/// The layering: the HTTP layer on top, the domain below it, the store at the bottom. The
/// vocabulary the domain modules share (kinds, states, channels, languages) and the typed ids sit
/// with the store: rows hold them, and they import nothing of the domain.
const LOWEST: &[&str] = &["db", "error", "ids", "vocabulary"];
const WIRING: &[&str] = &["api", "cli", "startup", "main", "lib", "demo", "telemetry"];

/// The files declared as test modules (`#[cfg(test)] mod tests;`): all of their code is tests.
fn test_module_files(file: &Path, text: &str) -> Vec<PathBuf> {
    let name = file.file_stem().unwrap_or_default();
    let dir = if name == "mod" || name == "lib" || name == "main" {
        file.parent().unwrap().to_path_buf()
    } else {
        file.with_extension("")
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[0] == "#[cfg(test)]")
        .filter_map(|pair| pair[1].split_once("mod ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.strip_suffix(';'))
        .flat_map(|module| {
            [
                dir.join(format!("{module}.rs")),
                dir.join(module).join("mod.rs"),
            ]
        })
        .collect()
}

/// `text` without comments and without its inline test modules (`#[cfg(test)] mod tests { … }`,
/// which rustfmt closes with a `}` at the indentation it opened with).
fn non_test_code(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let opens_test_module = line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.contains("mod ") && next.trim_end().ends_with('{'));
        if opens_test_module {
            let opening = lines.next().unwrap_or_default();
            let indent = &opening[..opening.len() - opening.trim_start().len()];
            let closing = format!("{indent}}}");
            for line in lines.by_ref() {
                if line == closing {
                    break;
                }
            }
        } else if !line.trim_start().starts_with("//") {
            kept.push(line);
        }
    }
    kept.join("\n")
}

/// The first names of the paths in a `use crate::{…}` group (`db::{self, Store}, error` gives
/// `db` and `error`): only the commas outside nested braces separate paths.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = true;
    let mut name = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if depth == 0 && start && (c.is_alphanumeric() || c == '_') => name.push(c),
            _ if !name.is_empty() => {
                heads.push(std::mem::take(&mut name));
                start = false;
            }
            _ => {}
        }
    }
    heads.extend((!name.is_empty()).then_some(name));
    heads
}

/// The modules each top-level module of `src/` uses, by `use crate::…` and by every
/// `crate::<module>::` path written in a type or an expression (test modules and comments left
/// out): a path written inline ties two modules as much as an import does.
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = repository().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let texts: BTreeMap<PathBuf, String> = files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            (file, text)
        })
        .collect();
    let tests: BTreeSet<PathBuf> = texts
        .iter()
        .flat_map(|(file, text)| test_module_files(file, text))
        .collect();
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in texts.iter().filter(|(file, _)| !tests.contains(*file)) {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        let text = non_test_code(text);
        let mut targets: Vec<String> = Vec::new();
        for statement in text.split("use crate::").skip(1) {
            let statement = statement.split(';').next().unwrap_or_default();
            match statement.strip_prefix('{') {
                Some(group) => targets.extend(group_heads(group)),
                None => targets.extend(statement.split("::").next().map(str::to_string)),
            }
        }
        for path in text.split("crate::").skip(1) {
            let name: String = path
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if path[name.len()..].starts_with("::") {
                targets.push(name);
            }
        }
        for target in targets {
            let target = target.trim();
            if !target.is_empty() && target != module && target != "self" {
                imports
                    .entry(module.clone())
                    .or_default()
                    .insert(target.to_string());
            }
        }
    }
    imports
}

#[test]
fn modules_import_each_other_in_layers_and_without_cycles() {
    let imports = module_imports();
    assert!(
        imports.contains_key("requests"),
        "no imports read: {imports:?}"
    );
    let mut faults = Vec::new();
    for (module, targets) in &imports {
        for target in targets {
            if target == "api" && !WIRING.contains(&module.as_str()) {
                faults.push(format!("{module} imports the HTTP layer (api)"));
            }
            if LOWEST.contains(&module.as_str())
                && !LOWEST.contains(&target.as_str())
                && target != "crypto"
            {
                faults.push(format!("{module} (the store) imports {target}"));
            }
        }
    }
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(module) = stack.pop() {
            for next in imports.get(&module).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    for (module, targets) in &imports {
        for target in targets {
            if reaches(target, module) {
                faults.push(format!(
                    "{module} → {target} closes an import cycle ({target} already reaches {module}): \
                     move what both need into the lower module"
                ));
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}
