//! The call flows, prompts and holidays Caseline ships, and where each folder is taken
//! from: the one its setting names; else the first of the working directory's, the
//! agency's own under `/etc/caseline`, the package's under `/usr/share/caseline`;
//! else the copy built into the binary, so `caseline serve` run anywhere answers with
//! the stock line.
//!
//! Each folder is looked up on its own: an agency may reword the prompts in
//! `/etc/caseline/prompts` and keep the shipped flows. A folder that is found but
//! broken is an error, never passed over for the next one: the agency meant it.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// Where a folder no setting names is looked for, in order: the working directory
/// (the empty path, so errors keep naming `call-flows/main.xml` as before), the
/// agency's folders, the package's. The built-in copy comes after them.
pub fn default_search() -> Vec<PathBuf> {
    vec![
        PathBuf::new(),
        PathBuf::from("/etc/caseline"),
        PathBuf::from("/usr/share/caseline"),
    ]
}

/// One of the shipped folders.
pub struct Shipped {
    /// Its name in each place searched (`call-flows`).
    pub folder: &'static str,
    /// The variable that names another folder (or file), as refusals name it.
    pub setting: &'static str,
    /// The same in `caseline.toml`.
    pub key: &'static str,
    /// What `flows check` calls it.
    pub what: &'static str,
    /// The copy built into the binary: each file's name in the folder and its text.
    pub built_in: &'static [(&'static str, &'static str)],
}

/// Written out file by file (not a whole-folder macro) so that Cargo rebuilds when any
/// of them changes; a test checks the list against the folder.
macro_rules! built_in {
    ($folder:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../", $folder, "/", $file)))),*]
    };
}

pub const FLOWS: Shipped = Shipped {
    folder: "call-flows",
    setting: "CASELINE_FLOWS_DIR",
    key: "flows_dir",
    what: "flows",
    built_in: built_in!("call-flows":
        "callback.xml",
        "dialer.xml",
        "info.xml",
        "main.xml",
        "pay.xml",
        "requests.xml",
        "selfservice.xml",
        "staff.xml",
        "tty.xml",
    ),
};

pub const PROMPTS: Shipped = Shipped {
    folder: "prompts",
    setting: "CASELINE_PROMPTS_DIR",
    key: "prompts_dir",
    what: "prompts",
    built_in: built_in!("prompts": "en.toml", "es.toml"),
};

/// The holidays: its setting names a file, and in a folder found by the search the
/// file is [`HOLIDAYS_FILE`].
pub const HOLIDAYS: Shipped = Shipped {
    folder: "holidays",
    setting: "CASELINE_HOLIDAYS_FILE",
    key: "holidays_file",
    what: "holidays",
    built_in: built_in!("holidays": "california.txt"),
};

/// The holidays file read from a `holidays` folder found by the search.
pub const HOLIDAYS_FILE: &str = "california.txt";

/// Where a folder was taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The folder (or, for the holidays, the file) on disk, and what chose it.
    Disk { path: PathBuf, by: By },
    /// The copy built into the binary.
    BuiltIn,
}

