//! Files the server writes that hold secrets or the database are private to the
//! account running it: the data folder 0700; the database, its `-wal`, `-shm` and
//! signal files, and `secret.key` 0600 — whatever the umask, and also when they or the
//! folder existed before (an older release, a restored backup, a hand-made folder).

use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and its parents) if missing, and makes it 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(b.recursive(true), DIR_MODE);
    b.create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// Creates `file` empty if missing (0600 from the first moment), and makes it 0600.
pub fn private_file(file: &Path) -> io::Result<()> {
    OpenOptions::new().append(true).create(true).mode(FILE_MODE).open(file)?;
    std::fs::set_permissions(file, Permissions::from_mode(FILE_MODE))
}

/// Makes `file` 0600 if it exists.
pub fn make_private_if_present(file: &Path) -> io::Result<()> {
    match std::fs::set_permissions(file, Permissions::from_mode(FILE_MODE)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A SQLite database file and its companions: SQLite gives `-wal` and `-shm` the mode
/// of the database file, so a 0600 database makes 0600 companions.
pub fn private_sqlite(database: &Path, companions: &[&str]) -> io::Result<()> {
    private_file(database)?;
    for suffix in companions {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        make_private_if_present(Path::new(&name))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn existing_open_files_and_folders_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), DIR_MODE);
        let db = data.join("index.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        let wal = data.join("index.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, Permissions::from_mode(0o666)).unwrap();
        private_sqlite(&db, &["-wal", "-shm"]).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (FILE_MODE, FILE_MODE));
        assert!(!data.join("index.db-shm").exists(), "a missing companion is not created");
        let fresh = data.join("fresh");
        private_file(&fresh).unwrap();
        assert_eq!(mode(&fresh), FILE_MODE);
    }
}
