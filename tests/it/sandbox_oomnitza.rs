//! Tests for the Oomnitza simulator: API v3 assets and users over plain HTTP, the way a client
//! given only a base URL and a token would call them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

/// GET an Oomnitza path with the sandbox token; answers status and JSON.
async fn get(sb: &TestSandbox, path_and_query: &str) -> (StatusCode, Value) {
    let token = sb.creds["oomnitza"]["token"].as_str().unwrap_or_default();
    let resp = sb
        .http
        .get(sb.url(&format!("/oomnitza{path_and_query}")))
        .header("Authorization2", token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// GET `/api/v3/assets` with a filter, URL-encoded as the docs demand.
async fn assets_where(sb: &TestSandbox, filter: &str) -> (StatusCode, Value) {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", filter)
        .finish();
    get(sb, &format!("/api/v3/assets?{q}")).await
}

async fn patch(sb: &TestSandbox, path: &str, body: &str) -> (StatusCode, Value) {
    let token = sb.creds["oomnitza"]["token"].as_str().unwrap_or_default();
    let resp = sb
        .http
        .patch(sb.url(&format!("/oomnitza{path}")))
        .header("Authorization2", token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[field].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn asset_lookup_by_serial_and_hostname() {
    let sb = sandbox().await;
    let seed_asset = &sb.seed["oomnitza"]["assets"][0];
    let serial = seed_asset["serial_number"].as_str().unwrap();
    let (status, list) = assets_where(&sb, &format!("serial_number eq '{serial}'")).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().expect("a bare JSON array").clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["equipment_id"], seed_asset["equipment_id"]);
    assert_eq!(list[0]["assigned_to"], seed_asset["assigned_to"]);

    let host = seed_asset["device_name"].as_str().unwrap();
    let (_, list) = assets_where(&sb, &format!("device_name eq \"{host}\"")).await;
    assert_eq!(names(&list, "serial_number"), vec![serial.to_string()]);

    let (status, list) = assets_where(&sb, "serial_number eq 'NO-SUCH-SERIAL'").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn filters_combine_and_null_finds_the_unowned_asset() {
    let sb = sandbox().await;
    let (_, list) = assets_where(&sb, "assigned_to IS NULL").await;
    assert_eq!(names(&list, "device_name"), vec!["SRV-BUILD-07"]);
    let (_, list) = assets_where(
        &sb,
        "(device_name eq 'WS-DAN-WIN11') OR (serial_number EQ 'PF3ABCDE')",
    )
    .await;
    assert_eq!(names(&list, "equipment_id"), vec!["EQ-1002", "EQ-1003"]);
    let (_, list) = assets_where(&sb, "asset_type eq 'Laptop' and assigned_to ne 'dan.kim'").await;
    assert_eq!(names(&list, "equipment_id"), vec!["EQ-1001", "EQ-1003"]);
}

#[tokio::test]
async fn limit_skip_sortby_and_fields() {
    let sb = sandbox().await;
    let (status, list) = get(
        &sb,
        "/api/v3/assets?sortby=device_name%20desc&limit=2&skip=1&fields=equipment_id,device_name",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([
            {"equipment_id": "EQ-1002", "device_name": "WS-DAN-WIN11"},
            {"equipment_id": "EQ-1001", "device_name": "WS-CAROL-MBP"},
        ])
    );
    let (_, all) = get(&sb, "/api/v3/assets").await;
    assert_eq!(all.as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn bad_filters_and_params_are_400_with_the_error_object() {
    let sb = sandbox().await;
    let (status, body) = assets_where(&sb, "serial_number eq").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["filter"].is_string(), "{body}");
    let (status, body) = assets_where(&sb, "hostname eq 'WS-1'").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"]["filter"]
            .as_str()
            .unwrap()
            .contains("hostname")
    );
    let (status, body) = get(&sb, "/api/v3/users?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["limit"].is_string());
    let (status, body) = get(&sb, "/api/v3/users?sortby=shoe_size%20asc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["sortby"].is_string());
}

#[tokio::test]
async fn auth_missing_wrong_and_basic_are_401() {
    let sb = sandbox().await;
    let url = sb.url("/oomnitza/api/v3/assets");
    let resp = sb.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert!(body["errors"]["Authorization2"].is_string());

    let resp = sb
        .http
        .get(&url)
        .header("Authorization2", "0000")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"errors": {"Authorization2": "Invalid token"}}));

    let resp = sb
        .http
        .get(&url)
        .basic_auth("admin", Some("hunter2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn asset_and_user_by_ident_and_404() {
    let sb = sandbox().await;
    let (status, asset) = get(&sb, "/api/v3/assets/EQ-1001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asset["serial_number"], "C02XK1ABJHD5");
    let (status, body) = get(&sb, "/api/v3/assets/EQ-0000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["errors"]["ident"].is_string());

    let (status, user) = get(&sb, "/api/v3/users/carol.diaz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "carol.diaz@acme.example");
    let user_id = user["user_id"].as_str().unwrap().to_string();
    let (_, same) = get(&sb, &format!("/api/v3/users/{user_id}")).await;
    assert_eq!(same["username"], "carol.diaz");
    let (status, _) = get(&sb, "/api/v3/users/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_by_email_and_their_assets() {
    let sb = sandbox().await;
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", "email eq 'dan.kim@acme.example'")
        .finish();
    let (status, list) = get(&sb, &format!("/api/v3/users?{q}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list, "username"), vec!["dan.kim"]);

    let (status, list) = get(&sb, "/api/v3/users/dan.kim/assets").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list, "equipment_id"), vec!["EQ-1002"]);
    let (_, list) = get(&sb, "/api/v3/users/ana.lyst/assets").await;
    assert_eq!(list, json!([]));
    let (status, _) = get(&sb, "/api/v3/users/nobody/assets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_updates_and_validates() {
    let sb = sandbox().await;
    let (status, asset) = patch(
        &sb,
        "/api/v3/assets/EQ-2007",
        r#"{"assigned_to":"erin.shaw","status":"In Repair"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asset["assigned_to"], "erin.shaw");
    assert_eq!(asset["status"], "In Repair");
    let (_, again) = get(&sb, "/api/v3/assets/EQ-2007").await;
    assert_eq!(again["status"], "In Repair");

    let (status, body) = patch(&sb, "/api/v3/assets/EQ-2007", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["body"].is_string());
    let (status, body) = patch(&sb, "/api/v3/assets/EQ-2007", r#"{"shoe":1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["shoe"].is_string());
    let (status, _) = patch(&sb, "/api/v3/assets/EQ-2007", r#"{"assigned_to":"ghost"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = patch(&sb, "/api/v3/assets/EQ-0000", r#"{"status":"x"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn control_adds_records_and_reset_restores_the_seed() {
    let sb = sandbox().await;
    let added = sb
        .control(
            "/oomnitza/users",
            json!({"username": "fay.new", "email": "fay.new@acme.example"}),
        )
        .await;
    assert_eq!(added["username"], "fay.new");
    assert!(added["user_id"].is_string());
    let asset = sb
        .control(
            "/oomnitza/assets",
            json!({"serial_number": "SN-NEW-1", "device_name": "WS-FAY", "assigned_to": "fay.new"}),
        )
        .await;
    let id = asset["equipment_id"]
        .as_str()
        .expect("generated id")
        .to_string();
    let (_, list) = get(&sb, "/api/v3/users/fay.new/assets").await;
    assert_eq!(names(&list, "equipment_id"), vec![id.clone()]);

    // Replace by equipment_id: no second record.
    sb.control(
        "/oomnitza/assets",
        json!({"equipment_id": id, "serial_number": "SN-NEW-2"}),
    )
    .await;
    let (_, list) = assets_where(&sb, "serial_number LIKE 'SN-NEW-%'").await;
    assert_eq!(names(&list, "serial_number"), vec!["SN-NEW-2"]);

    let (status, _) = patch(&sb, "/api/v3/assets/EQ-1001", r#"{"status":"Lost"}"#).await;
    assert_eq!(status, StatusCode::OK);
    sb.control("/reset", json!({})).await;
    let (status, _) = get(&sb, "/api/v3/users/fay.new").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, asset) = get(&sb, "/api/v3/assets/EQ-1001").await;
    assert_eq!(asset["status"], "Deployed");
}

#[tokio::test]
async fn injected_faults_use_the_error_object_and_retry_after() {
    let sb = sandbox().await;
    sb.control(
        "/faults",
        json!({"service": "oomnitza", "method": "GET", "path": "/api/v3/assets", "status": 429, "retry_after": 7}),
    )
    .await;
    let token = sb.creds["oomnitza"]["token"].as_str().unwrap();
    let resp = sb
        .http
        .get(sb.url("/oomnitza/api/v3/assets"))
        .header("Authorization2", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert!(body["errors"]["request"].is_string());

    sb.control(
        "/faults",
        json!({"service": "oomnitza", "path": "/api/v3/users/*", "status": 503}),
    )
    .await;
    let (status, body) = get(&sb, "/api/v3/users/dan.kim").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"errors": {"request": "Service Unavailable"}}));
    let (status, _) = get(&sb, "/api/v3/users/dan.kim").await;
    assert_eq!(status, StatusCode::OK, "fault hit once");
    let recorded = sb.requests("oomnitza").await;
    assert!(
        recorded
            .iter()
            .any(|r| r["path"] == "/api/v3/users/dan.kim" && r["status"] == 503)
    );
}
