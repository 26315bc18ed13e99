//! `[[flow]]`: names, weights and ordered steps. Each step becomes a request kind of its own
//! (`<flow>/<step>`, weight 0), a `[[request]]` it names or one written in place; its captures
//! get their slots, and a later step may use only what an earlier one captured.

use std::collections::HashSet;

use toml::Spanned;

use super::requests::{Fields, Scope, kind, weight};
use crate::scenario::error::{Locator, ScenarioError, suggestion};
use crate::scenario::flow::{Capture, Flow, FlowStep, Source};
use crate::scenario::raw::{RawFlow, RawRequest, RawStep};
use crate::scenario::template::ident;
use crate::scenario::values::{duration, span};
use crate::scenario::{Data, Request};

/// The names built-in placeholders take, which a capture may not.
const BUILT_IN: [&str; 6] = ["id", "new_id", "payload", "uuid", "seq", "now_ms"];

/// Validates the flows; their steps' request kinds are appended to `requests` (which holds the
/// `[[request]]`s on entry). Also checks the mix as a whole: something to send, and no
/// `[[request]]` of weight 0 that no step sends.
pub(super) fn flows(
    loc: &Locator<'_>,
    raw: &[Spanned<RawFlow>],
    raw_requests: &[Spanned<RawRequest>],
    requests: &mut Vec<Request>,
    (data, targets): (&Data, &[String]),
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Flow>, ScenarioError> {
    let declared = requests.len();
    if declared == 0 && raw.is_empty() {
        return Err(loc.error(
            0..0,
            "request",
            "a scenario needs at least one [[request]] (name, method, path) or [[flow]] with [[flow.step]]s",
        ));
    }
    let mut used = vec![false; declared];
    let mut flows = Vec::new();
    let mut names = HashSet::new();
    for (i, fl) in raw.iter().enumerate() {
        let f = |k: &str| format!("flow[{i}].{k}");
        let fl = fl.get_ref();
        let name = fl.name.get_ref().trim().to_owned();
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) || !names.insert(name.clone()) {
            return Err(loc.error(
                span(&fl.name),
                f("name"),
                format!("flow names must be non-empty, unique and without '/' or control characters ({name:?})"),
            ));
        }
        if requests[..declared].iter().any(|r| r.name == name) {
            return Err(loc.error(
                span(&fl.name),
                f("name"),
                format!("'{name}' is also a [[request]]'s name; thresholds name both, so rename one"),
            ));
        }
        let weight = fl.weight.as_ref().map(|w| weight(loc, w, &f("weight"))).transpose()?.unwrap_or(1.0);
        if let Some(w) = fl.weight.as_ref().filter(|_| weight == 0.0) {
            return Err(loc.error(
                span(w),
                f("weight"),
                "a flow of weight 0 never runs; give it a weight or remove it",
            ));
        }
        if fl.steps.is_empty() {
            return Err(loc.error(
                span(&fl.name),
                f("step"),
                format!("flow '{name}' has no steps; add [[flow.step]] tables after it (request = \"…\" or a path)"),
            ));
        }
        let mut flow = Flow { name: name.clone(), weight, steps: Vec::new(), captures: Vec::new() };
        let mut step_names = HashSet::new();
        for (k, st) in fl.steps.iter().enumerate() {
            let sf = |key: &str| format!("flow[{i}].step[{k}].{key}");
            let st_span = span(st);
            let st = st.get_ref();
            // Captures so far are exactly the slots earlier steps took: a step's own come later.
            let scope = Scope { env, data, captures: &flow.captures, targets };
            let mut request = step_request(loc, st, st_span.clone(), &sf, (&requests[..declared], &mut used), &scope)?;
            let step_name = match (&st.name, &st.request) {
                (Some(n), _) => n.get_ref().trim().to_owned(),
                (None, Some(r)) => r.get_ref().trim().to_owned(),
                (None, None) => (k + 1).to_string(),
            };
            if step_name.is_empty()
                || step_name.contains('/')
                || step_name.chars().any(char::is_control)
                || !step_names.insert(step_name.clone())
            {
                let at = st.name.as_ref().or(st.request.as_ref()).map_or(st_span, span);
                return Err(loc.error(
                    at,
                    sf("name"),
                    format!(
                        "step names must be non-empty, unique within the flow and without '/' or control characters \
                         ({step_name:?}); name the step with name = \"…\""
                    ),
                ));
            }
            request.name = format!("{name}/{step_name}");
            if requests.iter().any(|r| r.name == request.name) {
                return Err(loc.error(
                    st_span,
                    sf("name"),
                    format!("'{}' is already a request's name; rename the step or the request", request.name),
                ));
            }
            request.weight = 0.0;
            request.capture = captures(loc, st, &sf, &mut flow)?;
            let think = st.think.as_ref().map(|t| duration(loc, t, &sf("think"))).transpose()?.unwrap_or_default();
            if let Some(t) = st.think.as_ref().filter(|_| k + 1 == fl.steps.len() && !think.is_zero()) {
                return Err(loc.error(
                    span(t),
                    sf("think"),
                    "the last step's think would wait for nothing: a think is the pause before the next step (a \
                     closed phase's users pause by the phase's think between flows)",
                ));
            }
            flow.steps.push(FlowStep { request: requests.len(), think });
            requests.push(request);
        }
        flows.push(flow);
    }
    if let Some(i) = (0..declared).find(|&i| requests[i].weight == 0.0 && !used[i]) {
        let r = raw_requests[i].get_ref();
        return Err(loc.error(
            r.weight.as_ref().map_or_else(|| span(&r.name), span),
            format!("request[{i}].weight"),
            format!("request '{}' has weight 0 and no flow step sends it; give it a weight", requests[i].name),
        ));
    }
    let total: f64 =
        requests[..declared].iter().map(|r| r.weight).sum::<f64>() + flows.iter().map(|f| f.weight).sum::<f64>();
    if total <= 0.0 {
        return Err(loc.error(0..0, "weight", "every request and flow has weight 0: nothing would be sent"));
    }
    Ok(flows)
}

