//! Reading results back the way a person or vendor would see them: cards and DMs through
//! Slack's history, issues through GitHub, incidents through PagerDuty, alerts through Falcon.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::text::*;
use super::{Demo, WAIT};

impl Demo {
    /// Top-level messages in #alerts carrying Vigil's card metadata, oldest first.
    pub(super) async fn cards(&self) -> Vec<Value> {
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
    pub(super) async fn wait_card_for_alert(&self, composite_id: &str) -> Option<Value> {
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
    pub(super) fn alert_of_case(&self, case: &str) -> Option<String> {
        self.cases
            .borrow()
            .iter()
            .find(|(c, _)| c == case)
            .map(|(_, a)| a.clone())
    }

    pub(super) async fn issues(&self) -> Vec<Value> {
        self.github("/issues?state=all&per_page=100")
            .await
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    pub(super) async fn issue_of(&self, case: &str) -> Option<Value> {
        let marker = format!("<!-- vigil:case={case} -->");
        self.issues()
            .await
            .into_iter()
            .find(|i| i["body"].as_str().is_some_and(|b| b.contains(&marker)))
    }

    pub(super) async fn wait_issue(&self, case: &str) -> Option<Value> {
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

    pub(super) async fn issue_has(
        &self,
        case: &str,
        label: &str,
        min_comments: u64,
    ) -> anyhow::Result<bool> {
        let Some(i) = self.issue_of(case).await else {
            return Ok(false);
        };
        let labelled = i["labels"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["name"] == json!(label)));
        Ok(labelled && i["comments"].as_u64().unwrap_or(0) >= min_comments)
    }

    pub(super) async fn issue_closed(&self, case: &str, reason: &str) -> anyhow::Result<bool> {
        let Some(i) = self.issue_of(case).await else {
            return Ok(false);
        };
        Ok(i["state"] == json!("closed") && i["state_reason"] == json!(reason))
    }

    pub(super) async fn dm_channel(&self, user: &str) -> String {
        self.slack("conversations.open", &[("users", user)])
            .await
            .ok()
            .and_then(|v| v["channel"]["id"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub(super) async fn wait_dm(&self, user: &str, case: &str) -> Option<Value> {
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

    pub(super) async fn replies(&self, channel: &str, ts: &str) -> Vec<Value> {
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

    pub(super) async fn thread_contains(
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

    pub(super) async fn thread_mentions(
        &self,
        channel: &str,
        ts: &str,
        user: &str,
    ) -> anyhow::Result<bool> {
        let mention = format!("<@{user}>");
        Ok(self
            .replies(channel, ts)
            .await
            .iter()
            .any(|m| message_text(m).contains(&mention)))
    }

    pub(super) async fn incident(&self, case: &str) -> anyhow::Result<bool> {
        Ok(!self.incidents(case).await?.is_empty())
    }

    pub(super) async fn incidents(&self, case: &str) -> anyhow::Result<Vec<Value>> {
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

    pub(super) async fn incident_resolved(&self, case: &str) -> anyhow::Result<bool> {
        Ok(self
            .incidents(case)
            .await?
            .iter()
            .all(|i| i["status"] == json!("resolved"))
            && self.incident(case).await?)
    }

    /// A CrowdStrike bearer token (`POST /oauth2/token`, client credentials), kept once issued.
    pub(super) async fn falcon_token(&self) -> anyhow::Result<String> {
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
    pub(super) async fn falcon_alert(&self, composite_id: &str) -> anyhow::Result<Option<Value>> {
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

    pub(super) async fn alert_closed(&self, case: &str) -> anyhow::Result<bool> {
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
    pub(super) async fn alert_commented(&self, case: &str, reason: &str) -> anyhow::Result<bool> {
        let Some(id) = self.alert_of_case(case) else {
            return Ok(false);
        };
        let recorded = self.client.requests(Some("crowdstrike"), 0).await?;
        Ok(recorded.iter().any(|r| {
            let b = &r.body;
            r.method == "PATCH"
                && r.status == 200
                && b["composite_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&json!(id)))
                && b["action_parameters"].as_array().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        p["name"] == json!("append_comment")
                            && p["value"].as_str().is_some_and(|c| c.contains(reason))
                    })
                })
        }))
    }

    pub(super) async fn card_says(&self, case: &str, needle: &str) -> anyhow::Result<bool> {
        let cards = self.cards().await;
        Ok(cards
            .iter()
            .any(|c| card_case(c) == case && message_text(c).contains(needle)))
    }

    /// The card has no buttons left and its state says who resolved it and why.
    pub(super) async fn card_final(
        &self,
        case: &str,
        by: &str,
        reason: &str,
    ) -> anyhow::Result<bool> {
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

    pub(super) fn case_is_paged(&self, card: &Value) -> bool {
        has_action(card, "case_resolve") && card.to_string().to_lowercase().contains("paged")
    }

    pub(super) fn show_card(&self, place: &str, card: &Value) {
        println!(
            "{place} card for {}:\n{}",
            card_case(card),
            indent(&message_text(card))
        );
    }

    pub(super) async fn print_thread(&self, place: &str, channel: &str, ts: &str) {
        println!("{place}:");
        for m in self.replies(channel, ts).await {
            println!("{}", indent(&message_text(&m)));
        }
    }

    pub(super) async fn print_incident(&self, case: &str) {
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
