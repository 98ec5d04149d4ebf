//! The words the IVR says: one catalog per language in `prompts/<lang>.toml`, each prompt
//! a short sentence, with a TTY variant under `[tty]` (same id) for text telephones,
//! which `flows check` requires of every prompt a TTY caller can be sent. Placeholders `{name}` are filled at run time with typed values from
//! [`crate::words::speech`], so an analyst can reword a sentence without touching Rust.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

/// A language the line speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The `language` attribute for `<Say>`.
    pub fn twiml_language(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::Es => "es-US",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" | "en-us" => Some(Lang::En),
            "es" | "spanish" | "español" | "es-us" | "es-mx" => Some(Lang::Es),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How the caller takes in words: spoken, or as text on a TTY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Voice,
    Tty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Lit(String),
    Var(String),
}

#[derive(Debug, Clone)]
struct Template {
    segments: Vec<Segment>,
}

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Lit(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| "a '{' is never closed".to_string())?;
            let name = after[..close].trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad placeholder {{{name}}}"));
            }
            segments.push(Segment::Var(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("a '}' has no '{'".into());
        }
        if !rest.is_empty() {
            segments.push(Segment::Lit(rest.to_string()));
        }
        Ok(Template { segments })
    }

    /// The template as written.
    fn source(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Lit(l) => l.clone(),
                Segment::Var(n) => format!("{{{n}}}"),
            })
            .collect()
    }

    fn placeholders(&self) -> BTreeSet<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Var(n) => Some(n.as_str()),
                Segment::Lit(_) => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    voice: Template,
    tty: Option<Template>,
}

/// Every prompt in every language, parsed once at start.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    langs: HashMap<Lang, HashMap<String, Entry>>,
}

/// Something a placeholder can be filled with; each kind is spoken its own way.
pub trait Fill {
    /// The words for placeholder `name`, or `None` when the value is not known.
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String>;
}

impl Fill for () {
    fn fill(&self, _: &str, _: Lang, _: Channel) -> Option<String> {
        None
    }
}

impl Catalog {
    /// Loads `en.toml` and `es.toml` from `dir`; every error names the file and prompt.
    pub fn load(dir: &Path) -> anyhow::Result<Catalog> {
        let mut sources = Vec::new();
        for lang in Lang::ALL {
            let path = dir.join(format!("{}.toml", lang.code()));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{}: cannot read the prompt catalog", path.display()))?;
            sources.push((lang, path.display().to_string(), text));
        }
        let borrowed: Vec<(Lang, &str, &str)> = sources
            .iter()
            .map(|(l, p, t)| (*l, p.as_str(), t.as_str()))
            .collect();
        Catalog::from_sources(&borrowed)
    }

