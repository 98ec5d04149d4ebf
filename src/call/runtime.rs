//! The flow engine's [`Runtime`] over the shared [`Line`]: the URLs, voices,
//! values, conditions, actions and hand-offs the engine asks for while it walks a call.

use crate::call::Line;
use crate::config::Settings;
use crate::domain::outbound::Purpose;
use crate::flow::engine::Runtime;
use crate::flow::{ActionId, Condition, Flow};
use crate::session::Session;
use crate::telephony::input::CallerInput;
use crate::words::prompts::{Catalog, Channel, Lang};
use crate::words::speech;

impl Runtime for Line {
    fn flow(&self) -> &Flow {
        &self.flow
    }

    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_url)
    }

    fn voice(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.settings.voice_en.as_deref(),
            Lang::Es => self.settings.voice_es.as_deref(),
        }
    }

    fn value(&self, session: &Session, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        let now = self.clock.now();
        // The caller's agency's hours when one answers them, else the unit's.
        let hours = self.hours(session);
        match (session.values.get(name), name) {
            (Some(v), _) => Some(v.render(&self.catalog, lang, channel)),
            (None, "office_hours") => speech::office_hours(hours, lang),
            (None, "agency") => self.agency(session).map(|a| a.name(lang).to_string()),
            (None, "next_open") => {
                let local = now.with_timezone(&hours.tz).naive_local();
                hours
                    .next_open(now)
                    .map(|open| speech::next_open(local, open, lang))
            }
            (None, "holiday") => hours.holiday(now, lang).map(String::from),
            (None, _) => setting_value(&self.settings, name, lang, channel),
        }
    }

    async fn condition(&self, condition: Condition, session: &Session) -> anyhow::Result<bool> {
        Ok(match condition {
            Condition::OfficeOpen => self.hours(session).is_open(self.clock.now()),
            Condition::Verified => session.verified,
            Condition::Tty => session.channel == Channel::Tty,
            Condition::LanguageChosen => session.lang.is_some(),
            Condition::Announcement => self
                .store
                .announcements()
                .current(self.now())
                .await?
                .is_some(),
            Condition::Holiday => self
                .hours(session)
                .holiday(self.clock.now(), Lang::En)
                .is_some(),
            Condition::Agency => self.agency(session).is_some(),
            Condition::CallbackRequested => session.callback_requested,
            Condition::StaffTransfer => session.staff_transfer.is_some(),
            Condition::CallbackLastAttempt => match session.callback_request {
                Some(id) => self
                    .store
                    .callback_queue()
                    .state(id)
                    .await?
                    .is_some_and(|(_, attempts)| attempts >= self.settings.dialer.attempts),
                None => false,
            },
            Condition::CanText => {
                self.settings.sms_from.is_some()
                    && self.settings.twilio_account_sid.is_some()
                    && session.caller.as_deref().is_some_and(|n| {
                        self.outbound
                            .check(n, Purpose::Text, session.dialled.as_deref())
                            .is_ok()
                    })
            }
            Condition::RepresentativeReached => {
                session.transfer_result.is_some_and(|r| r.reached())
            }
        })
    }

    async fn action(
        &self,
        action: ActionId,
        arg: Option<&str>,
        input: Option<&CallerInput>,
        session: &mut Session,
    ) -> anyhow::Result<Option<String>> {
        let act = crate::actions::Act {
            store: &self.store,
            settings: &self.settings,
            outbound: &self.outbound,
            checks: self.checks(),
            reading: self.reading(),
            texts: &self.texts,
            recordings: &self.recordings,
            now: self.clock.now(),
            agencies: self.agencies.as_ref(),
            arg,
            input,
            session,
        };
        crate::actions::run(action, act).await
    }

    async fn representative(
        &self,
        session: &mut Session,
        after: String,
    ) -> anyhow::Result<crate::telephony::twiml::Element> {
        let mut ctx = crate::domain::transfer::Context::of(session);
        // A caller the dialer called back: the case and role of their request.
        if let Some(id) = session.callback_request
            && let Some(c) = self.store.callback_queue().get(id).await?
        {
            ctx.case_number = c.case_number;
            ctx.role = c.role;
        }
        // A caller a staff member sent here goes back to that staff member (once).
        let (el, destination) = match session.staff_transfer.take() {
            Some(t) => {
                let dest = crate::domain::transfer::Destination::parse_return_to(&t.return_to)
                    .map_err(anyhow::Error::msg)?;
                let call_agency = crate::domain::agencies::of_call(self.agencies.as_ref(), session);
                ctx = match self.store.staff().agency_of(&t.by).await? {
                    Some(sender) => ctx.for_staff_of(sender.as_deref(), call_agency.as_deref()),
                    // No such account any more: nobody to vouch for the number it gave.
                    None => ctx.without_case(),
                };
                (dest.dial(&ctx, after), t.return_to)
            }
            None => {
                let wait = self.url("/voice/queue/wait");
                let workflow = self.settings.csu_workflow_sid.as_deref();
                // The caller's agency's own line, else (none, or one still to be
                // filled in) the statewide unit. Its wait URL names its queue, whose
                // size the dialer keeps apart.
                let own = match self.agency(session) {
                    Some(a) => {
                        let own_wait = match a.queue() {
                            Some(q) => format!(
                                "{wait}?queue={}",
                                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                            ),
                            None => wait.clone(),
                        };
                        a.hand_over(workflow, &ctx, after.clone(), own_wait)?
                    }
                    None => None,
                };
                match own {
                    Some(handed) => handed,
                    None => crate::domain::transfer::to_representative(
                        &self.settings,
                        &ctx,
                        after,
                        wait,
                    )?,
                }
            }
        };
        session.transfer_result = None;
        session.callback_requested = false;
        crate::ops::metrics::count("caseline_transfers_total");
        session.transferred = true;
        if let Some(pop) = &self.screen_pop {
            pop.send(&ctx, destination);
        }
        Ok(el)
    }

    async fn pay(
        &self,
        session: &mut Session,
        after: String,
    ) -> anyhow::Result<crate::telephony::twiml::Element> {
        let connector = self
            .settings
            .pay
            .connector
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("<Pay> without CASELINE_PAY_CONNECTOR"))?;
        let amount = session
            .paying
            .as_ref()
            .and_then(|p| p.amount)
            .ok_or_else(|| anyhow::anyhow!("<Pay> before an amount was chosen"))?;
        let case = session
            .case
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("<Pay> without a chosen case"))?;
        let ending = case.ending().to_string();
        // This `<Pay>`'s own id: its result is taken only with it, and only once.
        let id = crate::domain::pay::new_pay_id();
        let action = format!("{after}?pay={id}");
        if let Some(p) = session.paying.as_mut() {
            p.pay_id = Some(id);
            p.answered = None;
        }
        Ok(crate::domain::pay::element(
            connector,
            amount,
            &ending,
            action,
            self.url("/voice/pay-status"),
        ))
    }

    async fn announcement(&self, lang: Lang) -> anyhow::Result<Option<String>> {
        Ok(self
            .store
            .announcements()
            .current(self.now())
            .await?
            .map(|a| match lang {
                Lang::En => a.text_en,
                Lang::Es => a.text_es,
            }))
    }
}

/// The placeholders filled from settings (the agency's phone numbers).
pub(crate) fn setting_value(
    settings: &Settings,
    name: &str,
    lang: Lang,
    channel: Channel,
) -> Option<String> {
    let number = match name {
        "csu_phone" => &settings.csu_phone,
        "tty_phone" => &settings.tty_phone,
        "epc_phone" => &settings.epc_phone,
        "office_hours" => return speech::office_hours(&settings.hours, lang),
        _ => return None,
    };
    Some(speech::phone(number, channel))
}
