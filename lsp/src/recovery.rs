//! Keeping the user's own text when a room's version of a document replaces it on join,
//! so it is never silently lost.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where recovered copies go: `$PAIRPROG_DATA_DIR`, else `$XDG_STATE_HOME/pairprog`, else
/// `~/.local/state/pairprog`, else the system temp folder.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PAIRPROG_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("pairprog");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/state/pairprog");
    }
    std::env::temp_dir().join("pairprog")
}

/// Writes `text` to `<dir>/recovered/<room>/<stem>.<unix seconds>.<extension>` (the
/// original extension last, so an editor gives the copy the file's type) and returns
/// the file.
pub fn save_copy(dir: &Path, room: &str, path: &str, text: &str) -> std::io::Result<PathBuf> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The room-relative path never climbs out (the session only shares paths under the
    // workspace root), but strip `..` anyway so a file can never land outside `dir`.
    let safe: PathBuf = Path::new(path)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    let mut file = dir.join("recovered").join(room).join(safe);
    let stem = file
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("document")
        .to_owned();
    let name = match file.extension().and_then(|e| e.to_str()) {
        Some(extension) => format!("{stem}.{seconds}.{extension}"),
        None => format!("{stem}.{seconds}"),
    };
    file.set_file_name(name);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, text)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_lands_under_the_data_dir_even_for_a_climbing_path() {
        let dir = std::env::temp_dir().join(format!("pairprog-recovery-{}", std::process::id()));
        let file = save_copy(&dir, "room1", "../../etc/passwd", "mine").unwrap();
        assert!(file.starts_with(dir.join("recovered/room1")));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn regression_recovered_copies_had_no_file_type() {
        let dir = std::env::temp_dir().join(format!("pairprog-ext-{}", std::process::id()));
        let file = save_copy(&dir, "room2", "src/app.py", "x = 1\n").unwrap();
        assert_eq!(file.extension().and_then(|e| e.to_str()), Some("py"));
        assert!(file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("app.")));
        let bare = save_copy(&dir, "room2", "Makefile", "all:\n").unwrap();
        assert!(bare
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("Makefile.")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
