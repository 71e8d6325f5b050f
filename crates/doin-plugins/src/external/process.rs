//! One external plugin process: started on demand, driven one request at a time, killed
//! and started afresh after a crash, a timeout or a protocol violation.
//!
//! Threads: for each start, one thread reads the child's stdout into a bounded channel of
//! lines (so that a call can wait with a deadline) and one keeps the last lines of its
//! stderr for error messages. Both end when the child's pipes close, that is when the child
//! exits or is killed.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_primitives::{Map, Value};

use super::protocol::{self, Method, Reply};
use super::ExternalCommand;
use crate::error::{PluginError, PluginKind};

/// Lines of stderr kept for error messages.
const STDERR_LINES: usize = 20;
/// Longest stderr line kept, in bytes.
const STDERR_LINE_BYTES: usize = 1000;
/// How long a child that closed its stdout gets to report its exit status.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// What the stdout reader hands over.
enum Line {
    Text(String),
    TooLong,
    NotUtf8,
    Closed,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGKILL: a plugin gets no say in its own end. Reaping avoids a zombie.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plugin process and what it takes to (re)start it.
pub(crate) struct PluginProcess {
    command: ExternalCommand,
    kind: PluginKind,
    configure_params: Map,
    running: Option<Running>,
    next_id: u64,
    starts: u64,
}

impl PluginProcess {
    /// A process that starts on the first call. `configure_params` is sent as the params of
    /// `configure` after every start.
    pub(crate) fn new(command: ExternalCommand, kind: PluginKind, configure_params: Map) -> Self {
        PluginProcess {
            command,
            kind,
            configure_params,
            running: None,
            next_id: 1,
            starts: 0,
        }
    }

    /// The plugin's label for messages.
    pub(crate) fn label(&self) -> &str {
        &self.command.label
    }

    /// How many times the process has been started.
    pub(crate) fn starts(&self) -> u64 {
        self.starts
    }

    /// Starts the process (if it is not running) and returns the result of `configure`
    /// when it had to start it.
    pub(crate) fn ensure_started(&mut self) -> Result<Option<Value>, PluginError> {
        if let Some(r) = self.running.as_mut() {
            match r.child.try_wait() {
                Ok(None) => return Ok(None),
                // It exited between calls (after reporting a MemoryError, say): start anew.
                _ => self.running = None,
            }
        }
        let started = self.start();
        if started.is_err() {
            self.running = None;
        }
        started.map(Some)
    }

    /// Sends `method(params)` and returns its result. Any failure but a plugin-reported
    /// error kills the process; the next call starts it again.
    pub(crate) fn call(&mut self, method: Method, params: Map) -> Result<Value, PluginError> {
        self.ensure_started()?;
        let outcome = self.exchange(method, params);
        let kill = match &outcome {
            Err(
                PluginError::Timeout { .. }
                | PluginError::Crashed { .. }
                | PluginError::Protocol { .. },
            ) => true,
            // After a failed allocation the plugin's heap is not to be trusted.
            Err(PluginError::Failed { error_type, .. }) => error_type == "MemoryError",
            _ => false,
        };
        if kill {
            self.running = None;
        }
        outcome
    }

    fn start(&mut self) -> Result<Value, PluginError> {
        self.starts += 1;
        let cmd = &self.command;
        let mut command = match cmd.limits.memory_bytes {
            // RLIMIT_AS through util-linux `prlimit`, which sets the limit on itself and
            // then execs the plugin: the workspace forbids the `unsafe` a pre-exec
            // `setrlimit` would need.
            Some(bytes) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--as={bytes}"))
                    .arg("--")
                    .arg(&cmd.program)
                    .args(&cmd.args);
                c
            }
            None => {
                let mut c = Command::new(&cmd.program);
                c.args(&cmd.args);
                c
            }
        };
        command
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            let program = if cmd.limits.memory_bytes.is_some() {
                "prlimit (util-linux; set `plugin_memory_mb` to 0 to run without a memory limit)"
                    .to_owned()
            } else {
                format!("`{}`", cmd.program)
            };
            self.crashed(format!(
                "could not start {program}: {e} (set `plugin_command` to the interpreter)"
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(self.crashed("its standard streams could not be opened".into()));
        };
        let (tx, lines) = sync_channel(8);
        let max = cmd.limits.max_line_bytes;
        std::thread::Builder::new()
            .name("plugin-stdout".into())
            .spawn(move || read_stdout(stdout, max, tx))
            .map_err(|e| self.crashed(format!("could not start its reader thread: {e}")))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail_writer = Arc::clone(&tail);
        std::thread::Builder::new()
            .name("plugin-stderr".into())
            .spawn(move || keep_stderr_tail(stderr, tail_writer))
            .map_err(|e| self.crashed(format!("could not start its reader thread: {e}")))?;
        self.running = Some(Running {
            child,
            stdin,
            lines,
            stderr: tail,
        });
        let deadline = Instant::now() + self.command.limits.call_timeout;
        let hello = self.read_line("hello", deadline)?;
        protocol::check_hello(&hello, self.kind).map_err(|reason| self.protocol(reason))?;
        self.exchange(Method::Configure, self.configure_params.clone())
    }

