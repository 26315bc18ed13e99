//! What is sent next: a request kind or a flow drawn by weight from the mix, and a request
//! kind's path, headers and body rendered from their templates with seeded keys, fresh ids, the
//! payload, the run's sequence, data-file rows and (in a flow) what earlier steps captured. Headers without placeholders are made once; a request's header replaces
//! `[target]`'s of the same name, and `content-type: application/json` is added to a body only
//! when neither sets one (a server never sees two).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use super::keys::KeyPicker;
use super::pacer::Shard;
use crate::scenario::Plan;
use crate::scenario::seed_data::{RowOrder, SeedRows};
use crate::scenario::template::{Fill, Template, push_id};

/// A request ready to send.
pub struct Prepared {
    /// Index of the request kind.
    pub request: usize,
    /// Where it goes: the engine's endpoint index (0 is `[target]`).
    pub endpoint: usize,
    /// Method.
    pub method: hyper::Method,
    /// Where to.
    pub uri: hyper::Uri,
    /// Headers, each name once.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body (empty for none).
    pub body: Bytes,
}

/// A header of a request kind: made once, or rendered per request.
#[derive(Clone)]
enum HeaderTemplate {
    Fixed(HeaderValue),
    Rendered(Template),
}

/// The request mix of one run.
pub struct Mix {
    /// Request kinds and their templates (a flow step's too).
    requests: Vec<Kind>,
    /// What an arrival draws among, by weight (requests of weight 0 are flow steps only).
    units: Vec<(f64, Unit)>,
    weights_total: f64,
    keys: KeyPicker,
    payload: String,
    fresh_ids: AtomicU64,
    seq: AtomicU64,
    /// What makes this run's `{new_id}`s its own: the seed and the start time.
    run_tag: String,
    /// A data file's rows, whose keys `{id}` renders.
    file_keys: crate::scenario::seed_data::Rows,
    /// The `[[data.file]]`s templates draw fields from.
    files: Vec<FileState>,
    /// The fleet shard this host is: its counters (new ids, `{seq}`, sequential and unique
    /// rows) take every `count`-th value from `index`, so no two workers share one.
    shard: Shard,
}

/// A data file as requests take its rows.
struct FileState {
    name: String,
    rows: std::sync::Arc<SeedRows>,
    order: RowOrder,
    /// The next row of a sequential or unique file.
    next: AtomicU64,
}

/// What an arrival (or a closed-model user's iteration) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Sends request kind `.0`.
    Request(usize),
    /// Runs flow `.0`.
    Flow(usize),
}

/// What one standalone request or one flow instance keeps across its renderings: its row of
/// each data file (every field of one instance comes from one row, so a user's email and
/// password match) and the values its steps captured.
#[derive(Debug, Default)]
pub struct Instance {
    /// The row taken of each data file, on its first field.
    chosen: Vec<Option<usize>>,
    /// The captured values, by slot (empty until captured).
    pub vars: Vec<String>,
}

impl Instance {
    /// An instance with `slots` captures.
    pub fn new(slots: usize) -> Instance {
        Instance { chosen: Vec::new(), vars: vec![String::new(); slots] }
    }
}

/// A `unique` data file whose rows have all been used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted(pub String);

struct Kind {
    /// Its endpoint (0 is `[target]`).
    endpoint: usize,
    /// What its paths are appended to: the whole base URL for the general client, only its
    /// path for the fast path (origin-form request targets).
    prefix: String,
    method: hyper::Method,
    path: Template,
    body: Option<Template>,
    headers: Vec<(HeaderName, HeaderTemplate)>,
    /// Whether any header is rendered per request.
    dynamic_headers: bool,
    /// The URI when the path has no placeholders: parsed once, cloned cheaply.
    fixed: Option<hyper::Uri>,
}

/// Its target's headers (`[target]`'s or its `[targets.NAME]`'s) and then the request's, a
/// later name replacing an earlier (names are case-insensitive), and the JSON content type for
/// a body that sets none. Validation has checked every name and literal value, so one that
/// still does not parse is left out.
fn headers_of(plan: &Plan, i: usize) -> Vec<(HeaderName, HeaderTemplate)> {
    let r = &plan.requests[i];
    let target = match plan.target_of(i) {
        Some(t) => &plan.targets[t].headers,
        None => &plan.target.headers,
    };
    let mut out: Vec<(HeaderName, HeaderTemplate)> = Vec::new();
    for (k, v) in target.iter().chain(&r.headers) {
        let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else { continue };
        let value = match v.literal() {
            Some(l) => match HeaderValue::from_bytes(l.as_bytes()) {
                Ok(v) => HeaderTemplate::Fixed(v),
                Err(_) => continue,
            },
            None => HeaderTemplate::Rendered(v.clone()),
        };
        out.retain(|(n, _)| n != name);
        out.push((name, value));
    }
    if r.body.is_some() && !out.iter().any(|(n, _)| n == CONTENT_TYPE) {
        out.push((CONTENT_TYPE, HeaderTemplate::Fixed(HeaderValue::from_static("application/json"))));
    }
    out
}

