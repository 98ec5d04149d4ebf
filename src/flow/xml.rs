//! A small DOM over quick-xml that remembers where every element and attribute starts,
//! so flow validation can say `file:line:column`.

use std::fmt;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// A place in a flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// Text content, trimmed; empty when there is none.
    pub text: String,
    pub pos: Pos,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Maps byte offsets to line and column (1-based, columns in characters).
struct Lines<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Lines { src, starts }
    }

    fn pos(&self, file: &Arc<str>, offset: usize) -> Pos {
        let offset = offset.min(self.src.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = self
            .src
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Pos {
            file: file.clone(),
            line,
            col,
        }
    }
}

/// Parses a whole document into its root element.
pub fn parse(file: &str, src: &str) -> Result<Node, String> {
    let file: Arc<str> = Arc::from(file);
    let lines = Lines::new(src);
    let mut reader = Reader::from_str(src);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = lines.pos(&file, reader.error_position() as usize);
            format!("{at}: not well-formed XML: {e}")
        })?;
        // The event starts at the first '<' after `before` (whitespace text may precede it).
        let start = src[before..].find('<').map_or(before, |i| before + i);
        match event {
            Event::Start(e) => stack.push(element(&file, &lines, src, start, &e)?),
            Event::Empty(e) => {
                let node = element(&file, &lines, src, start, &e)?;
                attach(&mut stack, &mut root, node, &lines, &file, start)?;
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err(format!("{}: unexpected end tag", lines.pos(&file, start)));
                };
                attach(&mut stack, &mut root, node, &lines, &file, start)?;
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                let text =
                    unescape(&text).map_err(|e| format!("{}: {e}", lines.pos(&file, before)))?;
                push_text(&mut stack, &text, &lines, &file, before)?;
            }
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let text = unescape(&format!("&{name};"))
                    .map_err(|e| format!("{}: {e}", lines.pos(&file, before)))?;
                push_text(&mut stack, &text, &lines, &file, before)?;
            }
            Event::CData(c) => {
                let text = c.into_inner().into_owned();
                push_text(&mut stack, &text, &lines, &file, before)?;
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and doctypes carry no flow.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("{}: <{}> is never closed", open.pos, open.name));
    }
    root.ok_or_else(|| format!("{file}:1:1: the file has no root element"))
}

fn unescape(s: &str) -> Result<String, String> {
    quick_xml::escape::unescape(s)
        .map(|c| c.into_owned())
        .map_err(|e| format!("bad character reference: {e}"))
}

fn push_text(
    stack: &mut [Node],
    text: &str,
    lines: &Lines<'_>,
    file: &Arc<str>,
    at: usize,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(format!(
            "{}: text outside the root element",
            lines.pos(file, at)
        )),
    }
}

fn attach(
    stack: &mut [Node],
    root: &mut Option<Node>,
    mut node: Node,
    lines: &Lines<'_>,
    file: &Arc<str>,
    at: usize,
) -> Result<(), String> {
    node.text = node.text.trim().to_string();
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(node);
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(node);
            Ok(())
        }
        None => Err(format!(
            "{}: a second root element <{}>",
            lines.pos(file, at),
            node.name
        )),
    }
}

fn element(
    file: &Arc<str>,
    lines: &Lines<'_>,
    src: &str,
    start: usize,
    e: &BytesStart<'_>,
) -> Result<Node, String> {
    let pos = lines.pos(file, start);
    let name = e.name().as_ref().to_string();
    let tag_end = src[start..].find('>').map_or(src.len(), |i| start + i);
    let tag = &src[start..tag_end];
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("{pos}: bad attribute on <{name}>: {err}"))?;
        let attr_name = attr.key.as_ref().to_string();
        let raw = attr.value.to_string();
        let value = unescape(&raw).map_err(|err| format!("{pos}: {err}"))?;
        // Locate the attribute inside the tag for a precise column.
        let offset = find_attr(tag, &attr_name).map_or(start, |i| start + i);
        attrs.push(Attr {
            name: attr_name,
            value,
            pos: lines.pos(file, offset),
        });
    }
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        pos,
    })
}

fn find_attr(tag: &str, name: &str) -> Option<usize> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let at = from + i;
        let before_ok = at > 0 && bytes[at - 1].is_ascii_whitespace();
        let rest = tag[at + name.len()..].trim_start();
        if before_ok && rest.starts_with('=') {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_elements_and_attributes() {
        let src =
            "<Flow>\n  <Step id=\"a\">\n    <Say  prompt=\"x &amp; y\"/>\n  </Step>\n</Flow>\n";
        let root = parse("f.xml", src).unwrap();
        let step = &root.children[0];
        assert_eq!(step.pos.to_string(), "f.xml:2:3");
        let say = &step.children[0];
        assert_eq!(say.pos.to_string(), "f.xml:3:5");
        let prompt = say.attr("prompt").unwrap();
        assert_eq!(prompt.value, "x & y");
        assert_eq!(prompt.pos.to_string(), "f.xml:3:11");
    }

    #[test]
    fn malformed_documents_say_where() {
        let err = parse("bad.xml", "<Flow>\n<Step id=\"a\">\n</Flow>").unwrap_err();
        assert!(err.starts_with("bad.xml:"), "{err}");
        let err = parse("bad.xml", "<Flow>\n<Step>").unwrap_err();
        assert!(err.contains("never closed"), "{err}");
    }

    #[test]
    fn text_content_is_unescaped_and_trimmed() {
        let root = parse(
            "f.xml",
            "<Play>\n https://a.test/x.mp3?a=1&amp;b=2 \n</Play>",
        )
        .unwrap();
        assert_eq!(root.text, "https://a.test/x.mp3?a=1&b=2");
    }
}
