//! Where a result is written: standard output, or a file (`-o`, `--partial-out`). A file is
//! replaced whole (written beside itself under a temporary name, then renamed over it), so a
//! run that fails leaves what the file held; what is no regular file (a terminal, a pipe,
//! `/dev/null`, `/dev/stdout`) is written through, never replaced. Before a run reads
//! anything, [`check`] makes sure its result can be written where it goes (a missing or
//! read-only folder fails the run at once, not after an hour of reading) and that writing it
//! there loses no file the run reads (an input, a document named by a flag, the bill).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::pipeline::Config;
use crate::source::Location;

/// How a path is written.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    /// Opened and written as it is: a device, a pipe, a socket, or a name for one of the
    /// process's open descriptors (`/dev/stdout`, `/dev/fd/1`), which is appended to (the
    /// shell may have opened it with `>>`).
    Through { append: bool },
    /// A regular file (or none yet), replaced by a rename at this path: the file a link
    /// leads to, so the link stays.
    File(PathBuf),
}

/// Whether `path` names one of the process's open descriptors: replacing it would replace
/// `/dev/stdout` itself for every process on the machine (as root), and truncating it would
/// empty what a shell's `>>` appends to.
fn names_a_descriptor(path: &Path) -> bool {
    let Some(s) = path.to_str() else {
        return false;
    };
    matches!(s, "/dev/stdout" | "/dev/stderr")
        || s.starts_with("/dev/fd/")
        || (s.starts_with("/proc/") && s.contains("/fd/"))
}

fn destination(path: &Path) -> Destination {
    if names_a_descriptor(path) {
        return Destination::Through { append: true };
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Destination::Through { append: false },
        Ok(_) => Destination::File(std::fs::canonicalize(path).unwrap_or_else(|_| path.into())),
        // a link to a file not yet written: the file it names is made, the link kept
        Err(_) => match std::fs::read_link(path) {
            Ok(to) => Destination::File(folder_of(path).join(to)),
            Err(_) => Destination::File(path.into()),
        },
    }
}

/// A temporary file in `dir`, to be renamed over a file there: a name of its own (two runs
/// writing one folder never share one) and the permissions a new file gets (`0666` less the
/// umask). Dropped unrenamed, it is removed.
pub fn temp_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".flowcost-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Write `path` with what `fill` writes: a regular file (or a new one) through a temporary
/// file in the same folder, synced and renamed over it only when `fill` succeeded (an
/// existing file keeps its permissions, and its owner where this process may give it; a new
/// one gets the usual `0666` less the umask);
/// anything else directly.
pub fn replace(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    match destination(path) {
        Destination::Through { append } => {
            let mut file = OpenOptions::new().write(true).append(append).open(path)?;
            fill(&mut file)?;
            file.flush()
        }
        Destination::File(target) => {
            let mut tmp = temp_in(folder_of(&target))?;
            fill(tmp.as_file_mut())?;
            tmp.as_file().sync_all()?;
            if let Ok(old) = std::fs::metadata(&target) {
                std::fs::set_permissions(tmp.path(), old.permissions())?;
                // its owner too, where this process may give it (root replacing a user's
                // report); elsewhere the file is the writer's, as a new one would be
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    let _ = std::os::unix::fs::chown(tmp.path(), Some(old.uid()), Some(old.gid()));
                }
            }
            tmp.persist(&target).map_err(|e| e.error)?;
            Ok(())
        }
    }
}

/// Write a result to `output` ([`replace`]), or to standard output.
pub fn write(text: &str, output: Option<&str>) -> Result<(), Error> {
    let (context, result) = match output {
        Some(path) => (
            format!("writing {path}"),
            replace(Path::new(path), |f| f.write_all(text.as_bytes())),
        ),
        None => (
            "writing standard output".into(),
            std::io::stdout().lock().write_all(text.as_bytes()),
        ),
    };
    result.map_err(|err| Error::Io { context, err })
}

