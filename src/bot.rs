//! The bot's inbox: what happens to each Slack event once the socket has decoded it.
//!
//! Everything here runs in the Socket Mode handler, before the ack: it parses, checks who
//! is asking, persists work for the case's runner (deduplicated by the envelope's
//! `envelope_id` and by a payload key: `event_id` for events, `action_ts` + user for buttons,
//! view id for submissions, `trigger_id` for commands) and returns. A persist that fails is
//! answered with [`NotPersisted`], so the envelope is not acked and Slack redelivers it. Reads (`/triage list`, `show`, `stats`) answer from the local store in the ack.
//! The one call made right away is `views.open` for the resolve modal, because its
//! `trigger_id` dies after 3 s; it runs on a spawned task, never in front of the ack, at most
//! once per `trigger_id` (remembered in the store before the task is spawned), and only for an
//! analyst pressing Resolve on that case's own card.

use std::sync::Arc;

use slack_morphism::prelude::*;

use crate::case::CaseId;
use crate::pipeline::Engine;
use crate::pipeline::authorize::{Ask, Refusal, authorize, existing_case};
use crate::pipeline::board::CaseSummary;
use crate::pipeline::inbound::{CaseCommand, DecideFrom, Inbound, InboundItem};
use crate::render;
use crate::slack::commands::{self, ListFilter, TriageCommand};
use crate::slack::socket::{Delivery, Inbox, NotPersisted, interaction_kind};

/// Callback id of the resolve modal.
pub const RESOLVE_VIEW: &str = "resolve_case";

/// Where a button was pressed and by whom, as its `block_actions` payload says.
struct Press<'a> {
    user: &'a str,
    channel: &'a str,
    message_ts: &'a str,
    trigger_id: String,
}

/// Where a block_actions press came from.
enum Clicked {
    /// A message in a channel or DM.
    Message {
        /// Channel id.
        channel: String,
        /// The message's ts.
        ts: String,
    },
    /// A view (App Home when `home`).
    View {
        /// The view's id.
        view_id: String,
        /// Whether it is a Home tab.
        home: bool,
    },
}

/// One approval button press, as [`Bot::approval_click`] checks it.
struct ApprovalClick<'a> {
    user: &'a str,
    clicked: &'a Clicked,
    value: &'a str,
    approve: bool,
    dedupe: &'a str,
    part: usize,
}

/// The Slack-facing half of Vigil.
pub struct Bot {
    engine: Arc<Engine>,
    bot_user: String,
}

impl Bot {
    /// A bot feeding `engine`; `bot_user` is the bot's own user id (its messages are ignored).
    pub fn new(engine: Arc<Engine>, bot_user: String) -> Self {
        Bot { engine, bot_user }
    }

    /// Persists one inbound item, deduplicated by `dedupe` (the payload key) and by the
    /// envelope (`envelope:<id>#<part>`, `part` numbering the items one envelope yields). The
    /// item records how it was delivered (`envelope_id`, `retry_attempt`, `retry_reason`).
    /// `Ok(false)` for a duplicate; `Err` when the store failed (the envelope is then not acked).
    fn queue(
        &self,
        delivery: &Delivery,
        part: usize,
        dedupe: &str,
        case: Option<&CaseId>,
        event: Inbound,
    ) -> Result<bool, NotPersisted> {
        let mut keys = vec![dedupe.to_string()];
        if !delivery.envelope_id.is_empty() {
            keys.push(format!("envelope:{}#{part}", delivery.envelope_id));
        }
        let item = InboundItem {
            case: case.cloned(),
            event,
            delivery: Some(delivery.clone()),
        };
        self.engine.enqueue_item(&keys, &item).map_err(|e| {
            tracing::error!(error = %e, envelope_id = %delivery.envelope_id, "could not persist a Slack event; not acking it so Slack redelivers");
            NotPersisted(e.to_string())
        })
    }

