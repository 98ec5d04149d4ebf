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

mod keys;
mod steps;
#[cfg(test)]
mod tests;
