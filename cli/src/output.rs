//! Printing results as text for people or as JSON for scripts.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::error::{CliError, CliResult};

/// Where results go.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    /// The format.
    pub(crate) format: OutputFormat,
}

impl Out {
    /// Prints `value` as JSON, or `text` for people.
    pub(crate) fn print<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> CliResult {
        match self.format {
            OutputFormat::Json => {
                let json = serde_json::to_string_pretty(value)
                    .map_err(|error| CliError::new(format!("cannot print JSON: {error}")))?;
                println!("{json}");
            }
            OutputFormat::Text => {
                let text = text();
                if !text.is_empty() {
                    println!("{}", text.trim_end());
                }
            }
        }
        Ok(())
    }

    /// True for people.
    pub(crate) fn is_text(&self) -> bool {
        self.format == OutputFormat::Text
    }

    /// A progress bar of `len` steps drawn with indicatif's `template`, for
    /// people only: hidden when the output is JSON, so scripts read clean
    /// output.
    pub(crate) fn progress_bar(&self, len: u64, template: &str) -> ProgressBar {
        let bar = if self.is_text() {
            ProgressBar::new(len)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }
}

/// Prints an error in the chosen format, on stderr.
pub(crate) fn print_error(out: Out, error: &CliError) {
    match out.format {
        OutputFormat::Json => {
            let body = serde_json::json!({
                "error": {
                    "code": error.code,
                    "message": error.message,
                    "hint": error.hint,
                    "exit_code": error.exit,
                }
            });
            eprintln!("{body}");
        }
        OutputFormat::Text => {
            // The code is what the docs and scripts search for: show it once.
            match &error.code {
                Some(code) if !error.message.contains(code.as_str()) => {
                    eprintln!("error: {} ({code})", error.message);
                }
                _ => eprintln!("error: {}", error.message),
            }
            if let Some(hint) = &error.hint {
                eprintln!("hint: {hint}");
            }
        }
    }
}