    fn exchange(&mut self, method: Method, params: Map) -> Result<Value, PluginError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = protocol::request(id, method, params);
        line.push('\n');
        let deadline = Instant::now() + self.command.limits.call_timeout;
        let written = match self.running.as_mut() {
            Some(r) => r
                .stdin
                .write_all(line.as_bytes())
                .and_then(|()| r.stdin.flush()),
            None => return Err(self.crashed("it is not running".into())),
        };
        if let Err(e) = written {
            return Err(self.ended(
                method.as_str(),
                &format!("writing the request failed ({e})"),
            ));
        }
        loop {
            let text = self.read_line(method.as_str(), deadline)?;
            if text.trim().is_empty() {
                continue;
            }
            return match protocol::parse_reply(&text, id).map_err(|r| self.protocol(r))? {
                Reply::Result(v) => Ok(v),
                Reply::Error {
                    error_type,
                    message,
                } => Err(PluginError::Failed {
                    plugin: self.command.label.clone(),
                    method: method.as_str().to_owned(),
                    error_type,
                    message,
                }),
            };
        }
    }

    fn read_line(&mut self, what: &str, deadline: Instant) -> Result<String, PluginError> {
        let limit = self.command.limits.call_timeout;
        let Some(r) = self.running.as_mut() else {
            return Err(self.crashed("it is not running".into()));
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        match r.lines.recv_timeout(wait) {
            Ok(Line::Text(t)) => Ok(t),
            Ok(Line::TooLong) => Err(self.protocol(format!(
                "wrote a line longer than {} bytes (`plugin_max_line_bytes`)",
                self.command.limits.max_line_bytes
            ))),
            Ok(Line::NotUtf8) => Err(self.protocol("wrote a line that is not UTF-8".into())),
            Ok(Line::Closed) | Err(RecvTimeoutError::Disconnected) => {
                Err(self.ended(what, "it closed its stdout"))
            }
            Err(RecvTimeoutError::Timeout) => Err(PluginError::Timeout {
                plugin: self.command.label.clone(),
                method: what.to_owned(),
                limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// The error for a child that went away during `what`: its exit status and stderr.
    fn ended(&mut self, what: &str, how: &str) -> PluginError {
        let status = self
            .running
            .as_mut()
            .and_then(|r| exit_status(&mut r.child));
        let status = match status {
            Some(s) => describe_exit(s),
            None => "still running".to_owned(),
        };
        self.crashed(format!("{how} during `{what}` ({status})"))
    }

    fn crashed(&self, reason: String) -> PluginError {
        PluginError::Crashed {
            plugin: self.command.label.clone(),
            reason: format!("{reason}{}", self.stderr_tail()),
        }
    }

    fn protocol(&self, reason: String) -> PluginError {
        PluginError::Protocol {
            plugin: self.command.label.clone(),
            reason: format!("{reason}{}", self.stderr_tail()),
        }
    }

    fn stderr_tail(&self) -> String {
        // Give the stderr thread a moment to catch the dying words.
        std::thread::sleep(Duration::from_millis(20));
        let lines: Vec<String> = self
            .running
            .as_ref()
            .and_then(|r| r.stderr.lock().ok().map(|t| t.iter().cloned().collect()))
            .unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; stderr ends with:\n{}", lines.join("\n"))
        }
    }
}

fn exit_status(child: &mut Child) -> Option<ExitStatus> {
    let until = Instant::now() + EXIT_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let hint = if sig == 9 {
                " (SIGKILL: often the kernel's out-of-memory killer)"
            } else {
                ""
            };
            return format!("killed by signal {sig}{hint}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

/// Reads one line of at most `max` bytes (without its newline) into `buf`. Returns
/// `Ok(None)` at end of stream and `Ok(Some(false))` when the line was longer than `max`:
/// then `buf` holds its first `max` bytes and the rest of the line is left unread when
/// `stop_at_max`, skipped otherwise.
fn read_capped_line(
    r: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
    stop_at_max: bool,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut fits = true;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() && fits {
                None
            } else {
                Some(fits)
            });
        }
        let (chunk, used, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            fits = false;
            buf.extend_from_slice(&chunk[..room]);
            if stop_at_max {
                return Ok(Some(false));
            }
        } else {
            buf.extend_from_slice(chunk);
        }
        r.consume(used);
        if done {
            return Ok(Some(fits));
        }
    }
}

fn read_stdout(stdout: impl Read, max: usize, tx: SyncSender<Line>) {
    let mut r = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        let line = match read_capped_line(&mut r, max, &mut buf, true) {
            Ok(Some(true)) => match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(s) => Line::Text(s),
                Err(_) => Line::NotUtf8,
            },
            Ok(Some(false)) => Line::TooLong,
            Ok(None) | Err(_) => Line::Closed,
        };
        let last = !matches!(line, Line::Text(_));
        if tx.send(line).is_err() || last {
            return;
        }
    }
}

fn keep_stderr_tail(stderr: impl Read, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut r = BufReader::new(stderr);
    let mut buf = Vec::new();
    while let Ok(Some(_)) = read_capped_line(&mut r, STDERR_LINE_BYTES, &mut buf, false) {
        let line = String::from_utf8_lossy(&buf).into_owned();
        let Ok(mut t) = tail.lock() else { return };
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lines_stop_or_skip_at_the_cap() {
        let mut r = BufReader::with_capacity(4, &b"abc\n0123456789\nxy"[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_capped_line(&mut r, 5, &mut buf, false).unwrap(),
            Some(true)
        );
        assert_eq!(buf, b"abc");
        assert_eq!(
            read_capped_line(&mut r, 5, &mut buf, false).unwrap(),
            Some(false)
        );
        assert_eq!(buf, b"01234");
        assert_eq!(
            read_capped_line(&mut r, 5, &mut buf, false).unwrap(),
            Some(true)
        );
        assert_eq!(buf, b"xy");
        assert_eq!(read_capped_line(&mut r, 5, &mut buf, false).unwrap(), None);

        let mut r = BufReader::new(&b"0123456789\n"[..]);
        assert_eq!(
            read_capped_line(&mut r, 5, &mut buf, true).unwrap(),
            Some(false)
        );
    }
}