/// The request kind a step sends: the `[[request]]` it names (its check replaced by the
/// step's, if it has one), or its own fields, whose templates may use what earlier steps
/// captured (`scope`'s captures: the slots earlier steps took). `used` marks the `[[request]]`s
/// a step sends.
fn step_request(
    loc: &Locator<'_>,
    st: &RawStep,
    st_span: std::ops::Range<usize>,
    sf: &dyn Fn(&str) -> String,
    (declared, used): (&[Request], &mut [bool]),
    scope: &Scope<'_>,
) -> Result<Request, ScenarioError> {
    if let Some(r) = &st.request {
        let check = st.check.as_ref().map(|c| crate::scenario::check::validate(loc, c, &sf("check"))).transpose()?;
        let wanted = r.get_ref().trim();
        let Some(i) = declared.iter().position(|q| q.name == wanted) else {
            let known: Vec<&str> = declared.iter().map(|q| q.name.as_str()).collect();
            let hint = suggestion(wanted, &known).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
            return Err(loc.error(span(r), sf("request"), format!("no [[request]] is named '{wanted}'{hint}")));
        };
        let own = [("method", st.method.is_some()), ("path", st.path.is_some()), ("body", st.body.is_some())]
            .into_iter()
            .chain([("headers", !st.headers.is_empty()), ("expect", st.expect.is_some())])
            .chain([("target", st.target.is_some())])
            .find(|(_, set)| *set);
        if let Some((key, _)) = own {
            let at = match key {
                "method" => st.method.as_ref().map(span),
                "path" => st.path.as_ref().map(span),
                "body" => st.body.as_ref().map(span),
                "headers" => st.headers.values().next().map(span),
                "target" => st.target.as_ref().map(span),
                _ => st.expect.as_ref().map(span),
            };
            let message = match key {
                "target" => format!(
                    "this step sends [[request]] '{wanted}', so it is sent to that request's target; set target on \
                     the [[request]], or write the request in the step (path, method, …) with its own target"
                ),
                _ => format!(
                    "this step sends [[request]] '{wanted}', which has its own {key}; write the request in the step \
                     (path, method, …) or name one, not both"
                ),
            };
            return Err(loc.error(at.unwrap_or_else(|| span(r)), sf(key), message));
        }
        used[i] = true;
        let mut q = declared[i].clone();
        if check.is_some() {
            q.check = check;
        }
        return Ok(q);
    }
    let Some(path) = &st.path else {
        return Err(loc.error(
            st_span,
            sf("path"),
            "a step needs request = \"<a [[request]]'s name>\" or a path of its own (with method, body, … as in a \
             [[request]])",
        ));
    };
    let fields = Fields {
        method: st.method.as_ref(),
        path,
        body: st.body.as_ref(),
        headers: &st.headers,
        expect: st.expect.as_ref(),
        check: st.check.as_ref(),
        target: st.target.as_ref(),
    };
    kind(loc, fields, sf, scope)
}

/// A step's captures, each given its slot in the flow (a name captured again reuses its slot).
fn captures(
    loc: &Locator<'_>,
    st: &RawStep,
    sf: &dyn Fn(&str) -> String,
    flow: &mut Flow,
) -> Result<Vec<Capture>, ScenarioError> {
    let mut out = Vec::new();
    for (name, v) in &st.capture {
        let field = sf(&format!("capture.{name}"));
        if !ident(name) || BUILT_IN.contains(&name.as_str()) {
            return Err(loc.error(
                span(v),
                &field,
                format!(
                    "'{name}' cannot name a captured value: use letters, digits and '_' (not starting with a digit), \
                     and none of {}",
                    BUILT_IN.join(", ")
                ),
            ));
        }
        let source = Source::parse(v.get_ref().trim()).map_err(|e| loc.error(span(v), &field, e.to_string()))?;
        let slot = match flow.captures.iter().position(|c| c == name) {
            Some(s) => s,
            None => {
                flow.captures.push(name.clone());
                flow.captures.len() - 1
            }
        };
        out.push(Capture { name: name.clone(), source, slot });
    }
    Ok(out)
}