    fn case_command(
        &self,
        event: &SlackCommandEvent,
        delivery: &Delivery,
        id: &str,
        command: CaseCommand,
    ) -> Result<String, NotPersisted> {
        let user = event.user_id.to_string();
        let case_id = match authorize(&self.engine, &user, Ask::Analyst)
            .and_then(|()| existing_case(&self.engine, id))
        {
            Ok(case) => case.id,
            Err(refusal) => return Ok(self.told(&user, None, refusal)),
        };
        let item = Inbound::Command {
            command,
            user,
            channel: event.channel_id.to_string(),
        };
        self.queue(
            delivery,
            0,
            &format!("cmd:{}", event.trigger_id),
            Some(&case_id),
            item,
        )?;
        Ok(format!(
            "{case_id}: on it. Changes show on the card and its thread."
        ))
    }

    /// Answered from the engine's in-memory board, not by decoding every case: this runs
    /// inside the ack.
    fn list(&self, filter: ListFilter, user: &str) -> String {
        let (count, lines) = self.engine.board.with(|all| {
            let open: Vec<&CaseSummary> = all
                .filter(|c| c.state.is_open())
                .filter(|c| match filter {
                    ListFilter::Open => true,
                    ListFilter::Mine => {
                        c.assignee.as_deref() == Some(user)
                            || c.acknowledged_by.as_deref() == Some(user)
                    }
                    ListFilter::High => c.high,
                })
                .collect();
            let lines: Vec<String> = open.iter().rev().take(20).map(|c| c.line.clone()).collect();
            (open.len(), lines)
        });
        if count == 0 {
            return "No open cases match.".into();
        }
        let mut out = format!("{count} open case(s):\n");
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The period's figures from the engine's in-memory board (inside the ack, like `list`).
    fn stats(&self, period: std::time::Duration) -> String {
        let since = crate::case::flow::earlier(chrono::Utc::now(), period);
        let report = self
            .engine
            .board
            .with(|all| crate::pipeline::stats::report(all.map(|c| &c.facts), since));
        report.text(&crate::slack::commands::period_label(period))
    }

    fn show(&self, id: &str, user: &str) -> String {
        match existing_case(&self.engine, id) {
            Ok(c) => render::card::details(&c),
            Err(refusal) => self.told(user, None, refusal),
        }
    }

    /// Logs and counts a refusal answered in the ack, and renders it.
    fn told(&self, user: &str, case: Option<&CaseId>, refusal: Refusal) -> String {
        crate::telemetry::events::Refused {
            what: refusal.kind(),
            user,
            case,
        }
        .emit();
        refusal.text(case)
    }

    fn block_actions(
        &self,
        ev: SlackInteractionBlockActionsEvent,
        delivery: &Delivery,
    ) -> Result<(), NotPersisted> {
        let Some(user) = ev.user.as_ref().map(|u| u.id.to_string()) else {
            return Ok(());
        };
        let clicked = match &ev.container {
            SlackInteractionActionContainer::Message(m) => Clicked::Message {
                channel: m
                    .channel_id
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                ts: m.message_ts.to_string(),
            },
            SlackInteractionActionContainer::View(v) => Clicked::View {
                view_id: v.view_id.to_string(),
                home: matches!(ev.view, Some(SlackView::Home(_))),
            },
            _ => return Ok(()),
        };
        for (part, action) in ev.actions.unwrap_or_default().into_iter().enumerate() {
            let action_id = action.action_id.to_string();
            let ts = action
                .action_ts
                .map(|t| t.to_string())
                .unwrap_or_else(|| ev.trigger_id.to_string());
            let dedupe = format!("action:{ts}:{user}");
            if let Some(approve) = render::approval::approves(&action_id) {
                let click = ApprovalClick {
                    user: &user,
                    clicked: &clicked,
                    value: action.value.as_deref().unwrap_or_default(),
                    approve,
                    dedupe: &dedupe,
                    part,
                };
                self.approval_click(&click, delivery)?;
                continue;
            }
            let Clicked::Message {
                channel,
                ts: message_ts,
            } = &clicked
            else {
                tracing::debug!(%action_id, "ignored a view button that is not an approval");
                continue;
            };
            let Some(case_id) = action.value.as_deref().and_then(CaseId::parse) else {
                tracing::warn!(%action_id, "rejected a button without a case id value");
                continue;
            };
            if action_id == render::card::actions::RESOLVE {
                let press = Press {
                    user: &user,
                    channel,
                    message_ts,
                    trigger_id: ev.trigger_id.to_string(),
                };
                self.open_resolve_modal(&press, &case_id);
                continue;
            }
            let item = Inbound::Button {
                action_id,
                user: user.clone(),
                channel: channel.clone(),
                message_ts: message_ts.clone(),
            };
            self.queue(delivery, part, &dedupe, Some(&case_id), item)?;
        }
        Ok(())
    }

    /// An approval button (SPEC §3.3), from the request in the card's thread or the
    /// clicker's App Home: checked before the ack (analyst, token, where it was pressed,
    /// expiry, decided, the person acted on), then queued for the case's runner, which checks
    /// again and decides. A redelivered click (same envelope, or same press) does nothing a
    /// second time, not even a second refusal.
    fn approval_click(
        &self,
        click: &ApprovalClick<'_>,
        delivery: &Delivery,
    ) -> Result<(), NotPersisted> {
        let store = &self.engine.store;
        let envelope = format!("envelope:{}#{}", delivery.envelope_id, click.part);
        let seen = store.remembered(click.dedupe).unwrap_or(false)
            || (!delivery.envelope_id.is_empty() && store.remembered(&envelope).unwrap_or(false));
        if seen {
            tracing::info!(
                user = click.user,
                "a redelivered approval click did nothing again"
            );
            return Ok(());
        }
        let reply_channel = match click.clicked {
            Clicked::Message { channel, .. } => channel.clone(),
            Clicked::View { .. } => String::new(),
        };
        let Some((case_id, token)) = render::approval::parse_value(click.value) else {
            let refusal = Refusal::Approval(crate::case::approvals::Undecidable::UnknownToken);
            self.refuse_click(click, &reply_channel, None, refusal);
            return Ok(());
        };
        let from = match click.clicked {
            Clicked::Message { channel, ts } => DecideFrom::Message {
                channel: channel.clone(),
                ts: ts.clone(),
            },
            Clicked::View {
                view_id,
                home: true,
            } => DecideFrom::Home {
                view_id: view_id.clone(),
            },
            Clicked::View { home: false, .. } => {
                self.refuse_click(click, &reply_channel, Some(&case_id), Refusal::NotYourHome);
                return Ok(());
            }
        };
        let checked = authorize(&self.engine, click.user, Ask::Analyst)
            .and_then(|()| existing_case(&self.engine, case_id.as_str()))
            .and_then(|case| {
                let ask = Ask::Decide {
                    case: &case,
                    token: &token,
                    from: &from,
                    now: chrono::Utc::now(),
                };
                authorize(&self.engine, click.user, ask)
            });
        if let Err(refusal) = checked {
            self.refuse_click(click, &reply_channel, Some(&case_id), refusal);
            return Ok(());
        }
        let item = Inbound::Command {
            command: CaseCommand::Decide {
                token,
                approve: click.approve,
                from,
            },
            user: click.user.to_string(),
            channel: reply_channel,
        };
        self.queue(delivery, click.part, click.dedupe, Some(&case_id), item)
            .map(|_| ())
    }

    /// Tells the clicker, on the fast lane, why their approval click changed nothing: once
    /// per press (remembered first, so a redelivery is not answered twice).
    fn refuse_click(
        &self,
        click: &ApprovalClick<'_>,
        channel: &str,
        case: Option<&CaseId>,
        refusal: Refusal,
    ) {
        match self.engine.store.remember(click.dedupe) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "could not remember a refused click"),
        }
        let text = self.told(click.user, case, refusal);
        let engine = self.engine.clone();
        let (channel, user) = (channel.to_string(), click.user.to_string());
        tokio::spawn(async move {
            crate::pipeline::inbound::tell(&engine, &channel, &user, &text).await;
        });
    }

    /// Whether this `trigger_id` has not opened a view yet, remembering it: a redelivered
    /// envelope carries the same `trigger_id` and must not open a second modal. A store that
    /// cannot answer counts as "seen" (no second view is better than a doubled one; the person
    /// can press again).
    fn first_view_open(&self, trigger_id: &str) -> bool {
        match self
            .engine
            .store
            .remember(&format!("view-open:{trigger_id}"))
        {
            Ok(first) => {
                if !first {
                    tracing::info!(%trigger_id, "a redelivered interaction did not open its view again");
                }
                first
            }
            Err(e) => {
                tracing::error!(error = %e, %trigger_id, "could not record a view open; not opening it");
                false
            }
        }
    }

    /// Tells `user` in `channel`, on the fast lane, that their press was refused.
    fn refuse_press(&self, press: &Press<'_>, case_id: &CaseId, refusal: Refusal) {
        let text = self.told(press.user, Some(case_id), refusal);
        let engine = self.engine.clone();
        let (channel, user) = (press.channel.to_string(), press.user.to_string());
        tokio::spawn(async move {
            if let Err(e) = engine.slack.ephemeral(&channel, &user, &text).await {
                tracing::warn!(error = %e, "could not tell the user their press was refused");
            }
        });
    }

    /// The card's Resolve button: opens the reason modal right away (the `trigger_id` lives
    /// 3 s), but only for an analyst pressing it on that case's own card, and once per
    /// `trigger_id`.
    fn open_resolve_modal(&self, press: &Press<'_>, case_id: &CaseId) {
        let user = press.user;
        if let Err(refusal) = authorize(&self.engine, user, Ask::Analyst) {
            self.refuse_press(press, case_id, refusal);
            return;
        }
        let case = match self.engine.store.get(case_id) {
            Ok(Some(case)) => case,
            Ok(None) => {
                tracing::warn!(%user, case = %case_id, "refused resolve of a case that does not exist");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, case = %case_id, "could not read the case to resolve");
                return;
            }
        };
        let ask = Ask::OnCard {
            case: &case,
            channel: press.channel,
            message_ts: press.message_ts,
        };
        if let Err(refusal) = authorize(&self.engine, user, ask) {
            self.refuse_press(press, case_id, refusal);
            return;
        }
        if !self.first_view_open(&press.trigger_id) {
            return;
        }
        let view = render::modals::resolve(&case);
        let engine = self.engine.clone();
        let trigger_id = press.trigger_id.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.slack.open_view(&trigger_id, view).await {
                tracing::warn!(error = %e, "could not open the resolve modal");
            }
        });
    }

    /// `/triage new`: opens the form on the fast lane (the trigger id lives 3 s), once per
    /// `trigger_id` (a redelivered command opens no second form).
    fn new_alert_form(&self, user: &str, trigger_id: String) -> String {
        if let Err(refusal) = authorize(&self.engine, user, Ask::Analyst) {
            return self.told(user, None, refusal);
        }
        if !self.first_view_open(&trigger_id) {
            return "Opening the form…".into();
        }
        let engine = self.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine
                .slack
                .open_view(&trigger_id, render::modals::new_alert())
                .await
            {
                tracing::warn!(error = %e, "could not open the new-case form");
            }
        });
        "Opening the form…".into()
    }

    /// `/triage test [type]`: lists the types, or admits a synthetic alert of one like any
    /// other alert (analysts only). The alert id is the command's trigger id, so a redelivered
    /// command joins the same case.
    fn test_alert(
        &self,
        user: &str,
        trigger_id: &str,
        kind: Option<crate::triage::classify::AlertType>,
    ) -> Result<String, NotPersisted> {
        use crate::triage::classify::AlertType;
        if let Err(refusal) = authorize(&self.engine, user, Ask::Analyst) {
            return Ok(self.told(user, None, refusal));
        }
        let Some(kind) = kind else {
            let types: Vec<String> = AlertType::ALL
                .iter()
                .map(|t| format!("`{}`", t.as_str()))
                .collect();
            return Ok(format!(
                "Alert types for `/triage test [type]`: {}.",
                types.join(", ")
            ));
        };
        let alert = crate::pipeline::test_alert::test_alert(kind, trigger_id, user);
        match self.engine.admit(alert) {
            Ok(admission) => {
                let id = match &admission {
                    crate::store::Admission::Opened(case) => &case.id,
                    crate::store::Admission::Duplicate(id)
                    | crate::store::Admission::Grouped(id) => id,
                };
                Ok(format!(
                    "Injected a test *{}* alert: case {id}.",
                    kind.as_str()
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not admit a test alert; not acking the command");
                Err(NotPersisted(e.to_string()))
            }
        }
    }

    /// The new-case form was submitted: the case is admitted like any alert (its id is the
    /// view's, so a resubmitted form cannot open a second case).
    fn new_alert_submitted(
        &self,
        ev: &SlackInteractionViewSubmissionEvent,
    ) -> Result<(), NotPersisted> {
        let user = ev.user.id.to_string();
        if let Err(refusal) = authorize(&self.engine, &user, Ask::Analyst) {
            // A form has no reply of its own; the refusal is logged and counted.
            self.told(&user, None, refusal);
            return Ok(());
        }
        let value = |id: &str| {
            ev.view
                .state_params
                .state
                .as_ref()
                .and_then(|s| s.values.values().find_map(|m| m.get(&id.into())))
                .and_then(|v| v.value.clone())
                .unwrap_or_default()
        };
        let alert = crate::pipeline::ingest::from_form(&crate::pipeline::ingest::NewCaseForm {
            view_id: ev.view.state_params.id.to_string(),
            opened_by: user,
            title: value(render::modals::TITLE),
            description: value(render::modals::DESCRIPTION),
            severity: value(render::modals::SEVERITY),
            hostname: value(render::modals::HOSTNAME),
        });
        match self.engine.admit(alert) {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "could not admit a case opened by hand; not acking the form");
                Err(NotPersisted(e.to_string()))
            }
        }
    }

    fn view_submission(
        &self,
        ev: SlackInteractionViewSubmissionEvent,
        delivery: &Delivery,
    ) -> Result<(), NotPersisted> {
        let SlackView::Modal(modal) = &ev.view.view else {
            return Ok(());
        };
        let callback = modal.callback_id.as_ref().map(|c| c.to_string());
        if callback.as_deref() == Some(render::modals::NEW_ALERT) {
            return self.new_alert_submitted(&ev);
        }
        if callback.as_deref() != Some(RESOLVE_VIEW) {
            return Ok(());
        }
        let Some(case_id) = modal.private_metadata.as_deref().and_then(CaseId::parse) else {
            return Ok(());
        };
        let reason = ev
            .view
            .state_params
            .state
            .as_ref()
            .and_then(|s| {
                s.values
                    .values()
                    .flat_map(|m| m.values())
                    .find_map(|v| v.value.clone())
            })
            .unwrap_or_default();
        let reason = if reason.trim().is_empty() {
            "no reason given".to_string()
        } else {
            reason
        };
        let item = Inbound::Command {
            command: CaseCommand::Resolve { reason },
            user: ev.user.id.to_string(),
            channel: String::new(),
        };
        self.queue(
            delivery,
            0,
            &format!(
                "view:{}:{}",
                ev.view.state_params.id, ev.view.state_params.hash
            ),
            Some(&case_id),
            item,
        )
        .map(|_| ())
    }
}

