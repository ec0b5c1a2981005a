//! The checkpoint file: one signed checkpoint per line (JSON), only ever appended to, readable by
//! loket's user alone. Copy it off the machine (or point `--checkpoints` at a mounted log
//! store): a checkpoint kept where the database's writers cannot reach is what catches a trail
//! rewritten from its first event.

use super::Checkpoint;
use std::io::{BufRead, Write};
use std::path::Path;

/// Appends `point` as one line, creating the file (0600) when needed.
pub fn append(path: &Path, point: &Checkpoint) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let line = serde_json::to_string(point).map_err(std::io::Error::other)?;
    writeln!(file, "{line}")?;
    file.sync_all()
}

/// Every checkpoint in the file; none when there is no file yet.
pub fn read(path: &Path) -> std::io::Result<Vec<Checkpoint>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut points = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let point = serde_json::from_str(&line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} line {}: {e}", path.display(), number + 1),
            )
        })?;
        points.push(point);
    }
    Ok(points)
}
