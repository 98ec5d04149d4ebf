//! A menu's keys against its words: each key offered in each language's prompt, each
//! offered key present, and the words a caller may say instead of pressing.

use super::*;

impl Compiler<'_> {
    /// A menu's keys and its words must agree: each `<Key>` of its own is offered
    /// somewhere in its prompt or help ("press N", "oprima N", or a TTY list "N WORD"),
    /// in some language or the TTY text; and a digit offered in any of those words has a
    /// key (its own, or one from `<MenuDefaults>`). An analyst who adds a key but not
    /// the words, or the words but not the key, hears about it here, not from callers.
    /// Each language offers the same keys (on each channel), unless the menu is
    /// `bilingual` (each language offering its own, as the language menu does).
    pub(super) fn keys_match_words(
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
                for digit in crate::flow::words::offered_digits(&text) {
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
    pub(super) fn spoken_words(
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
}