    /// Builds a catalog from (language, file name, TOML text) triples and checks that
    /// the languages agree: same ids, same placeholders.
    pub fn from_sources(sources: &[(Lang, &str, &str)]) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut errors = Vec::new();
        for (lang, file, text) in sources {
            let table: toml::Table =
                toml::from_str(text).map_err(|e| anyhow!("{file}: not valid TOML: {e}"))?;
            let mut flat = BTreeMap::new();
            flatten("", &toml::Value::Table(table), &mut flat, file, &mut errors);
            let mut entries: HashMap<String, Entry> = HashMap::new();
            let mut tty = Vec::new();
            for (id, text) in flat {
                if let Some(tty_id) = id.strip_prefix("tty.") {
                    tty.push((tty_id.to_string(), text));
                    continue;
                }
                match Template::parse(&text) {
                    Ok(voice) => {
                        entries.insert(id, Entry { voice, tty: None });
                    }
                    Err(e) => errors.push(format!("{file}: prompt {id}: {e}")),
                }
            }
            for (id, text) in tty {
                let template = match Template::parse(&text) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(format!("{file}: prompt tty.{id}: {e}"));
                        continue;
                    }
                };
                match entries.get_mut(&id) {
                    Some(entry) => {
                        if template.placeholders() != entry.voice.placeholders() {
                            errors.push(format!(
                                "{file}: prompt tty.{id}: its placeholders differ from {id}'s"
                            ));
                        }
                        entry.tty = Some(template);
                    }
                    None => errors.push(format!(
                        "{file}: prompt tty.{id}: a TTY variant of a prompt that does not exist"
                    )),
                }
            }
            catalog.langs.insert(*lang, entries);
        }
        // Languages must agree with each other.
        let all_ids: BTreeSet<&String> = catalog.langs.values().flat_map(|m| m.keys()).collect();
        for id in all_ids {
            let mut shapes = Vec::new();
            for lang in Lang::ALL {
                match catalog.langs.get(&lang).and_then(|m| m.get(id)) {
                    Some(entry) => shapes.push((lang, entry.voice.placeholders())),
                    None => errors.push(format!("prompt {id} is missing in language {lang}")),
                }
            }
            if shapes.windows(2).any(|w| w[0].1 != w[1].1) {
                errors.push(format!(
                    "prompt {id}: the languages use different placeholders"
                ));
            }
        }
        if errors.is_empty() {
            Ok(catalog)
        } else {
            Err(anyhow!(errors.join("\n")))
        }
    }

    /// Whether `id` exists in every language.
    pub fn has(&self, id: &str) -> bool {
        Lang::ALL
            .iter()
            .all(|l| self.langs.get(l).is_some_and(|m| m.contains_key(id)))
    }

    /// The languages in which `id` has no TTY text of its own (a TTY caller would be
    /// sent its spoken words).
    pub fn tty_missing_in(&self, id: &str) -> Vec<Lang> {
        Lang::ALL
            .iter()
            .copied()
            .filter(|l| {
                self.langs
                    .get(l)
                    .and_then(|m| m.get(id))
                    .is_none_or(|e| e.tty.is_none())
            })
            .collect()
    }

    /// The ids that start with `prefix` (in English; the languages agree).
    pub fn ids_under(&self, prefix: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .langs
            .get(&Lang::En)
            .map(|m| {
                m.keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// The languages in which `id` is missing.
    pub fn missing_in(&self, id: &str) -> Vec<Lang> {
        Lang::ALL
            .iter()
            .copied()
            .filter(|l| !self.langs.get(l).is_some_and(|m| m.contains_key(id)))
            .collect()
    }

    /// The words of prompt `id` as written, in each language and channel it has text
    /// for (placeholders left as `{name}`): what `flows check` reads a menu's offers
    /// from.
    pub fn texts(&self, id: &str) -> Vec<(Lang, Channel, String)> {
        let mut out = Vec::new();
        for lang in Lang::ALL {
            let Some(entry) = self.langs.get(&lang).and_then(|m| m.get(id)) else {
                continue;
            };
            out.push((lang, Channel::Voice, entry.voice.source()));
            if let Some(tty) = &entry.tty {
                out.push((lang, Channel::Tty, tty.source()));
            }
        }
        out
    }

    /// Placeholder names used by prompt `id` (the same in every language).
    pub fn placeholders(&self, id: &str) -> BTreeSet<String> {
        self.langs
            .get(&Lang::En)
            .and_then(|m| m.get(id))
            .map(|e| {
                e.voice
                    .placeholders()
                    .into_iter()
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The text of prompt `id`, placeholders filled. A prompt with a placeholder that has
    /// no value is not said at all (a readback says only what the case has: no "last
    /// payment" sentence without a payment); an unknown id renders as nothing.
    pub fn render(&self, id: &str, lang: Lang, channel: Channel, values: &dyn Fill) -> String {
        let Some(entry) = self.langs.get(&lang).and_then(|m| m.get(id)) else {
            return String::new();
        };
        let template = match (channel, &entry.tty) {
            (Channel::Tty, Some(t)) => t,
            _ => &entry.voice,
        };
        let mut out = String::new();
        for segment in &template.segments {
            match segment {
                // "at 2:15 p.m." + "." reads as one full stop.
                Segment::Lit(s) if s.starts_with('.') && out.ends_with('.') => {
                    out.push_str(&s[1..])
                }
                Segment::Lit(s) => out.push_str(s),
                Segment::Var(name) => match values.fill(name, lang, channel) {
                    Some(v) if !v.is_empty() => out.push_str(&v),
                    _ => return String::new(),
                },
            }
        }
        out
    }
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
    file: &str,
    errors: &mut Vec<String>,
) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out, file, errors);
            }
        }
        toml::Value::String(s) => {
            // Catalog files wrap long sentences; speech wants single spaces.
            let text = s.split_whitespace().collect::<Vec<_>>().join(" ");
            out.insert(prefix.to_string(), text);
        }
        _ => errors.push(format!("{file}: prompt {prefix}: must be text")),
    }
}