/// A tag no other run shares: the seed and the start time in ms, mixed (FNV-1a) and written in
/// base 36, so `{new_id}` is `new-<tag>-<n>` and a rerun with the same seed writes new items.
fn run_tag(seed: u64) -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().into_iter().chain(ms.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::new();
    while h > 0 {
        out.insert(0, char::from_digit((h % 36) as u32, 36).unwrap_or('0'));
        h /= 36;
    }
    out
}

/// What one rendering draws from.
struct MixFill<'a> {
    mix: &'a Mix,
    rng: &'a mut fastrand::Rng,
    file_keys: Option<&'a SeedRows>,
    /// The instance rendering: its rows and captures.
    inst: &'a mut Instance,
    /// A unique file that ran out.
    exhausted: Option<usize>,
}

impl Fill for MixFill<'_> {
    fn id(&mut self) -> u64 {
        self.mix.keys.pick(self.rng)
    }
    fn ids(&mut self, n: usize, out: &mut Vec<u64>) {
        self.mix.keys.pick_distinct(n, self.rng, out);
    }
    fn id_text(&self, out: &mut String, n: u64) {
        // A data file's keys, or the generated items' ids.
        match self.file_keys.and_then(|r| r.keys.get(n as usize)) {
            Some(k) => out.push_str(k),
            None => push_id(out, n),
        }
    }
    fn new_id(&mut self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "new-{}-{}", self.mix.run_tag, self.mix.nth(&self.mix.fresh_ids));
    }
    fn payload(&self) -> &str {
        &self.mix.payload
    }
    fn seq(&mut self) -> u64 {
        self.mix.nth(&self.mix.seq)
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        self.rng
    }
    fn field(&mut self, file: usize, column: &str, out: &mut String) {
        let Some(f) = self.mix.files.get(file) else { return };
        let chosen = &mut self.inst.chosen;
        if chosen.len() < self.mix.files.len() {
            chosen.resize(self.mix.files.len(), None);
        }
        let len = f.rows.items.len().max(1);
        let row = match chosen[file] {
            Some(r) => r,
            None => {
                let r = match f.order {
                    RowOrder::Sequential => (self.mix.nth(&f.next) % len as u64) as usize,
                    RowOrder::Random => self.rng.usize(..len),
                    RowOrder::Unique => {
                        let n = usize::try_from(self.mix.nth(&f.next)).unwrap_or(usize::MAX);
                        if n >= f.rows.items.len() {
                            self.exhausted = Some(file);
                            return;
                        }
                        n
                    }
                };
                chosen[file] = Some(r);
                r
            }
        };
        if let Some(v) = f.rows.items.get(row).and_then(|(_, item)| item.get(column)) {
            v.write_to(out);
        }
    }
    fn captured(&self, slot: usize, out: &mut String) {
        if let Some(v) = self.inst.vars.get(slot) {
            out.push_str(v);
        }
    }
}