/// The folder a file is written in.
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A file can be made in `dir` (a temporary one, made and removed at once); `flag` and
/// `shown` name the setting it is for.
fn writable_folder(flag: &str, shown: &Path, dir: &Path) -> Result<(), Error> {
    let fail = |why: String| Err(Error::Usage(format!("{flag} {}: {why}", shown.display())));
    match std::fs::metadata(dir) {
        Err(e) => return fail(format!("{}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => return fail(format!("{} is not a folder", dir.display())),
        Ok(_) => {}
    }
    match temp_in(dir) {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = e.raw_os_error().map_or(e, io::Error::from_raw_os_error);
            fail(format!("cannot write in {}: {e}", dir.display()))
        }
    }
}

/// Before a run reads anything: its result can be written at `output` (given to `flag`),
/// and writing it there loses no file the run reads ([`refuse_overwriting`]).
pub fn check(flag: &str, output: &Path, reads: &Reads) -> Result<(), Error> {
    let refuse = |why: &str| Err(Error::Usage(format!("{flag} {}: {why}", output.display())));
    let target = match destination(output) {
        Destination::Through { .. } if output.is_dir() => return refuse("a folder, not a file"),
        Destination::Through { .. } => return Ok(()),
        Destination::File(target) => target,
    };
    writable_folder(flag, output, folder_of(&target))?;
    // (a rename would replace it all the same: its mode is the owner's word)
    if std::fs::metadata(&target).is_ok_and(|m| m.permissions().readonly()) {
        return refuse("the file is read-only");
    }
    refuse_reading(flag, output, &target, reads)
}

/// Before a run reads anything: the folder `dir` (given to `flag`) is one, or can be made
/// (the nearest folder above it that exists takes a file).
pub fn check_folder(flag: &str, dir: &Path) -> Result<(), Error> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Error::Usage(format!(
            "{flag} {}: not a folder",
            dir.display()
        ))),
        Ok(_) => writable_folder(flag, dir, dir),
        Err(_) => {
            let above = (dir.ancestors().skip(1))
                .find(|a| !a.as_os_str().is_empty() && a.exists())
                .unwrap_or(Path::new("."));
            writable_folder(flag, dir, above)
        }
    }
}

/// What a run reads, for the checks of its outputs.
#[derive(Default)]
pub struct Reads<'a> {
    /// The run's configurations (a side each for `compare`): their inputs as listed (files
    /// found in folders too) and their bills' files.
    pub cfgs: Vec<&'a Config>,
    /// The flow-log inputs as given.
    pub inputs: Vec<&'a str>,
    /// The documents the flags name, the partials merged, the previous report: read whatever
    /// they hold.
    pub documents: Vec<&'a str>,
}

/// Whether `path` holds one of flowcost's reports (not a partial result), which a flow-log
/// input skips unread: a monthly job may write its report over last month's in the folder it
/// reads.
fn holds_own_report(path: &Path) -> bool {
    let mut head = Vec::with_capacity(crate::report::own::HEAD);
    let read = File::open(path).and_then(|f| {
        f.take(crate::report::own::HEAD as u64)
            .read_to_end(&mut head)
    });
    read.is_ok()
        && crate::source::own_output(&head)
            .is_some_and(|k| k != crate::report::own::OwnOutput::Partial)
}

/// Refuse to write to `output` (given to `flag`) when it is a file the run reads ([`Reads`];
/// a flow-log input that holds one of flowcost's reports is skipped, not read). Only an
/// existing regular file can be one; a listed input is compared only where its size is the
/// output's.
pub fn refuse_overwriting(flag: &str, output: &Path, reads: &Reads) -> Result<(), Error> {
    match destination(output) {
        Destination::File(target) => refuse_reading(flag, output, &target, reads),
        Destination::Through { .. } => Ok(()),
    }
}

