//! Each step element read into its compiled form: sequences and their verbs, actions
//! and their outcomes, menus and inputs with their prompting and misses.

use super::*;

impl Compiler<'_> {
    pub(super) fn sequence(&mut self, node: &Node) -> Vec<Verb> {
        self.check_attrs(node, &["id"]);
        let mut verbs: Vec<Verb> = Vec::new();
        for v in &node.children {
            let Some(verb) = self.verb(v, true) else {
                continue;
            };
            // A TTY caller always takes `<If condition="tty">`: what follows is voice only.
            if let Verb::If {
                condition: Condition::Tty,
                negate: false,
                ..
            } = verb
            {
                self.voice_only = true;
            }
            verbs.push(verb);
        }
        self.voice_only = false;
        let ends = verbs.last().is_some_and(|last| match last {
            Verb::Goto(_) | Verb::Redirect(_) | Verb::Hangup => true,
            Verb::Transfer { after, .. } => after.is_some(),
            Verb::Representative { .. } | Verb::Pay { .. } => true,
            Verb::Action { outcomes, .. } => !outcomes.is_empty(),
            _ => false,
        });
        if !ends {
            self.err(
                &node.pos,
                "a <Step> must end with <Goto>, <Redirect> or <Hangup> (or a transfer with a step), \
                 so the caller is never left in silence",
            );
        }
        verbs
    }

    /// One verb; `full` allows control verbs (false inside a menu's intro).
    fn verb(&mut self, node: &Node, full: bool) -> Option<Verb> {
        let name = node.name.as_str();
        if !full && !matches!(name, "Say" | "Play" | "Pause" | "Announcement") {
            self.err(
                &node.pos,
                &format!("<{name}> cannot be used here: a menu may only say, play or pause before its choices"),
            );
            return None;
        }
        match name {
            "Say" => {
                self.check_attrs(node, &["prompt", "lang", "loop"]);
                self.no_children(node);
                if !node.text.is_empty() {
                    self.err(
                        &node.pos,
                        "<Say> takes a prompt id (prompt=\"...\"), not text: the words live in prompts/",
                    );
                }
                let lang = match node.attr("lang") {
                    Some(a) => match Lang::parse(&a.value) {
                        Some(l) => Some(l),
                        None => {
                            self.err(&a.pos, &format!("unknown language '{}'", a.value));
                            None
                        }
                    },
                    None => None,
                };
                let loop_ = node.attr("loop").map(|a| a.value.clone());
                let prompt = self.prompt(node, "prompt", true)?;
                Some(Verb::Say(Say {
                    prompt,
                    lang,
                    loop_,
                }))
            }
            "Play" | "Pause" => {
                self.no_children(node);
                Some(Verb::Raw(self.twiml_element(node, &[])?))
            }
            "Announcement" => {
                self.check_attrs(node, &[]);
                self.no_children(node);
                Some(Verb::Announcement)
            }
            "Goto" | "Redirect" => {
                self.check_attrs(node, &["step"]);
                self.no_children(node);
                let t = self.target(node, "step")?;
                if name == "Goto" {
                    if let Some(from) = self.current {
                        self.immediate.push((from, t));
                    }
                    Some(Verb::Goto(t))
                } else {
                    Some(Verb::Redirect(t))
                }
            }
            "If" => {
                self.check_attrs(node, &["condition", "step"]);
                self.no_children(node);
                let cond = self.required(node, "condition")?.clone();
                let (negate, cname) = match cond.value.trim().strip_prefix("not ") {
                    Some(rest) => (true, rest.trim()),
                    None => (false, cond.value.trim()),
                };
                let Some(condition) = Condition::parse(cname) else {
                    let known: Vec<&str> = Condition::NAMES.iter().map(|(n, _)| *n).collect();
                    self.err(
                        &cond.pos,
                        &format!("unknown condition '{cname}' (known: {})", known.join(", ")),
                    );
                    return None;
                };
                // `not tty` leads voice callers only.
                let was = self.voice_only;
                self.voice_only |= condition == Condition::Tty && negate;
                let target = self.target(node, "step");
                self.voice_only = was;
                let target = target?;
                if let Some(from) = self.current {
                    self.immediate.push((from, target));
                }
                Some(Verb::If {
                    condition,
                    negate,
                    target,
                })
            }
            "Action" => {
                self.check_attrs(node, &["name", "value", "else"]);
                let (action, outcomes) = self.action(node, false)?;
                let arg = node.attr("value").map(|a| a.value.clone());
                Some(Verb::Action {
                    action,
                    arg,
                    outcomes,
                })
            }
            "Dial" | "Enqueue" | "Record" => {
                let extra: &[&str] = if name == "Enqueue" {
                    &["step", "wait-step"]
                } else {
                    &["step"]
                };
                let element = self.twiml_element(node, extra)?;
                let after = self.optional_target(node, "step");
                let wait = self.optional_target(node, "wait-step");
                Some(Verb::Transfer {
                    element,
                    after,
                    wait,
                })
            }
            "Representative" => {
                self.check_attrs(node, &["step"]);
                self.no_children(node);
                let after = self.target(node, "step")?;
                Some(Verb::Representative { after })
            }
            "Pay" => {
                self.check_attrs(node, &["step"]);
                self.no_children(node);
                let after = self.target(node, "step")?;
                for id in crate::flow::pay_prompts() {
                    self.prompt_id(node, id);
                }
                Some(Verb::Pay { after })
            }
            "Hangup" => {
                self.check_attrs(node, &[]);
                self.no_children(node);
                Some(Verb::Hangup)
            }
            other => {
                self.err(&node.pos, &format!("unknown verb <{other}>"));
                None
            }
        }
    }

    /// An action and its outcome mapping (`<On outcome=".." step=".."/>` children, plus
    /// `else` for any outcome not listed).
    fn action(&mut self, node: &Node, input: bool) -> Option<(ActionId, Vec<(String, StepIx)>)> {
        let attr_name = if input { "action" } else { "name" };
        let name_attr = self.required(node, attr_name)?.clone();
        let found = self
            .actions
            .iter()
            .position(|a| a.name == name_attr.value)
            .and_then(|i| u16::try_from(i).ok());
        let Some(action) = found.map(ActionId) else {
            let known: Vec<&str> = self.actions.iter().map(|a| a.name).collect();
            self.err(
                &name_attr.pos,
                &format!(
                    "unknown action '{}' (known: {})",
                    name_attr.value,
                    known.join(", ")
                ),
            );
            return None;
        };
        let actions = self.actions;
        let spec = actions[usize::from(action.0)];
        for id in spec.prompts {
            self.prompt_at(&name_attr.pos, id);
        }
        if spec.takes_input != input {
            let msg = if spec.takes_input {
                format!(
                    "action '{}' needs the caller's input: use it from an <Input>",
                    spec.name
                )
            } else {
                format!(
                    "action '{}' takes no input: use <Action> in a <Step>",
                    spec.name
                )
            };
            self.err(&name_attr.pos, &msg);
        }
        match node.attr("value") {
            Some(v) if spec.values.is_empty() => {
                self.err(&v.pos, &format!("action '{}' takes no value", spec.name))
            }
            Some(v) if !spec.values.contains(&v.value.as_str()) => self.err(
                &v.pos,
                &format!(
                    "action '{}' takes value {}, not '{}'",
                    spec.name,
                    spec.values.join(" or "),
                    v.value
                ),
            ),
            None if !spec.values.is_empty() && !input => self.err(
                &node.pos,
                &format!(
                    "action '{}' needs value={}",
                    spec.name,
                    spec.values.join("|")
                ),
            ),
            _ => {}
        }
        let mut outcomes = Vec::new();
        for child in &node.children {
            if child.name != "On" {
                if !matches!(
                    child.name.as_str(),
                    "Say" | "Play" | "Pause" | "NoInput" | "NoMatch"
                ) || !input
                {
                    self.err(
                        &child.pos,
                        &format!("<{}> cannot hold <{}>", node.name, child.name),
                    );
                }
                continue;
            }
            self.check_attrs(child, &["outcome", "step"]);
            let Some(outcome) = self.required(child, "outcome").cloned() else {
                continue;
            };
            if !spec.outcomes.contains(&outcome.value.as_str()) {
                self.err(
                    &outcome.pos,
                    &format!(
                        "action '{}' has no outcome '{}' (it answers: {})",
                        spec.name,
                        outcome.value,
                        spec.outcomes.join(", ")
                    ),
                );
                continue;
            }
            if outcomes.iter().any(|(o, _)| *o == outcome.value) {
                self.err(
                    &outcome.pos,
                    &format!("outcome '{}' is mapped twice", outcome.value),
                );
                continue;
            }
            if let Some(t) = self.target(child, "step") {
                if !input && let Some(from) = self.current {
                    self.immediate.push((from, t));
                }
                outcomes.push((outcome.value.clone(), t));
            }
        }
        if let Some(t) = self.optional_target(node, "else") {
            if !input && let Some(from) = self.current {
                self.immediate.push((from, t));
            }
            for o in spec.outcomes {
                if !outcomes.iter().any(|(m, _)| m == o) {
                    outcomes.push((o.to_string(), t));
                }
            }
        }
        for o in spec.outcomes {
            if !outcomes.iter().any(|(m, _)| m == o) {
                self.err(
                    &node.pos,
                    &format!(
                        "action '{}' can answer '{o}', which no <On> or else= handles",
                        spec.name
                    ),
                );
            }
        }
        Some((action, outcomes))
    }

    /// A TwiML verb passed through: its own attributes per the provider's schema, minus
    /// the URL ones the server writes itself, plus `extra` flow attributes.
    fn twiml_element(&mut self, node: &Node, extra: &[&str]) -> Option<Element> {
        let Some(spec) = twiml::spec(&node.name) else {
            self.err(&node.pos, &format!("unknown verb <{}>", node.name));
            return None;
        };
        let server_owned = ["action", "method", "waitUrl", "waitUrlMethod", "url"];
        let mut el = Element::new(spec.name);
        for a in &node.attrs {
            if extra.contains(&a.name.as_str()) {
                continue;
            }
            if server_owned.contains(&a.name.as_str())
                && !matches!(spec.name, "Number" | "Sip" | "Client" | "Queue")
            {
                self.err(
                    &a.pos,
                    &format!(
                        "{} on <{}> is written by the server: use step=\"...\"",
                        a.name, node.name
                    ),
                );
                continue;
            }
            match spec.attrs.iter().find(|n| **n == a.name) {
                Some(n) => el.attrs.push((n, a.value.clone())),
                None => self.err(
                    &a.pos,
                    &format!("unknown attribute {} on <{}>", a.name, node.name),
                ),
            }
        }
        if !node.text.is_empty() {
            if spec.text {
                el.text = Some(node.text.clone());
            } else {
                self.err(&node.pos, &format!("<{}> takes no text", node.name));
            }
        }
        for child in &node.children {
            if !spec.children.contains(&child.name.as_str()) {
                self.err(
                    &child.pos,
                    &format!("<{}> cannot hold <{}>", node.name, child.name),
                );
                continue;
            }
            if let Some(c) = self.twiml_element(child, &[]) {
                el.children.push(c);
            }
        }
        Some(el)
    }

    fn misses(&mut self, node: &Node, into: &mut Vec<(u32, Miss)>) {
        self.check_attrs(node, &["count", "prompt", "step"]);
        let count = self.number(node, "count", 1, (1, MAX_MISSES));
        let miss = match node.attr("step") {
            Some(_) => match self.target(node, "step") {
                Some(t) => Miss::Goto(t),
                None => return,
            },
            None => Miss::Reprompt(self.prompt(node, "prompt", false)),
        };
        if into.iter().any(|(c, _)| *c == count) {
            self.err(
                &node.pos,
                &format!("<{}> count=\"{count}\" is given twice", node.name),
            );
            return;
        }
        into.push((count, miss));
    }

    fn key(&mut self, node: &Node, keys: &mut Vec<(char, StepIx)>) {
        self.check_attrs(node, &["digit", "step"]);
        let Some(d) = self.required(node, "digit").cloned() else {
            return;
        };
        let mut chars = d.value.chars();
        let digit = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_digit() => c,
            (Some('*'), None) | (Some('#'), None) => {
                self.err(
                    &d.pos,
                    &format!(
                        "key {} is kept for every menu ({}): choose another",
                        d.value,
                        if d.value == "*" {
                            "it repeats the menu"
                        } else {
                            "it asks for more time"
                        }
                    ),
                );
                return;
            }
            _ => {
                self.err(
                    &d.pos,
                    &format!("digit must be one key 0-9, not '{}'", d.value),
                );
                return;
            }
        };
        if keys.iter().any(|(k, _)| *k == digit) {
            self.err(&d.pos, &format!("duplicate key {digit} in this menu"));
            return;
        }
        if let Some(t) = self.target(node, "step") {
            keys.push((digit, t));
        }
    }

    pub(super) fn menu_defaults(&mut self, node: &Node) -> Defaults {
        let saved = self.current.take();
        let mut d = Defaults::default();
        for child in &node.children {
            match child.name.as_str() {
                "Key" => self.key(child, &mut d.keys),
                "NoInput" => self.misses(child, &mut d.noinput),
                "NoMatch" => self.misses(child, &mut d.nomatch),
                other => self.err(&child.pos, &format!("<MenuDefaults> cannot hold <{other}>")),
            }
        }
        self.current = saved;
        d
    }

    fn prompting(&mut self, node: &Node, defaults: &Defaults, tag: &str) -> Option<Prompting> {
        let mut noinput = Vec::new();
        let mut nomatch = Vec::new();
        let mut intro = Vec::new();
        for child in &node.children {
            match child.name.as_str() {
                "NoInput" => self.misses(child, &mut noinput),
                "NoMatch" => self.misses(child, &mut nomatch),
                "Say" | "Play" | "Pause" | "Announcement" => {
                    if let Some(v) = self.verb(child, false) {
                        intro.push(v);
                    }
                }
                _ => {}
            }
        }
        let noinput = merge_misses(noinput, &defaults.noinput);
        let nomatch = merge_misses(nomatch, &defaults.nomatch);
        for (kind, list) in [("NoInput", &noinput), ("NoMatch", &nomatch)] {
            if !matches!(list.last(), Some(Miss::Goto(_))) {
                self.err(
                    &node.pos,
                    &format!(
                        "this <{tag}> has no step for its last <{kind}>: give one in the menu or in <MenuDefaults>"
                    ),
                );
            }
        }
        let prompt = self.prompt(node, "prompt", true)?;
        let help = self.prompt(node, "help", false);
        let timeout = self.number(node, "timeout", 6, (1, 60));
        Some(Prompting {
            intro,
            prompt,
            help,
            timeout,
            noinput,
            nomatch,
        })
    }

    pub(super) fn menu(&mut self, node: &Node, defaults: &Defaults) -> Menu {
        self.check_attrs(node, &["id", "prompt", "help", "timeout", "bilingual"]);
        let mut keys = Vec::new();
        for child in &node.children {
            match child.name.as_str() {
                "Key" => self.key(child, &mut keys),
                "NoInput" | "NoMatch" | "Say" | "Play" | "Pause" | "Announcement" => {}
                other => self.err(&child.pos, &format!("<Menu> cannot hold <{other}>")),
            }
        }
        self.keys_match_words(node, &keys, &defaults.keys);
        let own: Vec<char> = keys.iter().map(|(k, _)| *k).collect();
        for (k, t) in &defaults.keys {
            if !keys.iter().any(|(m, _)| m == k) {
                keys.push((*k, *t));
                self.edges.push((self.current, *t));
            }
        }
        let prompting = self
            .prompting(node, defaults, "Menu")
            .unwrap_or_else(empty_prompting);
        let words = self.spoken_words(node, &prompting.prompt, &keys, &own);
        let hints = [Some(Lang::En), Some(Lang::Es), None].map(|lang| {
            let mut seen: Vec<&str> = Vec::new();
            for (_, per_lang) in &words {
                for (l, phrases) in per_lang {
                    if lang.is_none_or(|want| *l == want) {
                        for p in phrases {
                            if !seen.contains(&p.as_str()) {
                                seen.push(p);
                            }
                        }
                    }
                }
            }
            seen.join(", ")
        });
        Menu {
            prompting,
            keys,
            words,
            hints,
        }
    }

    pub(super) fn input(&mut self, node: &Node, defaults: &Defaults) -> Input {
        self.check_attrs(
            node,
            &[
                "id",
                "prompt",
                "help",
                "timeout",
                "action",
                "numDigits",
                "finishOnKey",
                "input",
            ],
        );
        let prompting = self
            .prompting(node, defaults, "Input")
            .unwrap_or_else(empty_prompting);
        let (action, outcomes) = self.action(node, true).unwrap_or((ActionId(0), Vec::new()));
        let num_digits = node
            .attr("numDigits")
            .map(|_| self.number(node, "numDigits", 1, (1, 32)));
        let finish_on_key = node
            .attr("finishOnKey")
            .map_or("#".to_string(), |a| a.value.clone());
        if !finish_on_key
            .chars()
            .all(|c| c.is_ascii_digit() || c == '#' || c == '*')
            || finish_on_key.len() > 1
        {
            self.err(&node.pos, "finishOnKey must be one key, or empty");
        }
        let speech = match node
            .attr("input")
            .map(|a| (a.value.as_str(), a.pos.clone()))
        {
            None | Some(("dtmf", _)) => false,
            Some(("dtmf speech", _)) | Some(("speech dtmf", _)) => true,
            Some((other, pos)) => {
                self.err(
                    &pos,
                    &format!("input must be \"dtmf\" or \"dtmf speech\", not '{other}'"),
                );
                false
            }
        };
        Input {
            prompting,
            action,
            outcomes,
            num_digits,
            finish_on_key,
            speech,
        }
    }
}
