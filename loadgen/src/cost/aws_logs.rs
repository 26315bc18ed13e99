//! A deployed function's log from CloudWatch Logs: the REPORT lines of `/aws/lambda/<name>` (or
//! the JSON log format's `platform.report` events, written as the same lines) and
//! the function's Lambda Insights performance events (`/aws/lambda-insights`) from the start of
//! the run (its seeding) to the end of the measured window, split at the window's start — the
//! same text the local stack's log gives, read by [`super::lambda_log::from_text`].
//!
//! Doubt: Lambda writes a REPORT line when an invocation ends and CloudWatch Logs shows it
//! seconds later; [`fetch`] reads once, after the metrics pull has waited for CloudWatch, so a
//! few of the last invocations may be missing. The calibration's source says how many REPORT
//! lines it read against the responses the client saw.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;

/// Events read per log group at most: a day at ~10 invocations a second. Past it the read
/// stops and says so, rather than holding an unbounded log in memory.
pub const MAX_EVENTS: usize = 1_000_000;

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The call failed (credentials, network, a missing log group).
    #[error("CloudWatch Logs FilterLogEvents on {group} failed: {why}")]
    Filter {
        /// The log group.
        group: String,
        /// The SDK's error.
        why: String,
    },
}

/// A function's log around a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionLog {
    /// REPORT lines before the measured window (the seeding's), one per line.
    pub head: String,
    /// REPORT lines of the window.
    pub tail: String,
    /// The function's Lambda Insights performance events, one JSON document per line; `None`
    /// when its log group does not exist (Lambda Insights is not enabled).
    pub insights: Option<String>,
    /// True when a log group had more than [`MAX_EVENTS`] events and the rest were not read.
    pub truncated: bool,
    /// Why the Lambda Insights events could not be read, when they could not (the REPORT lines
    /// still calibrate; only the CPU time is missing).
    pub insights_error: Option<String>,
}

/// Where and what to read.
#[derive(Debug, Clone)]
pub struct LogsQuery<'a> {
    /// An endpoint to use instead of AWS's (a test's moto server); with it, static dummy
    /// credentials.
    pub endpoint: Option<&'a str>,
    /// Region.
    pub region: &'a str,
    /// The function's name.
    pub function: &'a str,
    /// When the run started (before its seeding), the measured window's start and its end.
    pub times: (SystemTime, SystemTime, SystemTime),
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Every event of `group` matching `pattern` in `[from, to)` ms, as `(timestamp, message)`;
/// `Ok(None)` when the group does not exist.
async fn events(
    c: &Client,
    group: &str,
    pattern: &str,
    (from, to): (i64, i64),
    truncated: &mut bool,
) -> Result<Option<Vec<(i64, String)>>, LogsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .filter_log_events()
            .log_group_name(group)
            .filter_pattern(pattern)
            .start_time(from)
            .end_time(to)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => {
                let why = aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string();
                return Err(LogsError::Filter { group: group.to_owned(), why });
            }
        };
        for e in page.events() {
            if let (Some(t), Some(m)) = (e.timestamp(), e.message()) {
                out.push((t, m.trim_end().to_owned()));
            }
        }
        if out.len() > MAX_EVENTS {
            out.truncate(MAX_EVENTS);
            *truncated = true;
            break;
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(Some(out))
}

/// The part of a performance event that names its function.
#[derive(serde::Deserialize)]
struct Named {
    function_name: String,
}

/// The events of a function's log group that are reports, in either log format: the text
/// format's `REPORT` lines and the JSON format's `platform.report` events (any term matches).
const REPORTS: &str = "?REPORT ?\"platform.report\"";

/// Reads the function's REPORT lines and Lambda Insights events around the run.
pub async fn fetch(q: &LogsQuery<'_>) -> Result<FunctionLog, LogsError> {
    let c = Client::new(&crate::sdk::config(q.endpoint, q.region).await);
    let (start, window, end) = (millis(q.times.0), millis(q.times.1), millis(q.times.2));
    let mut log = FunctionLog::default();
    let group = format!("/aws/lambda/{}", q.function);
    let reports =
        events(&c, &group, REPORTS, (start, end), &mut log.truncated).await?.ok_or_else(|| LogsError::Filter {
            group: group.clone(),
            why: format!(
                "the log group does not exist in {}: check the function name and region (a function logging to a \
                 custom log group is not read)",
                q.region
            ),
        })?;
    for (t, line) in reports.iter().filter_map(|(t, m)| Some((t, super::lambda_log::report_line(m)?))) {
        let part = if *t < window { &mut log.head } else { &mut log.tail };
        part.push_str(&line);
        part.push('\n');
    }
    // Every function's events share the group: the pattern narrows the read on AWS (for a name
    // Lambda allows; anything else could break the pattern), and the name is checked here too.
    let plain = q.function.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let pattern = if plain { format!("{{ $.function_name = \"{}\" }}", q.function) } else { String::new() };
    let insights = match events(&c, "/aws/lambda-insights", &pattern, (window, end), &mut log.truncated).await {
        Ok(found) => found,
        Err(e) => {
            log.insights_error = Some(e.to_string());
            None
        }
    };
    log.insights = insights.map(|all| {
        let mine = all
            .into_iter()
            .filter(|(_, m)| serde_json::from_str::<Named>(m).is_ok_and(|n| n.function_name == q.function));
        mine.map(|(_, m)| m + "\n").collect()
    });
    Ok(log)
}
