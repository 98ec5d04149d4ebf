//! From positioned XML to a [`Flow`], collecting every problem with its place.

use std::collections::{HashMap, HashSet};

use super::xml::{Node, Pos, parse};
use super::{
    ActionId, ActionSpec, Condition, Flow, Input, KeyWords, Menu, Miss, Prompting, Say, Step,
    StepIx, StepKind, VARIABLES, Verb,
};
use crate::telephony::twiml::{self, Element};
use crate::words::prompts::{Catalog, Channel, Lang};

/// The highest miss count a handler may name.
const MAX_MISSES: u32 = 9;

struct Compiler<'a> {
    catalog: &'a Catalog,
    actions: &'a [&'a ActionSpec],
    names: HashMap<String, StepIx>,
    errors: Vec<String>,
    /// Steps referenced, for reachability: (from, to).
    edges: Vec<(Option<StepIx>, StepIx)>,
    /// Edges that stay inside one answer (Goto, If, Action outcomes), for loop detection.
    immediate: Vec<(StepIx, StepIx)>,
    current: Option<StepIx>,
    /// What follows an `<If condition="tty">` in a step (or the target of `not tty`):
    /// no TTY caller gets there.
    voice_only: bool,
    /// The edges a TTY caller can take.
    tty_edges: Vec<(Option<StepIx>, StepIx)>,
    /// Prompts a TTY caller may be sent, with the step that sends them (`None`: the menu
    /// defaults, which every menu sends).
    tty_prompts: Vec<(Option<StepIx>, Pos, String)>,
}