fn ephemeral(text: String) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

impl Inbox for Bot {
    fn command(
        &self,
        event: SlackCommandEvent,
        delivery: &Delivery,
    ) -> Result<SlackCommandEventResponse, NotPersisted> {
        let text = event.text.clone().unwrap_or_default();
        let user = event.user_id.to_string();
        let parsed = TriageCommand::parse(&text);
        let reads_cases = matches!(
            parsed,
            Ok(TriageCommand::List(_) | TriageCommand::Show(_) | TriageCommand::Stats(_))
        );
        if reads_cases && let Err(refusal) = authorize(&self.engine, &user, Ask::Analyst) {
            return Ok(ephemeral(self.told(&user, None, refusal)));
        }
        let answer = match parsed {
            Ok(TriageCommand::Help) => commands::help_text(),
            Ok(TriageCommand::List(f)) => self.list(f, &user),
            Ok(TriageCommand::Show(id)) => self.show(&id, &user),
            Ok(TriageCommand::Stats(period)) => self.stats(period),
            Ok(TriageCommand::New) => self.new_alert_form(&user, event.trigger_id.to_string()),
            Ok(TriageCommand::Test(kind)) => {
                self.test_alert(&user, event.trigger_id.as_ref(), kind)?
            }
            Ok(TriageCommand::Ack(id)) => {
                self.case_command(&event, delivery, &id, CaseCommand::Ack)?
            }
            Ok(TriageCommand::Assign(id, to)) => {
                self.case_command(&event, delivery, &id, CaseCommand::Assign { to })?
            }
            Ok(TriageCommand::Escalate(id)) => {
                self.case_command(&event, delivery, &id, CaseCommand::Escalate)?
            }
            Ok(TriageCommand::Resolve(id, reason)) => {
                self.case_command(&event, delivery, &id, CaseCommand::Resolve { reason })?
            }
            Ok(TriageCommand::Snooze(id, d)) => self.case_command(
                &event,
                delivery,
                &id,
                CaseCommand::Snooze { secs: d.as_secs() },
            )?,
            Err(unknown) => self.told(&user, None, Refusal::Usage(unknown)),
        };
        Ok(ephemeral(answer))
    }

