//! Flow 2's front half through the sandbox with the bot in-process (SPEC §3): every seeded
//! alert type is classified, its SOP found (page id and version read back from Confluence's
//! own API), shown on the card and planned on the case in the runbook's order, destructive
//! calls waiting for approval; no SOP is said on the case and the thread while flow 1 still
//! completes; the model classifies, or the rules stand in visibly; `/triage test` injects.

use serde_json::{Value, json};
use vigil::case::remediation::{CallStatus, SopStatus};
use vigil::case::{Case, CaseId};
use vigil::triage::classify::ClassifiedBy;

use crate::common::{
    ALERTS, Bot, TestSandbox, drop_section, sandbox, start_bot, start_bot_with, triage_text, until,
};

const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
const CAROL: &str = "carol.diaz@acme.example";

/// The bot without `[llm]`: the rules classify and the runbook runs as written.
async fn rules_bot(ts: &TestSandbox) -> Bot {
    start_bot_with(ts, |t| drop_section(&t, "llm")).await
}

/// The only case, once flow 2's front half is done with it (classified, SOP searched,
/// planned) and its card shows the SOP's outcome.
async fn planned_case(ts: &TestSandbox, bot: &Bot) -> Case {
    let case = until("flow 2 planned the case", || async {
        let cases = bot.running.engine.store.cases().ok()?;
        let [case] = cases.as_slice() else {
            return None;
        };
        let t = case.triage.as_ref()?;
        let busy = case
            .steps
            .iter()
            .any(|s| matches!(s.step.kind(), "classify" | "find_sop" | "remediate"));
        (t.sop != SopStatus::Pending && !busy).then(|| case.clone())
    })
    .await;
    until("the card shows the SOP", || async {
        let text = card_text(ts, &case.id).await?;
        text.contains("*SOP*").then_some(())
    })
    .await;
    bot.running
        .engine
        .store
        .get(&case.id)
        .expect("store")
        .expect("case")
}

async fn card_text(ts: &TestSandbox, id: &CaseId) -> Option<String> {
    Some(ts.card_of(id.as_str()).await?.to_string())
}