/// Test catalogs with a TTY text for every prompt (`TTY ` and its words), as `flows
/// check` asks of any prompt a TTY caller can be sent.
#[cfg(test)]
pub(crate) fn with_tty(src: &str) -> String {
    fn marked(v: &toml::Value) -> toml::Value {
        match v {
            toml::Value::String(s) => toml::Value::String(format!("TTY {s}")),
            toml::Value::Table(t) => {
                toml::Value::Table(t.iter().map(|(k, v)| (k.clone(), marked(v))).collect())
            }
            other => other.clone(),
        }
    }
    let mut table: toml::Table = toml::from_str(src).expect("TOML");
    let tty = marked(&toml::Value::Table(table.clone()));
    table.insert("tty".into(), tty);
    toml::to_string(&table).expect("TOML")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vals;
    impl Fill for Vals {
        fn fill(&self, name: &str, lang: Lang, _: Channel) -> Option<String> {
            (name == "n").then(|| format!("three-{lang}"))
        }
    }

    fn catalog() -> anyhow::Result<Catalog> {
        Catalog::from_sources(&[
            (
                Lang::En,
                "en.toml",
                "[menu]\nmain = \"Press {n} now.\"\n[tty.menu]\nmain = \"PRESS {n}\"\n",
            ),
            (
                Lang::Es,
                "es.toml",
                "[menu]\nmain = \"Oprima {n}  ahora.\"\n",
            ),
        ])
    }

    #[test]
    fn renders_per_language_and_channel() {
        let c = catalog().unwrap();
        assert_eq!(
            c.render("menu.main", Lang::En, Channel::Voice, &Vals),
            "Press three-en now."
        );
        assert_eq!(
            c.render("menu.main", Lang::En, Channel::Tty, &Vals),
            "PRESS three-en"
        );
        // No TTY variant: the spoken text serves.
        assert_eq!(
            c.render("menu.main", Lang::Es, Channel::Tty, &Vals),
            "Oprima three-es ahora."
        );
        assert!(c.has("menu.main"));
        assert!(!c.has("menu.other"));
    }

    #[test]
    fn a_missing_value_silences_the_prompt_and_full_stops_do_not_double() {
        struct Time;
        impl Fill for Time {
            fn fill(&self, name: &str, _: Lang, _: Channel) -> Option<String> {
                (name == "t").then(|| "2:15 p.m.".to_string())
            }
        }
        let c = Catalog::from_sources(&[
            (Lang::En, "en.toml", "a = \"At {t}.\"\nb = \"Owed {n}.\"\n"),
            (
                Lang::Es,
                "es.toml",
                "a = \"A las {t}.\"\nb = \"Debe {n}.\"\n",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.render("a", Lang::En, Channel::Voice, &Time),
            "At 2:15 p.m."
        );
        assert_eq!(c.render("b", Lang::En, Channel::Voice, &Time), "");
    }

    #[test]
    fn languages_must_agree() {
        let err = Catalog::from_sources(&[
            (Lang::En, "en.toml", "a = \"x {n}\"\nb = \"y\"\n"),
            (Lang::Es, "es.toml", "a = \"x\"\n"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("prompt b is missing in language es"), "{err}");
        assert!(
            err.contains("prompt a: the languages use different placeholders"),
            "{err}"
        );
    }

    #[test]
    fn bad_templates_are_reported_with_file_and_id() {
        let err = Catalog::from_sources(&[
            (Lang::En, "en.toml", "a = \"x {oops\"\n[tty]\nzz = \"q\"\n"),
            (Lang::Es, "es.toml", "a = \"x\"\n"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("en.toml: prompt a: a '{' is never closed"),
            "{err}"
        );
        assert!(
            err.contains("tty.zz: a TTY variant of a prompt that does not exist"),
            "{err}"
        );
    }
}