/// [`refuse_overwriting`] of `output`, which is replaced at `target`.
fn refuse_reading(flag: &str, output: &Path, target: &Path, reads: &Reads) -> Result<(), Error> {
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(()); // not written yet: nothing to lose
    };
    let skipped = holds_own_report(target);
    let listed = (reads.cfgs.iter().filter(|_| !skipped))
        .flat_map(|c| &c.inputs)
        .filter_map(|i| match &i.location {
            Location::File(p) if i.size == meta.len() => Some(p.as_path()),
            _ => None,
        });
    let given = (reads.inputs.iter().filter(|_| !skipped)).map(Path::new);
    let billed = (reads.cfgs.iter())
        .flat_map(|c| c.bill.iter().flat_map(|b| &b.files))
        .map(Path::new);
    let documents = reads.documents.iter().map(Path::new);
    let mut read = listed.chain(given).chain(billed).chain(documents);
    match read.find(|p| std::fs::canonicalize(p).is_ok_and(|p| p == target)) {
        Some(p) => Err(Error::Usage(format!(
            "{flag} {}: this run reads that file{}; the result would replace it (name another file)",
            output.display(),
            match p == output {
                true => String::new(),
                false => format!(" (as {})", p.display()),
            }
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_devices_and_pipes_are_written_through_files_replaced() {
        assert_eq!(
            destination(Path::new("/dev/stdout")),
            Destination::Through { append: true }
        );
        assert_eq!(
            destination(Path::new("/proc/self/fd/2")),
            Destination::Through { append: true }
        );
        assert_eq!(
            destination(Path::new("/dev/null")),
            Destination::Through { append: false }
        );
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.json");
        assert_eq!(destination(&new), Destination::File(new.clone()));
        std::fs::write(&new, "old").unwrap();
        let real = std::fs::canonicalize(&new).unwrap();
        assert_eq!(destination(&new), Destination::File(real.clone()));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.json");
            std::os::unix::fs::symlink(&new, &link).unwrap();
            assert_eq!(destination(&link), Destination::File(real));
            let dangling = dir.path().join("latest.json");
            std::os::unix::fs::symlink("2026-09.json", &dangling).unwrap();
            let named = dir.path().join("2026-09.json");
            assert_eq!(destination(&dangling), Destination::File(named.clone()));
            replace(&dangling, |f| f.write_all(b"{}")).unwrap();
            assert_eq!(std::fs::read_to_string(&named).unwrap(), "{}");
            assert!(std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink());
        }
    }

    #[test]
    fn a_failed_write_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "last month").unwrap();
        let failed = replace(&path, |f| {
            f.write_all(b"half a rep")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "last month");
        // and no temporary file is left beside it
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        replace(&path, |f| f.write_all(b"this month")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "this month");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode_and_owner_and_a_link_its_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        replace(&link, |f| f.write_all(b"y")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "y");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // a file of another owner keeps its owner where the writer may give it (root)
        use std::os::unix::fs::MetadataExt;
        if std::os::unix::fs::chown(&path, Some(1), Some(1)).is_ok() {
            replace(&path, |f| f.write_all(b"z")).unwrap();
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (1, 1));
        }
    }

    #[test]
    fn an_output_that_is_a_file_read_is_refused_unless_a_report_the_inputs_skip() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "version\n").unwrap();
        let other = dir.path().join("b.json");
        let named = log.to_str().unwrap();
        let input = Reads {
            inputs: vec![named],
            ..Default::default()
        };
        let err = refuse_overwriting("-o", &log, &input).unwrap_err();
        assert!(
            err.to_string().contains("this run reads that file"),
            "{err}"
        );
        // by another name of the same file
        let roundabout = dir.path().join(".").join("a.log");
        assert!(refuse_overwriting("-o", &roundabout, &input).is_err());
        // a file not yet written, or one not read, is no loss
        assert!(refuse_overwriting("-o", &other, &input).is_ok());
        std::fs::write(&other, "{}").unwrap();
        assert!(refuse_overwriting("-o", &other, &input).is_ok());
        let null = Reads {
            inputs: vec!["/dev/null"],
            ..Default::default()
        };
        assert!(refuse_overwriting("-o", Path::new("/dev/null"), &null).is_ok());
        // last month's report among the inputs is skipped unread: it may be replaced; named
        // as a document (`--previous`) it is read, and may not; a partial result never
        let report = dir.path().join("report.txt");
        let table = format!("{}\n=====\n", crate::report::own::ANALYZE_TITLE);
        std::fs::write(&report, &table).unwrap();
        assert!(crate::source::own_output(table.as_bytes()).is_some());
        let path = report.to_str().unwrap();
        let as_input = Reads {
            inputs: vec![path],
            ..Default::default()
        };
        assert!(refuse_overwriting("-o", &report, &as_input).is_ok());
        let as_document = Reads {
            documents: vec![path],
            ..Default::default()
        };
        assert!(refuse_overwriting("-o", &report, &as_document).is_err());
        std::fs::write(&report, format!("{}\n", crate::partial::FORMAT)).unwrap();
        assert!(refuse_overwriting("-o", &report, &as_input).is_err());
    }

    #[test]
    fn a_place_that_cannot_be_written_is_refused_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let missing = dir.path().join("missing").join("out.json");
        let err = check("-o", &missing, &Reads::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("No such file"), "{err}");
        let under_a_file = file.join("out.json");
        assert!(check("-o", &under_a_file, &Reads::default()).is_err());
        assert!(check("-o", &dir.path().join("out.json"), &Reads::default()).is_ok());
        assert!(check("-o", Path::new("/dev/null"), &Reads::default()).is_ok());
        let err = check("-o", dir.path(), &Reads::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("a folder"), "{err}");
        let kept = dir.path().join("kept.json");
        std::fs::write(&kept, "{}").unwrap();
        let mut read_only = std::fs::metadata(&kept).unwrap().permissions();
        read_only.set_readonly(true);
        std::fs::set_permissions(&kept, read_only).unwrap();
        let err = check("-o", &kept, &Reads::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("read-only"), "{err}");
        std::fs::remove_file(&kept).unwrap();
        // nothing is left behind by the check
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // a report folder: one that exists, one to be made under folders to be made, not a file
        assert!(check_folder("-d", dir.path()).is_ok());
        assert!(check_folder("-d", &dir.path().join("a").join("b")).is_ok());
        let err = check_folder("-d", &file).unwrap_err().to_string();
        assert!(err.contains("not a folder"), "{err}");
        assert!(check_folder("-d", &file.join("sub")).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