    fn interaction(
        &self,
        event: SlackInteractionEvent,
        delivery: &Delivery,
    ) -> Result<(), NotPersisted> {
        match event {
            SlackInteractionEvent::BlockActions(ev) => self.block_actions(ev, delivery),
            SlackInteractionEvent::ViewSubmission(ev) => self.view_submission(ev, delivery),
            other => {
                tracing::debug!(kind = interaction_kind(&other), "interaction ignored");
                Ok(())
            }
        }
    }

    fn push(&self, event: SlackPushEventCallback, delivery: &Delivery) -> Result<(), NotPersisted> {
        let event_id = event.event_id.to_string();
        match event.event {
            SlackEventCallbackBody::Message(m) => {
                let is_im = m
                    .origin
                    .channel_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .as_deref()
                    == Some("im");
                let from_person = m.sender.bot_id.is_none() && m.subtype.is_none();
                let Some(user) = m.sender.user.as_ref().map(|u| u.to_string()) else {
                    return Ok(());
                };
                if !is_im || !from_person || user == self.bot_user {
                    return Ok(());
                }
                let item = Inbound::OwnerText {
                    user,
                    channel: m.origin.channel.map(|c| c.to_string()).unwrap_or_default(),
                    text: m.content.and_then(|c| c.text).unwrap_or_default(),
                    thread_ts: m.origin.thread_ts.map(|t| t.to_string()),
                };
                self.queue(delivery, 0, &format!("event:{event_id}"), None, item)
                    .map(|_| ())
            }
            SlackEventCallbackBody::AppHomeOpened(h) => {
                let engine = self.engine.clone();
                let user = h.user.to_string();
                tokio::spawn(async move { crate::pipeline::home::publish(&engine, &user).await });
                Ok(())
            }
            _ => {
                tracing::debug!(%event_id, "event ignored");
                Ok(())
            }
        }
    }
}