/// What chose a folder on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Its setting (or the folder given to `flows check`).
    Setting,
    /// The search ([`default_search`]).
    Search,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::BuiltIn => f.write_str("embedded (the shipped line)"),
            Found::Disk {
                path,
                by: By::Search,
            } if path.is_relative() => {
                write!(f, "{} (in the working directory)", path.display())
            }
            Found::Disk { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

impl Shipped {
    /// The folder to read: `set` (its setting) if given, which must be a folder; else
    /// the first of `search` holding one by this name; else the built-in copy.
    pub fn find(&self, set: Option<&Path>, search: &[PathBuf]) -> anyhow::Result<Found> {
        if let Some(path) = set {
            if !path.is_dir() {
                bail!(
                    "{} (or {} in caseline.toml) names {}, which is not a folder; \
                     unset, the {} are looked for in the working directory, \
                     /etc/caseline and /usr/share/caseline, then the shipped ones are used",
                    self.setting,
                    self.key,
                    path.display(),
                    self.what
                );
            }
            return Ok(Found::Disk {
                path: path.to_path_buf(),
                by: By::Setting,
            });
        }
        Ok(search
            .iter()
            .map(|base| base.join(self.folder))
            .find(|path| path.is_dir())
            .map_or(Found::BuiltIn, |path| Found::Disk {
                path,
                by: By::Search,
            }))
    }

    /// The built-in file called `name` (`en.toml`).
    pub fn built_in(&self, name: &str) -> Option<&'static str> {
        self.built_in
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
    }

    /// The built-in files, each named as an error would name it (`call-flows/main.xml`).
    pub fn built_in_files(&self) -> Vec<(String, &'static str)> {
        self.built_in
            .iter()
            .map(|(name, text)| (format!("{}/{name}", self.folder), *text))
            .collect()
    }

    /// Said under an error from a folder the search found (one a setting named is
    /// already in the error): which folder was read, and the setting that names another.
    pub fn hint(&self, found: &Found) -> Option<String> {
        match found {
            Found::Disk {
                path,
                by: By::Search,
            } => Some(format!(
                "({} read from {}, found before the shipped ones; {} or {} in \
                 caseline.toml names another)",
                self.what,
                path.display(),
                self.setting,
                self.key
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three places to search, like the working directory, `/etc/caseline` and
    /// `/usr/share/caseline`, each empty.
    fn places() -> (tempfile::TempDir, Vec<PathBuf>) {
        let root = tempfile::tempdir().unwrap();
        let search: Vec<PathBuf> = ["work", "etc", "share"]
            .iter()
            .map(|p| root.path().join(p))
            .collect();
        for p in &search {
            std::fs::create_dir(p).unwrap();
        }
        (root, search)
    }

    fn found_in(path: PathBuf) -> Found {
        Found::Disk {
            path,
            by: By::Search,
        }
    }

    #[test]
    fn the_first_place_holding_the_folder_wins_then_the_built_in_copy() {
        let (_root, search) = places();
        let [work, etc, share] = [0, 1, 2].map(|i| search[i].join("call-flows"));
        assert_eq!(FLOWS.find(None, &search).unwrap(), Found::BuiltIn);
        std::fs::create_dir(&share).unwrap();
        assert_eq!(FLOWS.find(None, &search).unwrap(), found_in(share.clone()));
        std::fs::create_dir(&etc).unwrap();
        assert_eq!(FLOWS.find(None, &search).unwrap(), found_in(etc.clone()));
        std::fs::create_dir(&work).unwrap();
        assert_eq!(FLOWS.find(None, &search).unwrap(), found_in(work));
        // Each folder on its own: no prompts anywhere, so the built-in ones.
        assert_eq!(PROMPTS.find(None, &search).unwrap(), Found::BuiltIn);
    }

    #[test]
    fn a_file_where_the_folder_would_be_is_passed_over() {
        let (_root, search) = places();
        std::fs::write(search[0].join("prompts"), "not a folder").unwrap();
        std::fs::create_dir(search[2].join("prompts")).unwrap();
        assert_eq!(
            PROMPTS.find(None, &search).unwrap(),
            found_in(search[2].join("prompts"))
        );
    }

    #[test]
    fn a_set_folder_comes_first_and_must_be_there() {
        let (_root, search) = places();
        std::fs::create_dir(search[0].join("prompts")).unwrap();
        let own = search[1].join("ours");
        std::fs::create_dir(&own).unwrap();
        assert_eq!(
            PROMPTS.find(Some(&own), &search).unwrap(),
            Found::Disk {
                path: own,
                by: By::Setting
            }
        );
        let missing = search[1].join("missing");
        let err = PROMPTS
            .find(Some(&missing), &search)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "CASELINE_PROMPTS_DIR (or prompts_dir in caseline.toml) names {}, which is not a folder",
                missing.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn the_working_directory_is_searched_by_relative_name() {
        let found = FLOWS.find(None, &default_search()).unwrap();
        // `cargo test` runs in the project folder, which holds call-flows/.
        assert_eq!(found, found_in(PathBuf::from("call-flows")));
        assert_eq!(found.to_string(), "call-flows (in the working directory)");
    }

    /// The built-in copies are the folders' files, every one of them: a flow file added
    /// to `call-flows/` without its line in [`FLOWS`] fails here.
    #[test]
    fn the_built_in_copies_are_the_shipped_folders_whole() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (shipped, ext) in [(&FLOWS, "xml"), (&PROMPTS, "toml"), (&HOLIDAYS, "txt")] {
            let mut on_disk: Vec<(String, String)> = std::fs::read_dir(root.join(shipped.folder))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect();
            on_disk.sort();
            let built_in: Vec<(String, String)> = shipped
                .built_in
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
            let names =
                |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            assert_eq!(names(&built_in), names(&on_disk), "{}/", shipped.folder);
            assert!(built_in == on_disk, "{}/: a file differs", shipped.folder);
        }
        assert!(HOLIDAYS.built_in(HOLIDAYS_FILE).is_some());
    }
}
