//! Asking for secrets: without echo on a terminal, a line from stdin otherwise.

use std::io::{BufRead as _, IsTerminal as _};

use zeroize::Zeroizing;

use super::CliError;

/// Reads a new password: typed twice on a terminal, or one line from piped stdin.
pub fn new_password(prompt: &str) -> Result<Zeroizing<String>, CliError> {
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password(format!("{prompt}: "))?);
        let again = Zeroizing::new(rpassword::prompt_password("Repeat it: ")?);
        if *first != *again {
            return Err(CliError("the passwords do not match".into()));
        }
        Ok(first)
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

/// Asks a yes/no question on the terminal; anything but "y"/"yes" is no.
pub fn confirm(question: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
