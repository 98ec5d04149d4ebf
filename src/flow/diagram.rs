//! The compiled flows as a picture, for analysts who change them: every step a node
//! (its id, and its prompt for a menu or an input), keys and outcomes as labelled
//! edges, misses dashed, the entry points marked. DOT (for Graphviz), Mermaid (for
//! Markdown viewers), or SVG laid out here (no Graphviz needed). A [`Part`] draws the
//! steps of one flow file only (`main` for `main.xml`), which stays readable where the
//! whole set of flows is a poster. [`Diagrams`] keeps what the staff API has drawn.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Flow, Miss, StepIx, StepKind, Verb};

/// The steps a diagram draws: all of them, or those written in one flow file. The steps
/// a part's edges lead to in other files are drawn grey, named with their file, and
/// their own edges left out.
pub struct Part<'a> {
    flow: &'a Flow,
    keep: Vec<bool>,
}

impl<'a> Part<'a> {
    pub fn all(flow: &'a Flow) -> Part<'a> {
        Part {
            flow,
            keep: vec![true; flow.steps.len()],
        }
    }

    /// The steps written in `file` (`main` for `main.xml`); `None` when there are none.
    pub fn file(flow: &'a Flow, file: &str) -> Option<Part<'a>> {
        let keep: Vec<bool> = flow.steps.iter().map(|s| s.file == file).collect();
        keep.contains(&true).then_some(Part { flow, keep })
    }

    /// The shared menu edges (as [`split`]) and this part's own edges.
    fn edges(&self) -> (Vec<(String, StepIx)>, Vec<Edge>) {
        let (shared, rest) = split(self.flow);
        let has_menu = (0..self.keep.len())
            .any(|ix| self.keep[ix] && matches!(self.flow.step(ix).kind, StepKind::Menu(_)));
        let shared = if has_menu { shared } else { Vec::new() };
        let rest = rest.into_iter().filter(|e| self.keep[e.from]).collect();
        (shared, rest)
    }

    /// The steps outside the part that its edges lead to, in order.
    fn outside(&self, edges: &[Edge]) -> Vec<StepIx> {
        let mut out: Vec<StepIx> = edges
            .iter()
            .map(|e| e.to)
            .filter(|to| !self.keep[*to])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The part's entry points.
    fn entries(&self) -> Vec<(String, StepIx)> {
        self.flow
            .entry_points()
            .into_iter()
            .filter(|(_, ix)| self.keep[*ix])
            .collect()
    }
}

/// One edge: from, to, its label, and whether it is a miss (drawn dashed).
struct Edge {
    from: StepIx,
    to: StepIx,
    label: String,
    miss: bool,
}

/// The edges every menu shares (from `<MenuDefaults>`: 0 to a person, the last miss),
/// drawn once in a note rather than from each menu, and the rest.
fn split(flow: &Flow) -> (Vec<(String, StepIx)>, Vec<Edge>) {
    let all = all_edges(flow);
    let menus: Vec<StepIx> = (0..flow.steps.len())
        .filter(|ix| matches!(flow.step(*ix).kind, StepKind::Menu(_)))
        .collect();
    let mut shared: Vec<(String, StepIx)> = Vec::new();
    for e in all.iter().filter(|e| menus.contains(&e.from)) {
        let key = (e.label.clone(), e.to);
        if shared.contains(&key) {
            continue;
        }
        let count = all
            .iter()
            .filter(|o| menus.contains(&o.from) && o.label == e.label && o.to == e.to)
            .count();
        if menus.len() > 4 && count * 5 >= menus.len() * 4 {
            shared.push(key);
        }
    }
    let rest = all
        .into_iter()
        .filter(|e| !(menus.contains(&e.from) && shared.contains(&(e.label.clone(), e.to))))
        .collect();
    (shared, rest)
}

fn all_edges(flow: &Flow) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut add = |from, to, label: String, miss| {
        out.push(Edge {
            from,
            to,
            label,
            miss,
        })
    };
    for (ix, step) in flow.steps.iter().enumerate() {
        match &step.kind {
            StepKind::Menu(m) => {
                for (key, to) in &m.keys {
                    add(ix, *to, key.to_string(), false);
                }
                misses(ix, &m.prompting, &mut add);
            }
            StepKind::Input(i) => {
                for (outcome, to) in &i.outcomes {
                    add(ix, *to, outcome.clone(), false);
                }
                misses(ix, &i.prompting, &mut add);
            }
            StepKind::Sequence(verbs) => {
                for verb in verbs {
                    match verb {
                        Verb::Goto(to) => add(ix, *to, String::new(), false),
                        Verb::Redirect(to) => add(ix, *to, "redirect".into(), false),
                        Verb::If {
                            condition,
                            negate,
                            target,
                        } => {
                            let name = super::Condition::NAMES
                                .iter()
                                .find(|(_, c)| c == condition)
                                .map_or("?", |(n, _)| n);
                            let label = if *negate {
                                format!("not {name}")
                            } else {
                                name.to_string()
                            };
                            add(ix, *target, label, false);
                        }
                        Verb::Action { outcomes, .. } => {
                            for (outcome, to) in outcomes {
                                add(ix, *to, outcome.clone(), false);
                            }
                        }
                        Verb::Representative { after } => {
                            add(ix, *after, "after a person".into(), false)
                        }
                        Verb::Pay { after } => add(ix, *after, "paid".into(), false),
                        Verb::Transfer { after, wait, .. } => {
                            if let Some(to) = after {
                                add(ix, *to, "after".into(), false);
                            }
                            if let Some(to) = wait {
                                add(ix, *to, "wait".into(), false);
                            }
                        }
                        Verb::Say(_) | Verb::Raw(_) | Verb::Announcement | Verb::Hangup => {}
                    }
                }
            }
        }
    }
    out
}

fn misses(ix: StepIx, p: &super::Prompting, add: &mut impl FnMut(StepIx, StepIx, String, bool)) {
    for (kind, list) in [("no input", &p.noinput), ("no match", &p.nomatch)] {
        for (n, miss) in list.iter().enumerate() {
            if let Miss::Goto(to) = miss {
                add(ix, *to, format!("{kind} {}", n + 1), true);
            }
        }
    }
}

/// A node's label: the step's id, and the prompt it asks with.
fn label(flow: &Flow, ix: StepIx) -> String {
    let step = flow.step(ix);
    match &step.kind {
        StepKind::Menu(m) => format!("{} ({})", step.name, m.prompting.prompt),
        StepKind::Input(i) => format!("{} ({})", step.name, i.prompting.prompt),
        StepKind::Sequence(_) => step.name.clone(),
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT of every step.
pub fn dot(flow: &Flow) -> String {
    Part::all(flow).dot()
}

/// A Mermaid flowchart of every step.
pub fn mermaid(flow: &Flow) -> String {
    Part::all(flow).mermaid()
}

/// SVG of every step.
pub fn svg(flow: &Flow) -> anyhow::Result<String> {
    Part::all(flow).svg()
}

impl Part<'_> {
    /// Graphviz DOT.
    pub fn dot(&self) -> String {
        let flow = self.flow;
        let (shared, edges) = self.edges();
        let mut out = String::from("digraph flows {\n  node [shape=box];\n");
        for ix in (0..flow.steps.len()).filter(|ix| self.keep[*ix]) {
            let shape = match flow.step(ix).kind {
                StepKind::Menu(_) | StepKind::Input(_) => "box",
                StepKind::Sequence(_) => "ellipse",
            };
            out.push_str(&format!(
                "  {} [label={}, shape={shape}];\n",
                quoted(&flow.step(ix).name),
                quoted(&label(flow, ix))
            ));
        }
        for ix in self.outside(&edges) {
            let step = flow.step(ix);
            out.push_str(&format!(
                "  {} [label={}, shape=box, style=filled];\n",
                quoted(&step.name),
                quoted(&format!("{} (in {})", step.name, step.file))
            ));
        }
        for (name, ix) in self.entries() {
            let node = format!("entry {name}");
            out.push_str(&format!(
                "  {} [label={}, shape=doublecircle];\n  {} -> {};\n",
                quoted(&node),
                quoted(&format!("entry: {name}")),
                quoted(&node),
                quoted(&flow.step(ix).name)
            ));
        }
        if !shared.is_empty() {
            let note = shared
                .iter()
                .map(|(l, to)| format!("{l} -> {}", flow.step(*to).name))
                .collect::<Vec<_>>()
                .join("; ");
            out.push_str(&format!(
                "  \"every menu\" [label={}, shape=note];\n",
                quoted(&format!("every menu: {note}"))
            ));
        }
        for e in edges {
            let style = if e.miss { ", style=dashed" } else { "" };
            out.push_str(&format!(
                "  {} -> {} [label={}{style}];\n",
                quoted(&flow.step(e.from).name),
                quoted(&flow.step(e.to).name),
                quoted(&e.label)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (node ids are step numbers; labels carry the names).
    pub fn mermaid(&self) -> String {
        let flow = self.flow;
        let (shared, edges) = self.edges();
        let text = |s: &str| s.replace('"', "'");
        let mut out = String::from("flowchart TD\n");
        for ix in (0..flow.steps.len()).filter(|ix| self.keep[*ix]) {
            let l = text(&label(flow, ix));
            match flow.step(ix).kind {
                StepKind::Menu(_) | StepKind::Input(_) => {
                    out.push_str(&format!("  s{ix}[\"{l}\"]\n"))
                }
                StepKind::Sequence(_) => out.push_str(&format!("  s{ix}([\"{l}\"])\n")),
            }
        }
        for ix in self.outside(&edges) {
            let step = flow.step(ix);
            out.push_str(&format!(
                "  s{ix}[/\"{} (in {})\"/]\n",
                text(&step.name),
                text(&step.file)
            ));
        }
        for (n, (name, ix)) in self.entries().into_iter().enumerate() {
            out.push_str(&format!(
                "  e{n}(((\"entry: {}\"))) --> s{ix}\n",
                text(&name)
            ));
        }
        if !shared.is_empty() {
            let note = shared
                .iter()
                .map(|(l, to)| format!("{l} to {}", flow.step(*to).name))
                .collect::<Vec<_>>()
                .join("; ");
            out.push_str(&format!("  every[\"every menu: {}\"]\n", text(&note)));
        }
        for e in edges {
            let arrow = if e.miss { "-.->" } else { "-->" };
            if e.label.is_empty() {
                out.push_str(&format!("  s{} {arrow} s{}\n", e.from, e.to));
            } else {
                out.push_str(&format!(
                    "  s{} {arrow}|\"{}\"| s{}\n",
                    e.from,
                    text(&e.label),
                    e.to
                ));
            }
        }
        out
    }

    /// SVG, laid out in Rust (the `layout-rs` crate) from the DOT text.
    pub fn svg(&self) -> anyhow::Result<String> {
        use layout::backends::svg::SVGWriter;
        use layout::gv::{DotParser, GraphBuilder};

        let text = self.dot();
        let mut parser = DotParser::new(&text);
        let graph = parser
            .process()
            .map_err(|e| anyhow::anyhow!("the diagram could not be laid out: {e}"))?;
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        Ok(svg.finalize())
    }
}
/// The flow diagrams drawn so far, by flow file (`None`: all of them). Drawing the
/// whole set takes about a second of CPU, so each is drawn once: the flows are loaded
/// once at start and never change while the server runs, so a diagram kept here is the
/// diagram of the flow set it sits beside in the shared state (a new set means a new
/// server, and an empty cache). At most one drawing runs at a time.
pub struct Diagrams {
    drawn: std::sync::Mutex<HashMap<Option<String>, Arc<str>>>,
    /// One permit: a drawing cannot be stopped once started, so a request that gives up
    /// leaves it running to completion (and into the cache), and no second one starts.
    pub(crate) drawing: Arc<tokio::sync::Semaphore>,
    draws: AtomicU64,
}

impl Default for Diagrams {
    fn default() -> Self {
        Diagrams {
            drawn: Default::default(),
            drawing: Arc::new(tokio::sync::Semaphore::new(1)),
            draws: AtomicU64::new(0),
        }
    }
}

impl Diagrams {
    pub(crate) fn get(&self, file: &Option<String>) -> Option<Arc<str>> {
        self.drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(file)
            .cloned()
    }

    pub(crate) fn keep(&self, file: Option<String>, svg: Arc<str>) {
        self.drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(file, svg);
    }

    /// Counts a drawing begun.
    pub(crate) fn counted(&self) {
        self.draws.fetch_add(1, Ordering::Relaxed);
    }

    /// Drawings made since start (each is made once).
    pub fn draws(&self) -> u64 {
        self.draws.load(Ordering::Relaxed)
    }
}
