//! The analysts' guide (`call-flows/README.md`) names everything a flow can use: every
//! action with its outcomes, every condition, every placeholder. A new one added in
//! code without a word in the guide fails here.

fn guide() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/call-flows/README.md"))
        .expect("call-flows/README.md")
}

#[test]
fn the_flow_guide_names_every_action_and_its_outcomes() {
    let guide = guide();
    for spec in caseline::actions::SPECS {
        let name = format!("`{}`", spec.name);
        let line = guide
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&name))
            .unwrap_or_else(|| panic!("call-flows/README.md has no table row for action {name}"));
        for outcome in spec.outcomes {
            assert!(
                line.contains(&format!("`{outcome}`")),
                "the row for {name} does not name its outcome `{outcome}`: {line}"
            );
        }
        for value in spec.values {
            assert!(
                line.contains(&format!("`{value}`")),
                "the row for {name} does not name its value {value}: {line}"
            );
        }
    }
}

#[test]
fn the_flow_guide_names_every_condition_and_placeholder() {
    let guide = guide();
    // The conditions table only: its header, then rows until the first other line.
    let conditions: Vec<&str> = guide
        .lines()
        .skip_while(|l| !l.starts_with("| condition |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(
        conditions.len() > 2,
        "no conditions table in call-flows/README.md"
    );
    let table_row = |name: &str| {
        conditions
            .iter()
            .any(|l| l.starts_with(&format!("| `{name}` |")))
    };
    for (name, _) in caseline::flow::Condition::NAMES {
        assert!(
            table_row(name),
            "call-flows/README.md has no row for the condition `{name}`"
        );
    }
    for name in caseline::flow::VARIABLES {
        assert!(
            guide.contains(&format!("`{name}`")) || guide.contains(&format!("`{{{name}}}`")),
            "call-flows/README.md does not name the placeholder `{{{name}}}`"
        );
    }
}

/// The README's layout section draws the tree: every folder and file at the top of
/// `src/`, and every folder inside `domain/` and `store/`, has its line.
#[test]
fn the_readme_layout_draws_every_folder_of_the_tree() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let start = readme.find("## Layout").expect("a Layout section");
    let tree = &readme[start..];
    let tree = &tree[..tree.find("```\n\n").expect("the tree's end")];
    let mut missing = Vec::new();
    for dir in ["src", "src/domain", "src/store"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("src") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let drawn = if entry.path().is_dir() {
                format!("── {name}/")
            } else if name.ends_with(".rs")
                && name != "mod.rs"
                && (dir == "src" || dir == "src/domain")
            {
                format!("── {name}")
            } else {
                continue;
            };
            if !tree.contains(&drawn) {
                missing.push(format!("{dir}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the README's layout has no line for {missing:?}"
    );
}