/// The seeded SOP page of `label` as Confluence's own API answers it: (id, version, title).
async fn confluence_sop(ts: &TestSandbox, label: &str) -> (String, u64, String) {
    let email = ts.creds["confluence"]["email"].as_str().unwrap_or_default();
    let token = ts.creds["confluence"]["api_token"]
        .as_str()
        .unwrap_or_default();
    let get = |path: String| {
        ts.http
            .get(ts.url(&format!("/confluence/wiki{path}")))
            .basic_auth(email, Some(token))
            .send()
    };
    let cql = format!(r#"type = page AND space = "SEC" AND label = "{label}""#);
    let q: String = url::form_urlencoded::byte_serialize(cql.as_bytes()).collect();
    let hits: Value = get(format!("/rest/api/search?cql={q}&limit=1"))
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let id = hits["results"][0]["content"]["id"]
        .as_str()
        .expect("a page")
        .to_string();
    let page: Value = get(format!("/api/v2/pages/{id}"))
        .await
        .expect("page")
        .json()
        .await
        .expect("json");
    let version = page["version"]["number"].as_u64().expect("version");
    let title = page["title"].as_str().expect("title").to_string();
    (id, version, title)
}

/// What a type's case must show: its classification, the SOP of record as Confluence has it,
/// the card saying both, and the runbook's tools in order (a step runs once per entity, so
/// repeats of one tool are folded), the destructive ones waiting for an analyst.
async fn assert_planned(ts: &TestSandbox, case: &Case, kind: &str, tools: &[&str]) {
    let t = case.triage.as_ref().expect("classified");
    assert_eq!(t.classification.alert_type.as_str(), kind, "{:?}", t);
    let (page_id, version, title) = confluence_sop(ts, &format!("sop-{kind}")).await;
    let sop = t.sop_ref().expect("an SOP of record");
    assert_eq!(
        (&sop.page_id, sop.version, &sop.title),
        (&page_id, version, &title)
    );
    let card = card_text(ts, &case.id).await.expect("card");
    for shown in [kind, &title, &format!("(v{version})")] {
        assert!(card.contains(shown), "card lacks {shown}: {card}");
    }
    let mut names: Vec<&str> = t.calls.iter().map(|c| c.name.as_str()).collect();
    names.dedup();
    assert_eq!(names, tools, "{:#?}", t.calls);
    for c in &t.calls {
        let destructive = c.tool.is_some_and(|tool| tool.destructive());
        assert_eq!(
            c.status == CallStatus::AwaitingApproval,
            destructive,
            "call {c:?}"
        );
        assert!(!matches!(c.status, CallStatus::Refused { .. }), "{c:?}");
    }
    let plan = plan_comments(ts).await;
    assert_eq!(plan.len(), 1, "one plan comment: {plan:?}");
    assert!(plan[0].contains(&page_id), "{}", plan[0]);
}

/// The issue's plan comments (the case is the only one).
async fn plan_comments(ts: &TestSandbox) -> Vec<String> {
    let Some(number) = ts.issues().await.first().and_then(|i| i["number"].as_u64()) else {
        return vec![];
    };
    ts.issue_comments(number)
        .await
        .iter()
        .filter_map(|c| c["body"].as_str().map(str::to_string))
        .filter(|b| b.contains("**Classification:**"))
        .collect()
}

async fn falcon_alert(ts: &TestSandbox, alert: Value) {
    ts.control("/crowdstrike/alerts", alert).await;
}

/// Posts a generic alert to the bot's signed webhook.
async fn webhook(ts: &TestSandbox, bot: &Bot, alert: Value) -> Value {
    let secret =
        std::fs::read_to_string(bot.dir.path().join("secrets/webhook_secret")).expect("secret");
    let body = alert.to_string();
    let now = chrono::Utc::now().timestamp();
    let sig = vigil::pipeline::webhook::sign(secret.trim(), now, body.as_bytes());
    let r = ts
        .http
        .post(format!("http://{}/v1/alerts", bot.listen))
        .header("x-vigil-timestamp", now.to_string())
        .header("x-vigil-signature", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_malware_alert_plans_the_malware_runbook() {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    falcon_alert(
        &ts,
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Malware",
               "technique_id": "T1204",
               "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    assert_planned(
        &ts,
        &case,
        "malware",
        &[
            "crowdstrike_host_details",
            "virustotal_file",
            "crowdstrike_contain_host",
        ],
    )
    .await;
    let t = case.triage.as_ref().expect("triage");
    assert_eq!(t.classification.by, ClassifiedBy::Rules);
    assert_eq!(t.calls[0].args["device_id"], json!(CAROL_MBP));
    bot.running.shutdown().await;
}

/// A Falcon alert of one type reaches its card with that type's SOP and runbook planned.
async fn falcon_alert_plans(alert: Value, kind: &str, tools: &[&str]) {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    falcon_alert(&ts, alert).await;
    let case = planned_case(&ts, &bot).await;
    assert_planned(&ts, &case, kind, tools).await;
    bot.running.shutdown().await;
}

#[tokio::test]
async fn a_c2_alert_plans_the_c2_runbook() {
    falcon_alert_plans(
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30,
               "tactic": "Command and Control", "technique_id": "T1071",
               "ioc_context": [{"ioc_type": "domain", "ioc_value": "update-check.example"}]}),
        "c2",
        &[
            "abuseipdb_check_ip",
            "virustotal_domain",
            "tavily_search",
            "crowdstrike_contain_host",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_data_exfiltration_alert_plans_its_runbook() {
    falcon_alert_plans(
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Exfiltration",
               "technique_id": "T1567", "user_name": "carol.diaz",
               "ioc_context": [{"ioc_type": "domain", "ioc_value": "files-share.example"}]}),
        "data_exfiltration",
        &[
            "crowdstrike_host_details",
            "virustotal_domain",
            "okta_suspend_user",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_identity_alert_plans_the_suspicious_login_runbook() {
    falcon_alert_plans(
        json!({"product": "idp", "severity": 30, "tactic": "Credential Access",
               "technique_id": "T1110", "source_account_upn": CAROL,
               "source_endpoint_ip_address": "198.51.100.23"}),
        "suspicious_login",
        &["abuseipdb_check_ip", "okta_get_user", "okta_clear_sessions"],
    )
    .await;
}

#[tokio::test]
async fn a_reported_email_on_the_webhook_plans_the_phishing_runbook() {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    webhook(
        &ts,
        &bot,
        json!({"id": "mail-1", "name": "Reported email", "severity": 30,
               "sender": "payroll@acme-payroll.example", "user_email": CAROL,
               "entities": {"urls": ["https://acme-payroll.example/confirm"]}}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    assert_eq!(case.alert.sender, "payroll@acme-payroll.example");
    assert_eq!(
        case.alert.entities.urls,
        ["https://acme-payroll.example/confirm"]
    );
    assert_planned(
        &ts,
        &case,
        "phishing",
        &[
            "emailrep_query",
            "urlscan_scan",
            "virustotal_url",
            "okta_clear_sessions",
        ],
    )
    .await;
    bot.running.shutdown().await;
}

#[tokio::test]
async fn triage_test_other_injects_an_alert_that_follows_the_other_sop() {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    let said = triage_text(&ts, "test other").await;
    assert!(said.contains("VIG-1"), "{said}");
    let case = planned_case(&ts, &bot).await;
    assert_eq!(case.alert.source, "test");
    assert_planned(&ts, &case, "other", &["tavily_search", "slack_notify"]).await;
    bot.running.shutdown().await;
}

#[tokio::test]
async fn triage_test_lists_the_types_and_refuses_an_unknown_one() {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    let listed = triage_text(&ts, "test").await;
    for t in [
        "malware",
        "phishing",
        "suspicious_login",
        "c2",
        "data_exfiltration",
        "other",
    ] {
        assert!(listed.contains(&format!("`{t}`")), "{listed}");
    }
    let bogus = triage_text(&ts, "test bogus").await;
    assert!(bogus.contains("usage: /triage test [type]"), "{bogus}");
    // Neither opened a case: the next legitimate test alert is the first case.
    let said = triage_text(&ts, "test malware").await;
    assert!(said.contains("case VIG-1."), "{said}");
    let case = planned_case(&ts, &bot).await;
    assert_eq!(
        case.triage
            .expect("triage")
            .classification
            .alert_type
            .as_str(),
        "malware"
    );
    bot.running.shutdown().await;
}

#[tokio::test]
async fn without_an_sop_the_case_and_thread_say_so_and_flow_1_completes() {
    let ts = sandbox().await;
    let bot = start_bot_with(&ts, |t| {
        drop_section(&t, "llm").replace("space = \"SEC\"", "space = \"NOPE\"")
    })
    .await;
    falcon_alert(
        &ts,
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Malware",
               "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let t = case.triage.as_ref().expect("triage");
    let SopStatus::NotFound { query } = &t.sop else {
        panic!("no SOP expected: {:?}", t.sop);
    };
    assert!(query.contains("NOPE"), "{query}");
    assert!(t.calls.is_empty());
    assert!(
        case.timeline
            .iter()
            .any(|e| e.text.starts_with("No SOP found for malware")),
        "{:#?}",
        case.timeline
    );
    let card = ts.card_of(case.id.as_str()).await.expect("card");
    let thread = ts
        .replies(ALERTS, card["ts"].as_str().unwrap_or_default())
        .await;
    let no_sop = thread
        .iter()
        .filter(|m| m.to_string().contains("No SOP was found for *malware*"))
        .count();
    assert_eq!(no_sop, 1, "{thread:#?}");
    assert!(card.to_string().contains("No SOP found for malware"));
    // Flow 1 went on: the owner was asked (her DM is there) and the plan comment says so.
    until("the owner's DM", || async {
        let dms = ts.tagged("D0CAROL003", "dm").await;
        (!dms.is_empty()).then_some(())
    })
    .await;
    let plan = plan_comments(&ts).await;
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(plan[0].contains("none found"), "{}", plan[0]);
    bot.running.shutdown().await;
}

#[tokio::test]
async fn the_scripted_model_classifies_and_a_bad_answer_falls_back_to_the_rules() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    // The model calls this malware-looking alert C2: its answer, not the rules', stands.
    ts.control(
        "/llm/script",
        json!({"when": "ALERT_DATA", "times": 1, "reply": {"content":
            json!({"alert_type": "c2", "severity": "high", "rationale": "beaconing to a known C2 domain"}).to_string()}}),
    )
    .await;
    falcon_alert(
        &ts,
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Malware",
               "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let c = &case.triage.as_ref().expect("triage").classification;
    assert_eq!(
        (c.alert_type.as_str(), c.by, c.rationale.as_str()),
        ("c2", ClassifiedBy::Llm, "beaconing to a known C2 domain")
    );
    let card = card_text(&ts, &case.id).await.expect("card");
    assert!(card.contains("beaconing to a known C2 domain"), "{card}");
    bot.running.shutdown().await;

    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    ts.control(
        "/llm/script",
        json!({"when": "ALERT_DATA", "times": 1, "reply": {"content": "Sure! It is malware."}}),
    )
    .await;
    falcon_alert(
        &ts,
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Malware",
               "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let c = &case.triage.as_ref().expect("triage").classification;
    assert_eq!(
        (c.alert_type.as_str(), c.by),
        ("malware", ClassifiedBy::Rules)
    );
    assert!(
        c.fallback
            .as_deref()
            .is_some_and(|f| f.contains("not the schema's JSON")),
        "{c:?}"
    );
    assert!(
        case.timeline
            .iter()
            .any(|e| e.text.contains("the model's answer was not used")),
        "{:#?}",
        case.timeline
    );
    let card = card_text(&ts, &case.id).await.expect("card");
    assert!(card.contains("the rules decided"), "{card}");
    bot.running.shutdown().await;
}

/// Requests Vigil made to Falcon's device search.
async fn device_searches(ts: &TestSandbox) -> Vec<Value> {
    ts.requests("crowdstrike")
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("/devices/queries/devices/v1"))
        })
        .collect()
}

#[tokio::test]
async fn a_webhook_alert_naming_a_host_gets_its_device_id_or_a_note() {
    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    webhook(
        &ts,
        &bot,
        json!({"id": "edr-1", "name": "Trojan dropped", "severity": 30, "tactic": "Malware",
               "hostname": "WS-CAROL-MBP",
               "entities": {"hashes": ["275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"]}}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let t = case.triage.as_ref().expect("triage");
    assert_eq!(t.entities.device_ids, [CAROL_MBP]);
    assert_eq!(device_searches(&ts).await.len(), 1);
    // The runbook's host steps name the device id the lookup found.
    assert_eq!(t.calls[0].name, "crowdstrike_host_details");
    assert_eq!(t.calls[0].args["device_id"], json!(CAROL_MBP));
    bot.running.shutdown().await;

    let ts = sandbox().await;
    let bot = rules_bot(&ts).await;
    ts.control(
        "/faults",
        json!({"service": "crowdstrike", "method": "GET", "path": "/devices/queries/devices/v1",
               "status": 403, "times": 0}),
    )
    .await;
    webhook(
        &ts,
        &bot,
        json!({"id": "edr-2", "name": "Trojan dropped", "severity": 30, "tactic": "Malware",
               "hostname": "WS-CAROL-MBP",
               "entities": {"hashes": ["275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"]}}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let t = case.triage.as_ref().expect("triage");
    assert!(t.entities.device_ids.is_empty());
    let notes: Vec<&str> = case
        .timeline
        .iter()
        .map(|e| e.text.as_str())
        .filter(|n| {
            n.contains("find device by hostname")
                && n.contains("403")
                && n.contains("stays unknown")
        })
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", case.timeline);
    // Classification and planning went on: the host step has no device id to name, so the
    // runbook names the host by its name.
    assert_eq!(t.classification.alert_type.as_str(), "malware");
    assert!(!t.calls.is_empty());
    bot.running.shutdown().await;
}

#[tokio::test]
async fn confluence_refusing_the_search_leaves_the_sop_unavailable_and_says_so() {
    let ts = sandbox().await;
    ts.control(
        "/faults",
        json!({"service": "confluence", "path": "/wiki/rest/api/search", "status": 403, "times": 0}),
    )
    .await;
    let bot = rules_bot(&ts).await;
    falcon_alert(
        &ts,
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "tactic": "Malware",
               "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}),
    )
    .await;
    let case = planned_case(&ts, &bot).await;
    let t = case.triage.as_ref().expect("triage");
    let SopStatus::Unavailable { error } = &t.sop else {
        panic!("unavailable expected: {:?}", t.sop);
    };
    assert!(error.contains("403"), "{error}");
    assert!(t.calls.is_empty());
    let card = ts.card_of(case.id.as_str()).await.expect("card");
    assert!(
        card.to_string()
            .contains("Confluence could not be searched")
    );
    let thread = ts
        .replies(ALERTS, card["ts"].as_str().unwrap_or_default())
        .await;
    let said = thread
        .iter()
        .filter(|m| m.to_string().contains("Confluence could not be searched ("))
        .count();
    assert_eq!(said, 1, "{thread:#?}");
    bot.running.shutdown().await;
}