/// Compiles flow files (name, text) against the prompt catalog and the actions' specs;
/// each entry in `required_entries` (the ones the server jumps to) must be defined.
pub fn compile(
    files: &[(&str, &str)],
    catalog: &Catalog,
    actions: &[&ActionSpec],
    required_entries: &[&str],
) -> Result<Flow, Vec<String>> {
    let mut errors = Vec::new();
    let mut roots = Vec::new();
    for (file, text) in files {
        match parse(file, text) {
            Ok(root) if root.name == "Flow" => {
                if let Some(a) = root.attrs.first() {
                    errors.push(format!("{}: unknown attribute {} on <Flow>", a.pos, a.name));
                }
                roots.push(root)
            }
            Ok(root) => errors.push(format!(
                "{}: the root element must be <Flow>, not <{}>",
                root.pos, root.name
            )),
            Err(e) => errors.push(e),
        }
    }

    // First pass: every step's name, so references can point forward and across files.
    let mut names = HashMap::new();
    let mut step_nodes: Vec<&Node> = Vec::new();
    let mut first_seen: HashMap<String, Pos> = HashMap::new();
    for root in &roots {
        for node in &root.children {
            if !matches!(node.name.as_str(), "Step" | "Menu" | "Input") {
                continue;
            }
            let Some(id) = node.attr("id") else {
                errors.push(format!("{}: <{}> needs an id", node.pos, node.name));
                continue;
            };
            if !valid_name(&id.value) {
                errors.push(format!(
                    "{}: step id '{}' may hold only letters, digits, '-', '_' and '.'",
                    id.pos, id.value
                ));
                continue;
            }
            if let Some(prev) = first_seen.get(&id.value) {
                errors.push(format!(
                    "{}: duplicate step id '{}' (first defined at {prev})",
                    id.pos, id.value
                ));
                continue;
            }
            first_seen.insert(id.value.clone(), node.pos.clone());
            names.insert(id.value.clone(), step_nodes.len());
            step_nodes.push(node);
        }
    }

    let mut c = Compiler {
        catalog,
        actions,
        names,
        errors,
        edges: Vec::new(),
        immediate: Vec::new(),
        current: None,
        voice_only: false,
        tty_edges: Vec::new(),
        tty_prompts: Vec::new(),
    };

    // Menu defaults and entries.
    let mut defaults: Option<&Node> = None;
    let mut entries = HashMap::new();
    for root in &roots {
        for node in &root.children {
            match node.name.as_str() {
                "Step" | "Menu" | "Input" => {}
                "MenuDefaults" => {
                    c.check_attrs(node, &[]);
                    if defaults.is_some() {
                        c.err(&node.pos, "a second <MenuDefaults>; there may be only one");
                    }
                    defaults = Some(node);
                }
                "Entry" => {
                    c.check_attrs(node, &["name", "step"]);
                    let name = c.required(node, "name").map(|a| a.value.clone());
                    let step = c.target(node, "step");
                    if let (Some(name), Some(step)) = (name, step)
                        && entries.insert(name.clone(), step).is_some()
                    {
                        c.err(&node.pos, &format!("entry '{name}' is defined twice"));
                    }
                }
                other => c.err(&node.pos, &format!("unknown element <{other}> in <Flow>")),
            }
        }
    }
    for required in required_entries {
        if !entries.contains_key(*required) && !roots.is_empty() {
            c.errors.push(format!(
                "{}: no <Entry name=\"{required}\"> in any flow file",
                roots[0].pos
            ));
        }
    }
    let defaults = defaults.map(|d| c.menu_defaults(d)).unwrap_or_default();
    for id in super::ENGINE_PROMPTS
        .iter()
        .chain(["error.apology", "error.goodbye"].iter())
    {
        let missing = catalog.missing_in(id);
        if !missing.is_empty() {
            let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
            c.errors.push(format!(
                "prompts: the server's own prompt '{id}' is missing in language {}",
                langs.join(", ")
            ));
        }
    }

    let mut steps = Vec::with_capacity(step_nodes.len());
    for (ix, node) in step_nodes.iter().enumerate() {
        c.current = Some(ix);
        let name = node.attr("id").map(|a| a.value.clone()).unwrap_or_default();
        let kind = match node.name.as_str() {
            "Step" => StepKind::Sequence(c.sequence(node)),
            "Menu" => StepKind::Menu(c.menu(node, &defaults)),
            _ => StepKind::Input(c.input(node, &defaults)),
        };
        let file = std::path::Path::new(&*node.pos.file)
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        steps.push(Step { name, kind, file });
    }
    c.current = None;

    // Reachability from the entries (and from what the defaults point to).
    let reached = reach(steps.len(), entries.values().copied(), &c.edges);
    if !entries.is_empty() {
        for (ix, node) in step_nodes.iter().enumerate() {
            if !reached[ix] {
                c.errors.push(format!(
                    "{}: step '{}' is unreachable: no entry, key or step leads to it",
                    node.pos, steps[ix].name
                ));
            }
        }
    }

    c.tty_text(&steps, &entries);

    // A cycle of Goto/If/Action edges would spin inside one webhook answer.
    if let Some(cycle) = find_cycle(steps.len(), &c.immediate) {
        let names: Vec<&str> = cycle.iter().map(|&s| steps[s].name.as_str()).collect();
        c.errors.push(format!(
            "{}: steps {} jump to each other without waiting for the caller (an endless loop)",
            step_nodes[cycle[0]].pos,
            names.join(" -> ")
        ));
    }

    if c.errors.is_empty() {
        Ok(Flow {
            steps,
            by_name: c.names,
            entries: entries.into_iter().collect(),
        })
    } else {
        Err(c.errors)
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn find_cycle(n: usize, edges: &[(StepIx, StepIx)]) -> Option<Vec<StepIx>> {
    let mut out: Vec<Vec<StepIx>> = vec![Vec::new(); n];
    for (f, t) in edges {
        out[*f].push(*t);
    }
    // 0 = unseen, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; n];
    let mut path = Vec::new();
    fn visit(
        s: StepIx,
        out: &[Vec<StepIx>],
        state: &mut [u8],
        path: &mut Vec<StepIx>,
    ) -> Option<Vec<StepIx>> {
        state[s] = 1;
        path.push(s);
        for &t in &out[s] {
            if state[t] == 1 {
                let start = path.iter().position(|&p| p == t).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(t);
                return Some(cycle);
            }
            if state[t] == 0
                && let Some(c) = visit(t, out, state, path)
            {
                return Some(c);
            }
        }
        path.pop();
        state[s] = 2;
        None
    }
    for s in 0..n {
        if state[s] == 0
            && let Some(c) = visit(s, &out, &mut state, &mut path)
        {
            return Some(c);
        }
    }
    None
}

#[derive(Default)]
struct Defaults {
    keys: Vec<(char, StepIx)>,
    noinput: Vec<(u32, Miss)>,
    nomatch: Vec<(u32, Miss)>,
}

/// Which of `count` steps `edges` lead to from `starts` (an edge from `None`, a menu
/// default, leads from anywhere).
fn reach(
    count: usize,
    starts: impl IntoIterator<Item = StepIx>,
    edges: &[(Option<StepIx>, StepIx)],
) -> Vec<bool> {
    let mut reached = vec![false; count];
    let mut todo: Vec<StepIx> = starts.into_iter().collect();
    todo.extend(edges.iter().filter(|(f, _)| f.is_none()).map(|(_, t)| *t));
    let mut out: HashMap<StepIx, Vec<StepIx>> = HashMap::new();
    for (from, to) in edges {
        if let Some(f) = from {
            out.entry(*f).or_default().push(*to);
        }
    }
    while let Some(s) = todo.pop() {
        if std::mem::replace(&mut reached[s], true) {
            continue;
        }
        todo.extend(out.get(&s).into_iter().flatten().copied());
    }
    reached
}

impl Compiler<'_> {
    /// Every prompt a TTY caller can be sent must have TTY text in every language: a
    /// TTY caller reached from any entry but the voice line's (staff, recovery and
    /// callbacks take TTY callers too), by the edges a TTY caller can take; the server's
    /// own prompts as well.
    fn tty_text(&mut self, steps: &[Step], entries: &HashMap<String, StepIx>) {
        let tty_entry = entries.keys().any(|e| e != "voice");
        if !tty_entry {
            return;
        }
        let starts = entries
            .iter()
            .filter(|(name, _)| *name != "voice")
            .map(|(_, ix)| *ix);
        let reached = reach(steps.len(), starts, &self.tty_edges);
        let mut seen = HashSet::new();
        let mut errors = Vec::new();
        for (step, pos, id) in &self.tty_prompts {
            if step.is_some_and(|s| !reached[s]) || !seen.insert((*step, id.clone())) {
                continue;
            }
            let missing = self.catalog.tty_missing_in(id);
            if missing.is_empty() || !self.catalog.has(id) {
                continue;
            }
            let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
            let whose = match step {
                Some(s) => format!("step '{}' reaches TTY callers", steps[*s].name),
                None => "every menu's defaults reach TTY callers".to_string(),
            };
            errors.push(format!(
                "{pos}: {whose}, but prompt '{id}' has no [tty] text in {} \
                 (a TTY caller would be sent the spoken words)",
                langs.join(", ")
            ));
        }
        let own = super::ENGINE_PROMPTS
            .iter()
            .chain(["error.apology", "error.goodbye"].iter())
            .map(|id| (id.to_string(), "the server's own prompt"));
        let values = super::VALUE_PROMPTS.iter().flat_map(|id| {
            let ids = match id.ends_with('.') {
                true => self.catalog.ids_under(id),
                false => vec![id.to_string()],
            };
            ids.into_iter().map(|id| (id, "the server's prompt"))
        });
        for (id, whose) in own.chain(values) {
            let missing = self.catalog.tty_missing_in(&id);
            if self.catalog.has(&id) && !missing.is_empty() {
                let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
                errors.push(format!(
                    "prompts: {whose} '{id}' reaches TTY callers, but has no [tty] text in {}",
                    langs.join(", ")
                ));
            }
        }
        self.errors.extend(errors);
    }

    fn err(&mut self, pos: &Pos, msg: &str) {
        self.errors.push(format!("{pos}: {msg}"));
    }

    fn check_attrs(&mut self, node: &Node, allowed: &[&str]) {
        for a in &node.attrs {
            if !allowed.contains(&a.name.as_str()) {
                self.errors.push(format!(
                    "{}: unknown attribute {} on <{}>",
                    a.pos, a.name, node.name
                ));
            }
        }
    }

    fn no_children(&mut self, node: &Node) {
        if let Some(child) = node.children.first() {
            self.err(
                &child.pos,
                &format!("<{}> cannot hold <{}>", node.name, child.name),
            );
        }
    }

    fn required<'n>(&mut self, node: &'n Node, name: &str) -> Option<&'n super::xml::Attr> {
        let attr = node.attr(name);
        if attr.is_none() {
            self.err(
                &node.pos,
                &format!("<{}> needs the attribute {name}", node.name),
            );
        }
        attr
    }

    /// Resolves a step reference held in attribute `name`, required.
    fn target(&mut self, node: &Node, name: &str) -> Option<StepIx> {
        let attr = self.required(node, name)?;
        self.resolve(&attr.value, &attr.pos)
    }

    fn optional_target(&mut self, node: &Node, name: &str) -> Option<StepIx> {
        let attr = node.attr(name)?;
        self.resolve(&attr.value, &attr.pos)
    }

    fn resolve(&mut self, step: &str, pos: &Pos) -> Option<StepIx> {
        match self.names.get(step) {
            Some(&ix) => {
                self.edges.push((self.current, ix));
                if !self.voice_only {
                    self.tty_edges.push((self.current, ix));
                }
                Some(ix)
            }
            None => {
                self.err(pos, &format!("unknown step '{step}'"));
                None
            }
        }
    }

    fn prompt(&mut self, node: &Node, name: &str, required: bool) -> Option<String> {
        let attr = if required {
            self.required(node, name)?
        } else {
            node.attr(name)?
        };
        let (id, pos) = (attr.value.clone(), attr.pos.clone());
        self.prompt_at(&pos, &id).then_some(id)
    }

    /// A prompt the server says for this element (`<Pay>`'s card prompts).
    fn prompt_id(&mut self, node: &Node, id: &str) {
        let pos = node.pos.clone();
        self.prompt_at(&pos, id);
    }

    /// Checks that prompt `id` is in every language and fills only known placeholders.
    fn prompt_at(&mut self, pos: &Pos, id: &str) -> bool {
        let missing = self.catalog.missing_in(id);
        if !missing.is_empty() {
            let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
            self.err(
                pos,
                &format!("prompt '{id}' is missing in language {}", langs.join(", ")),
            );
            return false;
        }
        if !self.voice_only {
            self.tty_prompts
                .push((self.current, pos.clone(), id.to_string()));
        }
        for var in self.catalog.placeholders(id) {
            if !VARIABLES.contains(&var.as_str()) {
                self.err(
                    pos,
                    &format!("prompt '{id}' uses {{{var}}}, which the server does not fill"),
                );
            }
        }
        true
    }

    fn number(&mut self, node: &Node, name: &str, default: u32, range: (u32, u32)) -> u32 {
        let Some(attr) = node.attr(name) else {
            return default;
        };
        match attr.value.trim().parse::<u32>() {
            Ok(v) if (range.0..=range.1).contains(&v) => v,
            _ => {
                self.err(
                    &attr.pos,
                    &format!(
                        "{name} must be a whole number from {} to {}, not '{}'",
                        range.0, range.1, attr.value
                    ),
                );
                default
            }
        }
    }

    fn sequence(&mut self, node: &Node) -> Vec<Verb> {
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
                for id in super::pay_prompts() {
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

    fn menu_defaults(&mut self, node: &Node) -> Defaults {
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

    fn menu(&mut self, node: &Node, defaults: &Defaults) -> Menu {
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

    /// A menu's keys and its words must agree: each `<Key>` of its own is offered
    /// somewhere in its prompt or help ("press N", "oprima N", or a TTY list "N WORD"),
    /// in some language or the TTY text; and a digit offered in any of those words has a
    /// key (its own, or one from `<MenuDefaults>`). An analyst who adds a key but not
    /// the words, or the words but not the key, hears about it here, not from callers.
    /// Each language offers the same keys (on each channel), unless the menu is
    /// `bilingual` (each language offering its own, as the language menu does).
    fn keys_match_words(
        &mut self,
        node: &Node,
        own: &[(char, StepIx)],
        defaults: &[(char, StepIx)],
    ) {
        // The menu's prompt and help, and any <Say> it opens with.
        let ids: Vec<String> = ["prompt", "help"]
            .iter()
            .filter_map(|a| node.attr(a).map(|v| v.value.clone()))
            .chain(
                node.children
                    .iter()
                    .filter(|c| c.name == "Say")
                    .filter_map(|c| c.attr("prompt").map(|v| v.value.clone())),
            )
            .collect();
        let mut offered = std::collections::BTreeSet::new();
        // The keys each language offers, per channel: a key offered in English must be
        // offered in Spanish too, and the other way round, unless the menu says it is
        // bilingual (the language menu: each language offers its own key).
        let mut by_lang: Vec<((Channel, Lang), std::collections::BTreeSet<char>)> = Vec::new();
        for id in &ids {
            for (lang, channel, text) in self.catalog.texts(id) {
                let at = match by_lang.iter().position(|(k, _)| *k == (channel, lang)) {
                    Some(at) => at,
                    None => {
                        by_lang.push(((channel, lang), Default::default()));
                        by_lang.len() - 1
                    }
                };
                let per_lang = &mut by_lang[at].1;
                for digit in super::words::offered_digits(&text) {
                    offered.insert(digit);
                    per_lang.insert(digit);
                    let handled = own.iter().chain(defaults).any(|(k, _)| *k == digit);
                    if !handled {
                        let tty = if channel == crate::words::prompts::Channel::Tty {
                            " TTY"
                        } else {
                            ""
                        };
                        self.err(
                            &node.pos,
                            &format!(
                                "prompt '{id}' ({}{tty}) offers key {digit}, but this menu has no <Key digit=\"{digit}\">",
                                lang.code()
                            ),
                        );
                    }
                }
            }
        }
        let bilingual = node.attr("bilingual").is_some_and(|v| v.value == "true");
        if !bilingual {
            for ((channel, lang), keys) in &by_lang {
                for ((other_channel, other), theirs) in &by_lang {
                    if other_channel != channel || other == lang {
                        continue;
                    }
                    for digit in theirs.difference(keys) {
                        let tty = if *channel == Channel::Tty { " TTY" } else { "" };
                        self.err(
                            &node.pos,
                            &format!(
                                "key {digit} is offered in the {}{tty} words but not in the {}{tty} words of {} (a menu offers the same keys in every language; `bilingual=\"true\"` on a menu whose languages each offer their own)",
                                other.code(),
                                lang.code(),
                                ids.iter()
                                    .map(|i| format!("'{i}'"))
                                    .collect::<Vec<_>>()
                                    .join(" or ")
                            ),
                        );
                    }
                }
            }
        }
        for child in node.children.iter().filter(|c| c.name == "Key") {
            let Some(d) = child.attr("digit") else {
                continue;
            };
            let mut chars = d.value.chars();
            if let (Some(digit), None) = (chars.next(), chars.next())
                && digit.is_ascii_digit()
                && !offered.contains(&digit)
            {
                self.err(
                    &d.pos,
                    &format!(
                        "key {digit} is never offered: no \"press {digit}\" (or \"oprima {digit}\", or a TTY \"{digit} ...\") in {}",
                        ids.iter()
                            .map(|i| format!("'{i}'"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                );
            }
        }
    }

    /// The words a caller may say for each of a menu's keys, from the catalog:
    /// `{prompt}.say.{key}` for its own keys, `keys.say.{key}` for the ones every menu
    /// has. A key without words in a language is refused (a caller of that language
    /// could only press it).
    fn spoken_words(
        &mut self,
        node: &Node,
        prompt: &str,
        keys: &[(char, StepIx)],
        own: &[char],
    ) -> Vec<KeyWords> {
        let mut out = Vec::new();
        for (key, _) in keys {
            let id = if own.contains(key) {
                format!("{prompt}.say.{key}")
            } else {
                format!("keys.say.{key}")
            };
            let missing = self.catalog.missing_in(&id);
            if !missing.is_empty() {
                let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
                let pos = node
                    .children
                    .iter()
                    .filter(|c| c.name == "Key")
                    .find_map(|c| {
                        c.attr("digit")
                            .filter(|d| d.value.starts_with(*key))
                            .map(|d| d.pos.clone())
                    })
                    .unwrap_or_else(|| node.pos.clone());
                self.err(
                    &pos,
                    &format!(
                        "key {key} has no words to say it in {} (add \"{id}\" to the prompts)",
                        langs.join(" and ")
                    ),
                );
                continue;
            }
            let per_lang = self
                .catalog
                .texts(&id)
                .into_iter()
                .filter(|(_, channel, _)| *channel == Channel::Voice)
                .map(|(lang, _, text)| {
                    let phrases = text
                        .split(',')
                        .map(|w| w.trim().to_lowercase())
                        .filter(|w| !w.is_empty())
                        .collect();
                    (lang, phrases)
                })
                .collect();
            out.push((*key, per_lang));
        }
        out
    }

    fn input(&mut self, node: &Node, defaults: &Defaults) -> Input {
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

fn empty_prompting() -> Prompting {
    Prompting {
        intro: Vec::new(),
        prompt: String::new(),
        help: None,
        timeout: 6,
        noinput: Vec::new(),
        nomatch: Vec::new(),
    }
}

/// The menu's own handlers win; the defaults fill the counts it leaves out. The result
/// is ordered by count and cut after the first handler that moves on.
fn merge_misses(own: Vec<(u32, Miss)>, defaults: &[(u32, Miss)]) -> Vec<Miss> {
    let mut all: Vec<(u32, Miss)> = own;
    for (c, m) in defaults {
        if !all.iter().any(|(o, _)| o == c) {
            all.push((*c, m.clone()));
        }
    }
    all.sort_by_key(|(c, _)| *c);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (c, m) in all {
        // Counts missing in between repeat the previous handler (a plain reprompt first).
        while (out.len() as u32) + 1 < c {
            out.push(out.last().cloned().unwrap_or(Miss::Reprompt(None)));
        }
        let stop = matches!(m, Miss::Goto(_));
        if seen.insert(c) {
            out.push(m);
        }
        if stop {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;