impl Mix {
    /// The mix of `plan`, each kind's paths appended to its endpoint's prefix (`prefixes`, by
    /// endpoint index).
    pub fn new(plan: &Plan, prefixes: &[&str]) -> Mix {
        let requests = plan
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let headers = headers_of(plan, i);
                let endpoint = super::endpoint::index_of(plan, i);
                let prefix = prefixes.get(endpoint).copied().unwrap_or_default().to_owned();
                Kind {
                    method: hyper::Method::from_bytes(r.method.as_bytes()).unwrap_or(hyper::Method::GET),
                    path: r.path.clone(),
                    body: r.body.clone(),
                    dynamic_headers: headers.iter().any(|(_, v)| matches!(v, HeaderTemplate::Rendered(_))),
                    headers,
                    fixed: r.path.literal().and_then(|l| format!("{prefix}{l}").parse().ok()),
                    endpoint,
                    prefix,
                }
            })
            .collect::<Vec<_>>();
        let units: Vec<(f64, Unit)> = (plan.requests.iter().enumerate())
            .map(|(i, r)| (r.weight, Unit::Request(i)))
            .chain(plan.flows.iter().enumerate().map(|(i, f)| (f.weight, Unit::Flow(i))))
            .filter(|(w, _)| *w > 0.0)
            .collect();
        Mix {
            weights_total: units.iter().map(|(w, _)| w).sum(),
            units,
            requests,
            keys: KeyPicker::new(plan.data.items, &plan.data.distribution),
            payload: "x".repeat(plan.data.item_size),
            fresh_ids: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            run_tag: run_tag(plan.seed),
            file_keys: plan.data.rows.clone(),
            files: plan
                .data
                .files
                .iter()
                // One state per file, in the plan's order: `{file.column}` names a file by index.
                .map(|f| FileState {
                    name: f.name.clone(),
                    rows: f.rows.clone().unwrap_or_default(),
                    order: f.order,
                    next: AtomicU64::new(0),
                })
                .collect(),
            shard: Shard::WHOLE,
        }
    }

    /// Makes this host's counters shard `shard`'s share of the fleet's.
    pub fn set_shard(&mut self, shard: Shard) {
        self.shard = shard;
    }

    /// The next value of `counter` that is this shard's.
    fn nth(&self, counter: &AtomicU64) -> u64 {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        n.wrapping_mul(u64::from(self.shard.count)).wrapping_add(u64::from(self.shard.index))
    }

    /// Draws what the next arrival does, by weight.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Unit {
        let mut x = rng.f64() * self.weights_total;
        for (w, u) in &self.units {
            if x < *w {
                return *u;
            }
            x -= w;
        }
        // Only rounding gets here: the last unit.
        self.units.last().map_or(Unit::Request(0), |(_, u)| *u)
    }

    /// Renders request kind `idx` for `inst`; `Err` when it needs a row of a `unique` data file
    /// that has none left.
    pub fn render(&self, idx: usize, rng: &mut fastrand::Rng, inst: &mut Instance) -> Result<Prepared, Exhausted> {
        let kind = &self.requests[idx];
        let fixed_headers = || {
            kind.headers
                .iter()
                .filter_map(|(n, v)| match v {
                    HeaderTemplate::Fixed(v) => Some((n.clone(), v.clone())),
                    HeaderTemplate::Rendered(_) => None,
                })
                .collect()
        };
        if let (Some(uri), None, false) = (&kind.fixed, &kind.body, kind.dynamic_headers) {
            let headers = fixed_headers();
            return Ok(Prepared {
                request: idx,
                endpoint: kind.endpoint,
                method: kind.method.clone(),
                uri: uri.clone(),
                headers,
                body: Bytes::new(),
            });
        }
        let mut path = String::with_capacity(kind.prefix.len() + 64);
        path.push_str(&kind.prefix);
        let mut body = String::new();
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(kind.headers.len());
        {
            let mut fill = MixFill { mix: self, rng, file_keys: self.file_keys.as_deref(), inst, exhausted: None };
            kind.path.render(&mut path, &mut fill);
            if let Some(b) = &kind.body {
                b.render(&mut body, &mut fill);
            }
            let mut text = String::new();
            for (name, v) in &kind.headers {
                let value = match v {
                    HeaderTemplate::Fixed(v) => Some(v.clone()),
                    HeaderTemplate::Rendered(t) => {
                        text.clear();
                        t.render(&mut text, &mut fill);
                        // Validation checked every literal and data-file value, so this holds.
                        HeaderValue::from_bytes(text.as_bytes()).ok()
                    }
                };
                if let Some(value) = value {
                    headers.push((name.clone(), value));
                }
            }
            if let Some(f) = fill.exhausted {
                return Err(Exhausted(self.files[f].name.clone()));
            }
        }
        // A data-file value a path may not hold as is (a space, `José`) goes percent-encoded, as
        // a browser would send it; what is already valid is sent byte for byte.
        let uri = hyper::Uri::try_from(path.as_str())
            .or_else(|_| hyper::Uri::try_from(encoded(&path)))
            .unwrap_or_else(|_| hyper::Uri::from_static("http://invalid./"));
        Ok(Prepared {
            request: idx,
            endpoint: kind.endpoint,
            method: kind.method.clone(),
            uri,
            headers,
            body: Bytes::from(body),
        })
    }
}

/// `path` with every byte a URI may not hold percent-encoded (controls, space, the quote, angle
/// brackets, backslash, caret, backtick, braces, bar and non-ASCII); `%`, `?`, `&` and the rest
/// of the URI syntax are left as written.
fn encoded(path: &str) -> String {
    const UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'<')
        .add(b'>')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    percent_encoding::utf8_percent_encode(path, UNSAFE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tags_differ_between_runs_of_one_seed() {
        let a = run_tag(7);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_ne!(a, run_tag(7));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn paths_a_uri_cannot_hold_are_encoded_and_the_rest_kept() {
        let e = encoded("/u/José a?x=1&y=%41");
        assert_eq!(e, "/u/Jos%C3%A9%20a?x=1&y=%41");
        assert!(hyper::Uri::try_from(e.as_str()).is_ok());
    }
}
