//! Policy files as read from disk: their names and texts, read boundedly, and only
//! when they are regular files.

use crate::support::diag::{Diagnostic, Diagnostics};
use std::path::{Path, PathBuf};

/// One policy file's name and text.
#[derive(Clone, Debug)]
pub struct PolicySource {
    /// The file name, used in diagnostics and to check the organisation id
    /// (`.../<province>/<name>.json`).
    pub file: String,
    /// The file's text.
    pub text: String,
}

/// Reads `dir/schema.json` and every agreement file of `dir`'s province folders
/// (see [`Registry::load_dir`](crate::Registry::load_dir) for which files count),
/// each at most `max_bytes`; every file that cannot be read is an error in `diags`.
pub(crate) fn read_policy_dir(
    dir: &Path,
    max_bytes: u64,
    diags: &mut Diagnostics,
) -> (Option<PolicySource>, Vec<PolicySource>) {
    let read = |path: &Path, diags: &mut Diagnostics| -> Option<PolicySource> {
        let file = path.display().to_string();
        let result = regular_file(path).and_then(|()| read_bounded(path, max_bytes));
        match result {
            Ok(text) => Some(PolicySource { file, text }),
            Err(e) => {
                diags.push(Diagnostic::error(
                    &file,
                    format!("cannot read policy file: {e}"),
                ));
                None
            }
        }
    };
    let schema = read(&dir.join("schema.json"), diags);
    let mut agreements = Vec::new();
    match sorted_entries(dir) {
        Ok(entries) => {
            let mut provinces = Vec::new();
            for entry in entries {
                // A folder (or a link to one) is a province; a link that leads
                // nowhere might have been one, so it is an error, not skipped.
                match std::fs::metadata(&entry) {
                    Ok(meta) if meta.is_dir() => provinces.push(entry),
                    Ok(_) => {}
                    Err(e) => diags.push(Diagnostic::error(
                        &entry.display().to_string(),
                        format!("cannot read policy folder entry: {e}"),
                    )),
                }
            }
            for province in provinces {
                match sorted_entries(&province) {
                    Ok(files) => {
                        for file in files {
                            let name = file
                                .file_name()
                                .map(|n| n.to_string_lossy())
                                .unwrap_or_default();
                            if name.ends_with(".json") && !name.ends_with(".schema.json") {
                                agreements.extend(read(&file, diags));
                            }
                        }
                    }
                    Err(e) => diags.push(Diagnostic::error(
                        &province.display().to_string(),
                        format!("cannot read folder: {e}"),
                    )),
                }
            }
        }
        Err(e) => diags.push(Diagnostic::error(
            &dir.display().to_string(),
            format!("cannot read policy folder: {e}"),
        )),
    }
    (schema, agreements)
}

/// Reads a UTF-8 file of at most `max_bytes`, never reading more than one byte past
/// the limit (the file may grow while it is read).
pub(crate) fn read_bounded(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max_bytes.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(std::io::Error::other(format!(
            "file is larger than {max_bytes} bytes"
        )));
    }
    Ok(text)
}

/// `Ok` when `path` leads to a regular file. Anything else is refused without being
/// opened: opening a FIFO waits for a writer, and a device may never end.
fn regular_file(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        Ok(())
    } else if meta.is_dir() {
        Err(std::io::Error::other("it is a folder, not a file"))
    } else {
        Err(std::io::Error::other("it is not a regular file"))
    }
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            entries.push(path);
        }
    }
    entries.sort();
    Ok(entries)
}
