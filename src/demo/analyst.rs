//! The analyst scenes: `/triage help`, a high identity alert paged at once, refusals for
//! people who may not act, and resolving by command and by modal until every vendor agrees.

use std::cell::RefCell;

use serde_json::json;

use super::text::*;
use super::{Demo, cast};

impl Demo {
    pub(super) async fn triage_help(&self) {
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

    pub(super) async fn high_identity_alert(&self) {
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

    pub(super) async fn refusals(&self) {
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

    pub(super) async fn resolve_by_command(&self, case: &str) {
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

    pub(super) async fn resolve_by_modal(&self) {
        println!("\n== 8. Ben resolves Dan's case from the card's Resolve button");
        // The card says "paged" once its update after the page lands, which may trail the
        // page itself: wait for it rather than reading the channel once.
        let paged = RefCell::new(None);
        let found = self
            .wait("a paged case's card to resolve", || async {
                let cards = self.cards().await;
                *paged.borrow_mut() = cards.into_iter().find(|c| self.case_is_paged(c));
                Ok(paged.borrow().is_some())
            })
            .await;
        let Some(card) = paged.into_inner().filter(|_| found) else {
            return;
        };
        let case = card_case(&card);
        self.click(cast::BEN, &self.alerts.clone(), &ts(&card), "case_resolve")
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
    pub(super) async fn wait_closed_everywhere(&self, case: &str, by: &str, reason: &str) {
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
}
