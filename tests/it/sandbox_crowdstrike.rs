//! The CrowdStrike Falcon simulator over plain HTTP: OAuth2, Alerts v2/v3, Hosts, Falcon's
//! envelope, headers, error shapes, rate-limit signal, faults and reset.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

/// One answer: status, headers, JSON body (Null when not JSON).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    async fn from(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error_messages(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn cs(sb: &TestSandbox, path: &str) -> String {
    sb.url(&format!("/crowdstrike{path}"))
}

async fn token_request(sb: &TestSandbox, id: &str, secret: &str) -> Answer {
    let resp = sb
        .http
        .post(cs(sb, "/oauth2/token"))
        .form(&[("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .expect("token request");
    Answer::from(resp).await
}

async fn token(sb: &TestSandbox) -> String {
    let id = sb.creds["crowdstrike"]["client_id"].as_str().unwrap_or("");
    let secret = sb.creds["crowdstrike"]["client_secret"]
        .as_str()
        .unwrap_or("");
    let a = token_request(sb, id, secret).await;
    assert_eq!(a.status, StatusCode::CREATED);
    a.body["access_token"].as_str().unwrap_or("").to_string()
}

async fn post(sb: &TestSandbox, tok: &str, path: &str, body: Value) -> Answer {
    let resp = sb
        .http
        .post(cs(sb, path))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .await
        .expect("post");
    Answer::from(resp).await
}

async fn patch(sb: &TestSandbox, tok: &str, path: &str, body: Value) -> Answer {
    let resp = sb
        .http
        .patch(cs(sb, path))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .await
        .expect("patch");
    Answer::from(resp).await
}

async fn get(sb: &TestSandbox, tok: &str, path: &str) -> Answer {
    let resp = sb
        .http
        .get(cs(sb, path))
        .bearer_auth(tok)
        .send()
        .await
        .expect("get");
    Answer::from(resp).await
}

async fn inject(sb: &TestSandbox, alert: Value) -> String {
    let v = sb.control("/crowdstrike/alerts", alert).await;
    v["composite_id"].as_str().unwrap_or("").to_string()
}

async fn control_alert(sb: &TestSandbox, id: &str) -> Value {
    crate::common::get_json(
        &sb.http,
        &sb.url(&format!("/_sandbox/crowdstrike/alerts/{id}")),
    )
    .await
}

fn device_id(sb: &TestSandbox, i: usize) -> String {
    sb.seed["crowdstrike"]["devices"][i]["device_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn assert_envelope(a: &Answer) {
    assert!(a.body["meta"]["query_time"].is_number(), "{}", a.body);
    assert!(a.body["meta"]["powered_by"].is_string());
    let trace = a.body["meta"]["trace_id"].as_str().unwrap_or("");
    assert_eq!(a.header("x-cs-traceid"), Some(trace));
    assert!(a.header("x-ratelimit-limit").is_some());
    assert!(a.header("x-ratelimit-remaining").is_some());
    assert!(a.header("x-cs-region").is_none());
}

#[tokio::test]
async fn token_is_issued_with_201_and_no_region_header() {
    let sb = sandbox().await;
    let id = sb.creds["crowdstrike"]["client_id"].as_str().unwrap_or("");
    let secret = sb.creds["crowdstrike"]["client_secret"]
        .as_str()
        .unwrap_or("");
    let a = token_request(&sb, id, secret).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["token_type"], "bearer");
    assert_eq!(a.body["expires_in"], 1799);
    assert!(
        a.body["access_token"]
            .as_str()
            .is_some_and(|t| t.len() > 20)
    );
    assert!(a.header("x-cs-region").is_none());
    assert!(a.header("x-cs-traceid").is_some());

    let bad = token_request(&sb, id, "wrong-secret").await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert_eq!(bad.body["errors"][0]["code"], 403);
    assert_eq!(
        bad.error_messages(),
        vec!["access denied, invalid client".to_string()]
    );
    assert!(bad.body["meta"]["trace_id"].is_string());

    let missing = Answer::from(
        sb.http
            .post(cs(&sb, "/oauth2/token"))
            .form(&[("client_id", id)])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["errors"][0]["code"], 400);

    let recorded = sb.requests("crowdstrike").await;
    assert!(
        recorded
            .iter()
            .all(|r| r["body"]["client_secret"] != json!(secret)),
        "secrets are not recorded"
    );
}

#[tokio::test]
async fn bad_missing_expired_and_revoked_tokens_get_401() {
    let sb = sandbox().await;
    let path = "/alerts/queries/alerts/v2";
    let none = Answer::from(sb.http.get(cs(&sb, path)).send().await.expect("send")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.body["errors"],
        json!([{"code": 401, "message": "access denied, invalid bearer token"}])
    );
    assert_eq!(none.body["meta"]["powered_by"], "crowdstrike-api-gateway");
    assert_eq!(none.header("x-ratelimit-limit"), Some("15"));
    assert!(none.body.get("resources").is_none());

    let unknown = get(&sb, "not-a-token", path).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    let tok = token(&sb).await;
    assert_eq!(get(&sb, &tok, path).await.status, StatusCode::OK);

    // Revoke needs Basic auth with the client's id and secret.
    let id = sb.creds["crowdstrike"]["client_id"].as_str().unwrap_or("");
    let secret = sb.creds["crowdstrike"]["client_secret"]
        .as_str()
        .unwrap_or("");
    let refused = sb
        .http
        .post(cs(&sb, "/oauth2/revoke"))
        .basic_auth(id, Some("wrong"))
        .form(&[("token", tok.as_str())])
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let revoked = sb
        .http
        .post(cs(&sb, "/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", tok.as_str())])
        .send()
        .await
        .expect("send");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(get(&sb, &tok, path).await.status, StatusCode::UNAUTHORIZED);

    // Expiry: a lifetime of 0 s makes every token stale at once.
    let fresh = token(&sb).await;
    sb.control("/crowdstrike/settings", json!({"token_lifetime_secs": 0}))
        .await;
    assert_eq!(
        get(&sb, &fresh, path).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn injected_endpoint_alert_has_the_real_shape() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let aid = device_id(&sb, 1);
    let id = inject(
        &sb,
        json!({"severity": 70, "device": {"device_id": aid}, "custom_field": "kept"}),
    )
    .await;
    let a = post(
        &sb,
        &tok,
        "/alerts/entities/alerts/v2",
        json!({"composite_ids": [id]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_envelope(&a);
    assert_eq!(a.body["errors"], json!([]));
    let alert = &a.body["resources"][0];
    assert_eq!(alert["composite_id"], json!(id));
    assert_eq!(alert["product"], "epp");
    assert_eq!(alert["type"], "ldt");
    assert_eq!(alert["severity"], 70);
    assert_eq!(alert["severity_name"], "High");
    assert_eq!(alert["status"], "new");
    assert_eq!(alert["agent_id"], json!(aid));
    assert_eq!(alert["custom_field"], "kept");
    assert_eq!(
        alert["device"]["hostname"],
        sb.seed["crowdstrike"]["devices"][1]["hostname"]
    );
    for field in [
        "id",
        "aggregate_id",
        "cid",
        "tactic",
        "tactic_id",
        "technique",
        "technique_id",
        "filename",
        "filepath",
        "cmdline",
        "sha256",
        "md5",
        "user_name",
        "falcon_host_link",
        "created_timestamp",
        "timestamp",
        "updated_timestamp",
    ] {
        assert!(alert[field].is_string(), "{field} missing: {alert}");
    }
    assert!(alert["parent_details"]["cmdline"].is_string());
    assert!(alert["grandparent_details"]["filename"].is_string());
    assert!(alert["pattern_disposition_details"].is_object());
    assert_eq!(alert["show_in_ui"], true);
    assert_eq!(alert["tags"], json!([]));
    assert_eq!(alert["mitre_attack"][0]["tactic_id"], alert["tactic_id"]);
}

#[tokio::test]
async fn identity_alert_has_no_device_and_reinjection_updates() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let id = inject(
        &sb,
        json!({"product": "idp", "composite_id": "cid1:ind:cid1:idp-1"}),
    )
    .await;
    assert_eq!(id, "cid1:ind:cid1:idp-1");
    let first = control_alert(&sb, &id).await;
    assert!(first.get("device").is_none());
    assert_eq!(first["tactic"], "Credential Access");
    assert_eq!(first["technique_id"], "T1110");
    assert!(
        first["source_account_upn"]
            .as_str()
            .is_some_and(|u| u.contains('@'))
    );
    assert!(first["source_endpoint_host_name"].is_string());
    assert!(first["target_endpoint_host_name"].is_string());

    let again = inject(&sb, json!({"composite_id": id, "severity": 90})).await;
    assert_eq!(again, id);
    let second = control_alert(&sb, &id).await;
    assert_eq!(second["severity_name"], "Critical");
    assert_eq!(second["product"], "idp");
    assert!(
        second["updated_timestamp"].as_str() > first["updated_timestamp"].as_str(),
        "updated_timestamp moves forward"
    );
    let listed = post(
        &sb,
        &tok,
        "/alerts/combined/alerts/v1",
        json!({"filter": "product:'idp'"}),
    )
    .await;
    assert_eq!(listed.body["meta"]["pagination"]["total"], 1);
}

#[tokio::test]
async fn combined_search_filters_and_pages_with_after() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    for i in 0..5 {
        inject(
            &sb,
            json!({"severity": 40 + i * 10, "created_timestamp": format!("2024-08-27T03:2{i}:00.000Z")}),
        )
        .await;
    }
    inject(&sb, json!({"status": "closed", "severity": 90})).await;

    let filtered = post(
        &sb,
        &tok,
        "/alerts/combined/alerts/v1",
        json!({"filter": "product:'epp'+status:'new'+severity:>=60", "sort": "severity|desc", "limit": 100}),
    )
    .await;
    assert_eq!(filtered.status, StatusCode::OK);
    let sevs: Vec<i64> = filtered.body["resources"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["severity"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(sevs, vec![80, 70, 60]);
    assert!(filtered.body["meta"]["pagination"].get("after").is_none());

    let by_time = post(
        &sb,
        &tok,
        "/alerts/combined/alerts/v1",
        json!({"filter": "created_timestamp:>'2024-08-27T03:21:30Z'+created_timestamp:<'now-1h'"}),
    )
    .await;
    assert_eq!(by_time.body["meta"]["pagination"]["total"], 3);

    // Page through everything two at a time, inserting a new alert mid-way.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for page in 0..10 {
        let mut body = json!({"limit": 2, "sort": "created_timestamp|desc"});
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let a = post(&sb, &tok, "/alerts/combined/alerts/v1", body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["meta"]["pagination"]["limit"], 2);
        for r in a.body["resources"].as_array().cloned().unwrap_or_default() {
            seen.push(r["composite_id"].as_str().unwrap_or("").to_string());
        }
        if page == 0 {
            inject(&sb, json!({"severity": 10})).await;
        }
        match a.body["meta"]["pagination"]["after"].as_str() {
            Some(t) => after = Some(t.to_string()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no alert repeats across pages");
    assert_eq!(
        seen.len(),
        6,
        "every alert present at the start is listed once"
    );
}

#[tokio::test]
async fn combined_search_rejects_bad_input_with_400_envelopes() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let path = "/alerts/combined/alerts/v1";
    let bad_fql = post(&sb, &tok, path, json!({"filter": "status:'new"})).await;
    assert_eq!(bad_fql.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_fql.body["errors"][0]["code"], 400);
    assert!(bad_fql.error_messages()[0].contains("unterminated string"));
    assert_eq!(bad_fql.body["resources"], json!([]));

    let bad_limit = post(&sb, &tok, path, json!({"limit": 1001})).await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    assert!(bad_limit.error_messages()[0].contains("limit"));

    let bad_after = post(&sb, &tok, path, json!({"after": "garbage"})).await;
    assert_eq!(bad_after.status, StatusCode::BAD_REQUEST);

    let bad_sort = post(&sb, &tok, path, json!({"sort": "severity|up"})).await;
    assert_eq!(bad_sort.status, StatusCode::BAD_REQUEST);

    let malformed = Answer::from(
        sb.http
            .post(cs(&sb, path))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body("{\"filter\": ")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["errors"][0]["code"], 400);
    assert!(malformed.error_messages()[0].contains("JSON"));
    assert_envelope(&malformed);
}

#[tokio::test]
async fn query_ids_and_details_with_partial_404() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let a = inject(&sb, json!({"severity": 30})).await;
    let b = inject(&sb, json!({"severity": 60})).await;

    let q = get(
        &sb,
        &tok,
        "/alerts/queries/alerts/v2?filter=severity:>=50&sort=severity%7Casc&limit=10&offset=0",
    )
    .await;
    assert_eq!(q.status, StatusCode::OK);
    assert_eq!(q.body["resources"], json!([b]));
    assert_eq!(
        q.body["meta"]["pagination"],
        json!({"offset": 0, "limit": 10, "total": 1})
    );
    let paged = get(
        &sb,
        &tok,
        "/alerts/queries/alerts/v2?sort=severity|asc&limit=1&offset=1",
    )
    .await;
    assert_eq!(paged.body["resources"], json!([b]));
    assert_eq!(paged.body["meta"]["pagination"]["total"], 2);
    let too_far = get(&sb, &tok, "/alerts/queries/alerts/v2?limit=500&offset=9600").await;
    assert_eq!(too_far.status, StatusCode::BAD_REQUEST);

    let partial = post(
        &sb,
        &tok,
        "/alerts/entities/alerts/v2",
        json!({"composite_ids": [a, "nope:ind:x:y"]}),
    )
    .await;
    assert_eq!(partial.status, StatusCode::NOT_FOUND);
    assert_eq!(partial.body["resources"][0]["composite_id"], json!(a));
    assert_eq!(partial.body["errors"][0]["code"], 404);
    assert_eq!(partial.body["errors"][0]["id"], "nope:ind:x:y");

    let empty = post(
        &sb,
        &tok,
        "/alerts/entities/alerts/v2",
        json!({"composite_ids": []}),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn patch_v3_updates_status_comments_tags_and_assignment() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let id = inject(&sb, json!({})).await;
    let before = control_alert(&sb, &id).await;
    let a = patch(
        &sb,
        &tok,
        "/alerts/entities/alerts/v3",
        json!({"composite_ids": [id], "action_parameters": [
            {"name": "update_status", "value": "in_progress"},
            {"name": "append_comment", "value": "triaged by vigil"},
            {"name": "assign_to_name", "value": "Ana Lyst"},
            {"name": "assign_to_user_id", "value": "ana.lyst@acme.example"},
            {"name": "add_tag", "value": "true_positive"}
        ]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_envelope(&a);
    assert_eq!(a.body["meta"]["writes"]["resources_affected"], 1);
    assert_eq!(a.body["errors"], json!([]));

    let after = control_alert(&sb, &id).await;
    assert_eq!(after["status"], "in_progress");
    assert_eq!(after["assigned_to_name"], "Ana Lyst");
    assert_eq!(after["assigned_to_uid"], "ana.lyst@acme.example");
    assert_eq!(after["tags"], json!(["true_positive"]));
    assert_eq!(after["comments"][0]["comment"], "triaged by vigil");
    assert!(after["updated_timestamp"].as_str() > before["updated_timestamp"].as_str());

    let visible = post(
        &sb,
        &tok,
        "/alerts/entities/alerts/v2",
        json!({"composite_ids": [id]}),
    )
    .await;
    assert_eq!(visible.body["resources"][0]["status"], "in_progress");
    assert!(
        visible.body["resources"][0].get("comments").is_none(),
        "Falcon does not return comments on the alert"
    );

    let closed = patch(
        &sb,
        &tok,
        "/alerts/entities/alerts/v3",
        json!({"composite_ids": [id], "action_parameters": [
            {"name": "update_status", "value": "closed"}, {"name": "unassign", "value": ""}
        ]}),
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK);
    let now = control_alert(&sb, &id).await;
    assert_eq!(now["status"], "closed");
    assert!(now.get("assigned_to_name").is_none());

    let bad_status = patch(
        &sb,
        &tok,
        "/alerts/entities/alerts/v3",
        json!({"composite_ids": [id], "action_parameters": [{"name": "update_status", "value": "done"}]}),
    )
    .await;
    assert_eq!(bad_status.status, StatusCode::BAD_REQUEST);
    assert!(bad_status.error_messages()[0].contains("update_status"));

    let bad_action = patch(
        &sb,
        &tok,
        "/alerts/entities/alerts/v3",
        json!({"composite_ids": [id], "action_parameters": [{"name": "explode", "value": "x"}]}),
    )
    .await;
    assert_eq!(bad_action.status, StatusCode::BAD_REQUEST);
    assert!(bad_action.error_messages()[0].contains("explode"));

    let unknown = patch(
        &sb,
        &tok,
        "/alerts/entities/alerts/v3",
        json!({"composite_ids": ["missing"], "action_parameters": [{"name": "update_status", "value": "closed"}]}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["meta"]["writes"]["resources_affected"], 0);
    assert_eq!(unknown.body["errors"][0]["id"], "missing");
}

#[tokio::test]
async fn hosts_details_get_and_post_with_partial_404() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let (d0, d1) = (device_id(&sb, 0), device_id(&sb, 1));
    let g = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?ids={d0}&ids={d1}"),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK);
    assert_envelope(&g);
    assert_eq!(g.body["resources"][0]["device_id"], json!(d0));
    assert_eq!(g.body["resources"][1]["device_id"], json!(d1));
    assert_eq!(g.body["resources"][0]["status"], "normal");

    let p = post(
        &sb,
        &tok,
        "/devices/entities/devices/v2",
        json!({"ids": [d1, "ffffffffffffffffffffffffffffffff"]}),
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(p.body["resources"][0]["device_id"], json!(d1));
    assert_eq!(p.body["errors"][0]["code"], 404);
    assert_eq!(
        p.body["errors"][0]["id"],
        "ffffffffffffffffffffffffffffffff"
    );

    let many: Vec<String> = (0..101).map(|i| format!("ids=x{i}")).collect();
    let too_many = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?{}", many.join("&")),
    )
    .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);

    let added = sb
        .control(
            "/crowdstrike/devices",
            json!({"hostname": "WS-NEW-01", "platform_name": "Mac"}),
        )
        .await;
    let new_id = added["device_id"].as_str().unwrap_or("").to_string();
    assert_eq!(new_id.len(), 32);
    let fetched = post(
        &sb,
        &tok,
        "/devices/entities/devices/v2",
        json!({"ids": [new_id]}),
    )
    .await;
    assert_eq!(fetched.body["resources"][0]["hostname"], "WS-NEW-01");
    assert_eq!(fetched.body["resources"][0]["status"], "normal");
}

#[tokio::test]
async fn hosts_query_filters_and_sorts() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let q = get(
        &sb,
        &tok,
        "/devices/queries/devices/v1?filter=hostname:'WS-*'&sort=hostname.desc&limit=10",
    )
    .await;
    assert_eq!(q.status, StatusCode::OK);
    let mut ws: Vec<(String, String)> = sb.seed["crowdstrike"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|d| d["hostname"].as_str().is_some_and(|h| h.starts_with("WS-")))
        .map(|d| {
            (
                d["hostname"].as_str().unwrap_or("").to_string(),
                d["device_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    ws.sort();
    ws.reverse();
    let expected: Vec<Value> = ws.iter().map(|(_, id)| json!(id)).collect();
    assert_eq!(q.body["resources"], json!(expected));
    assert_eq!(q.body["meta"]["pagination"]["total"], expected.len());

    let exact = get(
        &sb,
        &tok,
        "/devices/queries/devices/v1?filter=hostname:'srv-build-07'",
    )
    .await;
    assert_eq!(exact.body["resources"], json!([device_id(&sb, 3)]));

    let bad = get(&sb, &tok, "/devices/queries/devices/v1?filter=hostname:").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["errors"][0]["code"], 400);
}

#[tokio::test]
async fn containment_goes_through_pending_and_conflicts_answer_409() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let aid = device_id(&sb, 0);
    let contain = "/devices/entities/devices-actions/v2?action_name=contain";
    let lift = "/devices/entities/devices-actions/v2?action_name=lift_containment";
    let status_of = |a: &Answer| a.body["resources"][0]["status"].clone();

    // Default delay: pending right after the action.
    let a = post(&sb, &tok, contain, json!({"ids": [aid]})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_envelope(&a);
    assert_eq!(a.body["resources"], json!([{"id": aid, "path": ""}]));
    let d = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?ids={aid}"),
    )
    .await;
    assert_eq!(status_of(&d), "containment_pending");
    let again = post(&sb, &tok, contain, json!({"ids": [aid]})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["errors"][0]["code"], 409);

    // With no delay the states settle at once.
    sb.control("/crowdstrike/settings", json!({"containment_delay_ms": 0}))
        .await;
    let other = device_id(&sb, 1);
    assert_eq!(
        post(&sb, &tok, contain, json!({"ids": [other]}))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let d = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?ids={other}"),
    )
    .await;
    assert_eq!(status_of(&d), "contained");
    let l = post(&sb, &tok, lift, json!({"ids": [other]})).await;
    assert_eq!(l.status, StatusCode::ACCEPTED);
    let d = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?ids={other}"),
    )
    .await;
    assert_eq!(status_of(&d), "normal");
    let not_contained = post(&sb, &tok, lift, json!({"ids": [other]})).await;
    assert_eq!(not_contained.status, StatusCode::CONFLICT);

    let no_action = post(
        &sb,
        &tok,
        "/devices/entities/devices-actions/v2",
        json!({"ids": [aid]}),
    )
    .await;
    assert_eq!(no_action.status, StatusCode::BAD_REQUEST);
    let bad_action = post(
        &sb,
        &tok,
        "/devices/entities/devices-actions/v2?action_name=nuke",
        json!({"ids": [aid]}),
    )
    .await;
    assert_eq!(bad_action.status, StatusCode::BAD_REQUEST);
    let unknown = post(&sb, &tok, contain, json!({"ids": ["0000"]})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["errors"][0]["id"], "0000");

    // Hidden hosts leave the id search.
    let hide = "/devices/entities/devices-actions/v2?action_name=hide_host";
    assert_eq!(
        post(&sb, &tok, hide, json!({"ids": [other]})).await.status,
        StatusCode::ACCEPTED
    );
    let q = get(&sb, &tok, "/devices/queries/devices/v1").await;
    assert!(
        !q.body["resources"]
            .as_array()
            .is_some_and(|ids| ids.contains(&json!(other)))
    );
}

/// FalconPy's `perform_action(action_name="contain")` then `perform_action(action_name=
/// "lift_containment")` on the same host, the second while the first is still pending: Falcon
/// is last-write-wins, so both answer 202 and the host ends `normal`.
#[tokio::test]
async fn contain_then_lift_while_pending_is_accepted_and_ends_normal() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let aid = device_id(&sb, 2);
    let contain = "/devices/entities/devices-actions/v2?action_name=contain";
    let lift = "/devices/entities/devices-actions/v2?action_name=lift_containment";
    let details = format!("/devices/entities/devices/v2?ids={aid}");
    let status_of = |a: &Answer| a.body["resources"][0]["status"].clone();

    let c = post(&sb, &tok, contain, json!({"ids": [aid]})).await;
    assert_eq!(c.status, StatusCode::ACCEPTED);
    assert_eq!(
        status_of(&get(&sb, &tok, &details).await),
        "containment_pending"
    );
    let l = post(&sb, &tok, lift, json!({"ids": [aid]})).await;
    assert_eq!(l.status, StatusCode::ACCEPTED, "{}", l.body);
    assert_eq!(l.body["resources"], json!([{"id": aid, "path": ""}]));
    assert_eq!(
        status_of(&get(&sb, &tok, &details).await),
        "lift_containment_pending"
    );
    let twice = post(&sb, &tok, lift, json!({"ids": [aid]})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "already being lifted");

    // Once the pending change settles the host is back to normal, never contained.
    sb.control("/crowdstrike/settings", json!({"containment_delay_ms": 0}))
        .await;
    let again = post(&sb, &tok, contain, json!({"ids": [aid]})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(status_of(&get(&sb, &tok, &details).await), "contained");
    let l = post(&sb, &tok, lift, json!({"ids": [aid]})).await;
    assert_eq!(l.status, StatusCode::ACCEPTED);
    assert_eq!(status_of(&get(&sb, &tok, &details).await), "normal");
}

#[tokio::test]
async fn rate_limit_answers_429_with_epoch_retry_after() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    sb.control(
        "/limits",
        json!({"service": "crowdstrike", "method": "api", "per_minute": 2, "burst": 2}),
    )
    .await;
    let path = "/alerts/queries/alerts/v2";
    let first = get(&sb, &tok, path).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(get(&sb, &tok, path).await.status, StatusCode::OK);
    let limited = get(&sb, &tok, path).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body["errors"],
        json!([{"code": 429, "message": "API rate limit exceeded."}])
    );
    let now = chrono::Utc::now().timestamp();
    let retry: i64 = limited
        .header("x-ratelimit-retryafter")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        retry > now && retry <= now + 61,
        "epoch seconds, not a duration: {retry}"
    );
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
}

#[tokio::test]
async fn injected_faults_use_falcon_error_shapes() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    sb.control(
        "/faults",
        json!({"service": "crowdstrike", "path": "/alerts/combined/alerts/v1", "status": 503}),
    )
    .await;
    let a = post(&sb, &tok, "/alerts/combined/alerts/v1", json!({})).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.body["errors"][0]["code"], 503);
    assert!(a.body["meta"]["trace_id"].is_string());
    assert!(a.header("x-cs-traceid").is_some());
    let ok = post(&sb, &tok, "/alerts/combined/alerts/v1", json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "times defaults to 1");

    sb.control(
        "/faults",
        json!({"service": "crowdstrike", "method": "PATCH", "path": "/alerts/entities/alerts/v3", "status": 429, "retry_after": 30}),
    )
    .await;
    let limited = patch(&sb, &tok, "/alerts/entities/alerts/v3", json!({})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body["errors"][0]["message"],
        "API rate limit exceeded."
    );
    let now = chrono::Utc::now().timestamp();
    let retry: i64 = limited
        .header("x-ratelimit-retryafter")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((now + 29..=now + 31).contains(&retry), "{retry} vs {now}");
}

#[tokio::test]
async fn reset_restores_hosts_and_drops_alerts() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    sb.control("/crowdstrike/settings", json!({"containment_delay_ms": 0}))
        .await;
    let aid = device_id(&sb, 2);
    inject(&sb, json!({})).await;
    post(
        &sb,
        &tok,
        "/devices/entities/devices-actions/v2?action_name=contain",
        json!({"ids": [aid]}),
    )
    .await;
    let reset = sb.control("/reset", json!({})).await;
    assert_eq!(reset["ok"], true);

    let alerts = post(&sb, &tok, "/alerts/combined/alerts/v1", json!({})).await;
    assert_eq!(alerts.status, StatusCode::OK, "tokens survive a reset");
    assert_eq!(alerts.body["resources"], json!([]));
    let d = get(
        &sb,
        &tok,
        &format!("/devices/entities/devices/v2?ids={aid}"),
    )
    .await;
    assert_eq!(d.body["resources"][0]["status"], "normal");
    let knobs = crate::common::get_json(&sb.http, &sb.url("/_sandbox/crowdstrike/settings")).await;
    assert_eq!(knobs["containment_delay_ms"], 2000);
}

#[tokio::test]
async fn control_api_rejects_bad_bodies_and_unknown_alerts() {
    let sb = sandbox().await;
    let bad = sb
        .http
        .post(sb.url("/_sandbox/crowdstrike/alerts"))
        .header("content-type", "application/json")
        .body("[1,2")
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let wrong_type = sb
        .http
        .post(sb.url("/_sandbox/crowdstrike/alerts"))
        .json(&json!({"severity": "high"}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    let missing = sb
        .http
        .get(sb.url("/_sandbox/crowdstrike/alerts/nope"))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_paths_answer_a_falcon_404_envelope() {
    let sb = sandbox().await;
    let tok = token(&sb).await;
    let a = get(&sb, &tok, "/detects/queries/detects/v1").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["errors"][0]["code"], 404);
    assert!(a.header("x-cs-traceid").is_some());
}
