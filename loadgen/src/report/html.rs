//! `report.html`: the run on one self-contained page — verdict, key numbers, the five charts,
//! per-request and per-phase tables, cost, batch vs per-item, environment. No network of any
//! kind: inline CSS, inline SVG, and a Content-Security-Policy that forbids every fetch.

use crate::outcome::ALL;
use crate::results::{Results, Stats, Status};

use super::charts::{self, Line, Mark};
use super::page::{Cell, Chart, Figure, Page, Section, Table, ms, pct, usd};

/// Phase boundaries for the time charts.
pub fn marks(r: &Results) -> Vec<Mark> {
    let mut at = 0.0;
    r.phases
        .iter()
        .map(|p| {
            let m = Mark { at, name: p.name.clone() };
            at += p.duration_s;
            m
        })
        .collect()
}

/// Verdict text and class.
pub fn verdict(r: &Results) -> (String, &'static str) {
    match (r.status, r.passed) {
        (Status::Aborted, _) => ("ABORTED".into(), "warn"),
        (_, true) => ("PASS".into(), "pass"),
        (_, false) => ("FAIL".into(), "fail"),
    }
}

/// Renders the report.
pub fn render(r: &Results) -> String {
    let (v, class) = verdict(r);
    let mut page = Page::new(
        format!("loadgen: {}", r.name()),
        v,
        class,
        format!(
            "{} · {} · {:.0} s measured · {} → {}",
            r.scenario["description"].as_str().unwrap_or(""),
            r.target.url,
            r.duration_s,
            r.environment.started_at,
            r.environment.finished_at
        ),
    );
    page.sections.push(verdict_section(r));
    page.sections.push(key_numbers(r));
    page.sections.push(charts_section(r));
    page.sections.push(breakdown(r));
    if let Some(s) = cost_section(r) {
        page.sections.push(s);
    }
    if let Some(s) = batch_section(r) {
        page.sections.push(s);
    }
    page.sections.push(environment(r));
    page.footer = format!(
        "loadgen {} · schema {} · rendered from results.json; `loadgen report results.json` rewrites this file byte for byte.",
        r.environment.loadgen_version, r.schema
    );
    page.html()
}

fn verdict_section(r: &Results) -> Section {
    let mut s = Section { id: "verdict", heading: "Verdict".into(), ..Section::default() };
    if let Some(reason) = &r.abort_reason {
        s.notes.push(format!("The run was stopped early: {reason}. Everything measured until then is below."));
    }
    if r.thresholds.is_empty() {
        s.notes.push(
            "The scenario sets no thresholds, so nothing can fail; add a [thresholds] table to gate on this run."
                .into(),
        );
        return s;
    }
    let mut t =
        Table::new("Thresholds (the CI gate: any FAIL exits 1)", &["threshold", "limit", "#measured", "result"]);
    for th in &r.thresholds {
        t.rows.push(vec![
            Cell::text(&th.key),
            Cell::text(&th.condition),
            Cell::num(super::shown(th.measured, &th.unit)),
            Cell::verdict(th.passed),
        ]);
    }
    s.tables.push(t);
    s
}

fn latency_rows(t: &mut Table, label: &str, a: &Stats, b: &Stats) {
    for (name, x, y) in [
        ("p50", a.p50_ms, b.p50_ms),
        ("p90", a.p90_ms, b.p90_ms),
        ("p99", a.p99_ms, b.p99_ms),
        ("p99.9", a.p999_ms, b.p999_ms),
        ("max", a.max_ms, b.max_ms),
    ] {
        t.rows.push(vec![Cell::text(format!("{label}{name}")), Cell::num(ms(x)), Cell::num(ms(y))]);
    }
}

fn key_numbers(r: &Results) -> Section {
    let t = &r.totals;
    let mut s = Section { id: "numbers", heading: "Key numbers".into(), ..Section::default() };
    let fig = |label: &str, value: String, note: String, class: &'static str| Figure {
        label: label.into(),
        value,
        note,
        class,
    };
    let rate_note = match r.target_rate {
        Some(x) => format!("target {x:.1} req/s"),
        None => "closed model (users)".into(),
    };
    s.figures.push(fig("requests", t.requests.to_string(), format!("{:.0} s measured", r.duration_s), ""));
    let short = r.target_rate.is_some_and(|x| r.achieved_rate < x * 0.98);
    s.figures.push(fig(
        "achieved rate",
        format!("{:.1} req/s", r.achieved_rate),
        rate_note,
        if short { "warn" } else { "" },
    ));
    s.figures.push(fig(
        "p99 latency",
        format!("{} ms", ms(t.latency.p99_ms)),
        format!("service time {} ms", ms(t.service_time.p99_ms)),
        "",
    ));
    s.figures.push(fig(
        "errors",
        pct(t.error_rate),
        "client, function, timeout, transport".into(),
        if t.error_rate > 0.0 { "fail" } else { "" },
    ));
    s.figures.push(fig(
        "throttled",
        pct(t.throttle_rate),
        "API Gateway, Lambda or DynamoDB".into(),
        if t.throttle_rate > 0.0 { "warn" } else { "" },
    ));
    s.figures.push(fig(
        "cold starts",
        t.cold_starts.to_string(),
        format!("{} of responses", pct(if t.requests == 0 { 0.0 } else { t.cold_starts as f64 / t.requests as f64 })),
        "",
    ));
    if let Some(c) = &r.cost {
        s.figures.push(fig(
            "per million requests",
            usd(c.per_million_usd),
            format!("this run {}", usd(c.run.total)),
            "",
        ));
        s.figures.push(fig(
            "per month",
            usd(c.monthly_average.total),
            format!("at the average {:.1} req/s", c.average_rate),
            "",
        ));
    }
    let mut lat = Table::new(
        "Latency, ms — corrected: from each request's intended send time (what a user waits, free of coordinated omission); service: from the actual send",
        &["percentile", "#corrected", "#service time"],
    );
    latency_rows(&mut lat, "", &t.latency, &t.service_time);
    s.tables.push(lat);
    let mut classes = Table::new("Responses by outcome class", &["class", "#responses", "#share"]);
    for c in ALL {
        let n = t.by_class.get(c.name()).copied().unwrap_or(0);
        if n > 0 {
            classes.rows.push(vec![
                Cell::text(c.name()),
                Cell::num(n.to_string()),
                Cell::num(pct(n as f64 / t.requests.max(1) as f64)),
            ]);
        }
    }
    s.tables.push(classes);
    s
}

fn charts_section(r: &Results) -> Section {
    let m = marks(r);
    let k = charts::bucket_seconds(r.series.len());
    let per = if k == 1 { "each point is one second".to_owned() } else { format!("each point covers {k} s") };
    let mut s = Section { id: "charts", heading: "Over time".into(), ..Section::default() };
    s.charts.push(Chart {
        id: "chart-latency",
        title: "Latency percentiles over time".into(),
        read: format!(
            "corrected latency of the requests that completed in each second ({per}; the highest value in each bucket). \
             A p99 that climbs while the rate is flat means queueing; a jump at a phase line is the new load."
        ),
        svg: charts::latency_over_time(&r.series, &m),
    });
    s.charts.push(Chart {
        id: "chart-throughput",
        title: "Throughput by outcome class".into(),
        read: format!(
            "completions per second stacked by class ({per}); the dashed line is what was sent. \
             Throttle colours appearing above the green band show which layer said no and when."
        ),
        svg: charts::throughput_by_class(&r.series, &m),
    });
    let cw = r.cloudwatch.as_ref().map(|c| c.concurrency_series.as_slice()).unwrap_or(&[]);
    let reserved = r.reserved_concurrency().filter(|v| *v > 0.0);
    s.charts.push(Chart {
        id: "chart-concurrency",
        title: "Concurrency against the reserved limit".into(),
        read: format!(
            "requests in flight at the client and Lambda's concurrent executions from CloudWatch{} against the \
             reserved-concurrency line. Executions pinned at the line while requests keep arriving is where \
             Lambda throttles.",
            match r.cloudwatch.as_ref().map(|c| c.source.as_str()) {
                Some("aws") => " (one point per minute: AWS's finest period for this metric)",
                Some(_) => " (per second)",
                None => " (not pulled in this run)",
            }
        ),
        svg: charts::concurrency(&r.series, cw, reserved, &m),
    });
    s.charts.push(Chart {
        id: "chart-cold-starts",
        title: "Cold starts over time".into(),
        read: format!(
            "responses that paid a Lambda INIT{}. Bursts follow scale-out (a spike) and idle expiry; a steady \
             trickle under flat load means environments are being recycled.",
            if r.totals.cold_starts == 0 { " (none in this run: every environment was already warm)" } else { "" }
        ),
        svg: charts::cold_starts(&r.series, &m),
    });
    let lines = match r.merged(|_| true) {
        Ok((lat, svc)) => vec![
            Line { label: "corrected".into(), points: charts::distribution_points(&lat), dashed: false, colour: 0 },
            Line { label: "service time".into(), points: charts::distribution_points(&svc), dashed: true, colour: 1 },
        ],
        Err(e) => {
            s.notes.push(format!("The percentile distribution is missing: {e}."));
            Vec::new()
        }
    };
    s.charts.push(Chart {
        id: "chart-distribution",
        title: "Latency by percentile".into(),
        read: "every percentile of the whole run from the exact histograms, on HdrHistogram's 1/(1-q) axis so the \
               tail gets as much room as the median. The gap between the lines is time spent waiting to be sent \
               (coordinated omission, had it not been corrected)."
            .into(),
        svg: charts::distribution(&lines),
    });
    s
}

fn summary_cells(name: String, s: &crate::results::Summary) -> Vec<Cell> {
    vec![
        Cell::text(name),
        Cell::num(s.requests.to_string()),
        Cell::num(ms(s.latency.p50_ms)),
        Cell::num(ms(s.latency.p90_ms)),
        Cell::num(ms(s.latency.p99_ms)),
        Cell::num(ms(s.latency.max_ms)),
        Cell::num(ms(s.service_time.p99_ms)),
        Cell::num(pct(s.error_rate)),
        Cell::num(pct(s.throttle_rate)),
    ]
}

const SUMMARY_HEADERS: [&str; 8] =
    ["#requests", "#p50 ms", "#p90 ms", "#p99 ms", "#max ms", "#service p99 ms", "#errors", "#throttled"];

fn breakdown(r: &Results) -> Section {
    let mut s = Section { id: "breakdown", heading: "Per request and per phase".into(), ..Section::default() };
    let mut h = vec!["request"];
    h.extend(SUMMARY_HEADERS);
    let mut t = Table::new("Per request: corrected latency and outcomes", &h);
    for q in &r.requests {
        t.rows.push(summary_cells(q.name.clone(), &q.summary));
    }
    s.tables.push(t);
    let mut t = Table::new(
        "Per request: what the function did",
        &[
            "request",
            "route",
            "#cold starts",
            "#cold p50 ms",
            "#warm p50 ms",
            "#handler ms",
            "#DynamoDB calls/req",
            "#RRU/req",
            "#WRU/req",
        ],
    );
    for q in &r.requests {
        let opt = |st: &Stats| if st.count > 0 { ms(st.p50_ms) } else { "–".into() };
        t.rows.push(vec![
            Cell::text(&q.name),
            Cell::text(format!("{} {}", q.method, q.path)),
            Cell::num(q.summary.cold_starts.to_string()),
            Cell::num(opt(&q.cold_latency)),
            Cell::num(opt(&q.warm_latency)),
            Cell::num(ms(q.diagnostics.handler_ms_mean)),
            Cell::num(format!("{:.2}", q.diagnostics.ddb_calls_per_request)),
            Cell::num(format!("{:.2}", q.diagnostics.rcu_per_request)),
            Cell::num(format!("{:.2}", q.diagnostics.wcu_per_request)),
        ]);
    }
    s.tables.push(t);
    let mut t = Table::new(
        "Per phase",
        &[
            "phase",
            "#duration s",
            "#target req/s",
            "#achieved req/s",
            "#requests",
            "#p50 ms",
            "#p99 ms",
            "#max ms",
            "#errors",
            "#throttled",
        ],
    );
    for p in &r.phases {
        let x = &p.summary;
        t.rows.push(vec![
            Cell::text(&p.name),
            Cell::num(format!("{:.0}", p.duration_s)),
            Cell::num(p.target_rate.map(|x| format!("{x:.1}")).unwrap_or_else(|| "closed".into())),
            Cell::num(format!("{:.1}", p.achieved_rate)),
            Cell::num(x.requests.to_string()),
            Cell::num(ms(x.latency.p50_ms)),
            Cell::num(ms(x.latency.p99_ms)),
            Cell::num(ms(x.latency.max_ms)),
            Cell::num(pct(x.error_rate)),
            Cell::num(pct(x.throttle_rate)),
        ]);
    }
    s.tables.push(t);
    s
}

fn cost_section(r: &Results) -> Option<Section> {
    let c = r.cost.as_ref()?;
    let mut s = Section { id: "cost", heading: "Cost".into(), ..Section::default() };
    s.notes.push(format!(
        "Prices for {} (checked {}). This run: {}; {} per million requests; {} a month at the average {:.1} req/s, \
         {} at the peak {:.1} req/s (before the free tier, worth up to {} a month).",
        c.region,
        c.prices_checked,
        usd(c.run.total),
        usd(c.per_million_usd),
        usd(c.monthly_average.total),
        c.average_rate,
        usd(c.monthly_peak.total),
        c.peak_rate,
        usd(c.free_tier_monthly_usd)
    ));
    let mut t = Table::new("Cost by component", &["component", "#this run", "#month at average", "#month at peak"]);
    let parts = |b: &crate::cost::Breakdown| {
        [
            b.apigw_requests,
            b.lambda_requests,
            b.lambda_duration,
            b.dynamodb_reads,
            b.dynamodb_writes,
            b.cloudwatch_metrics,
            b.cloudwatch_logs,
            b.total,
        ]
    };
    let (a, b, d) = (parts(&c.run), parts(&c.monthly_average), parts(&c.monthly_peak));
    for (i, name) in [
        "API Gateway requests",
        "Lambda requests",
        "Lambda duration (GB-s)",
        "DynamoDB reads",
        "DynamoDB writes",
        "CloudWatch metrics",
        "CloudWatch Logs",
        "total",
    ]
    .iter()
    .enumerate()
    {
        t.rows.push(vec![Cell::text(*name), Cell::num(usd(a[i])), Cell::num(usd(b[i])), Cell::num(usd(d[i]))]);
    }
    s.tables.push(t);
    if !c.by_request.is_empty() {
        let mut t = Table::new(
            "Cost per request kind",
            &["request", "#Lambda ms/req", "#DynamoDB calls/req", "#RRU/req", "#WRU/req", "#USD per million"],
        );
        for q in &c.by_request {
            t.rows.push(vec![
                Cell::text(&q.name),
                Cell::num(format!("{:.2}", q.lambda_ms_per_request)),
                Cell::num(format!("{:.2}", q.ddb_calls_per_request)),
                Cell::num(format!("{:.2}", q.read_units_per_request)),
                Cell::num(format!("{:.2}", q.write_units_per_request)),
                Cell::num(usd(q.per_million_usd)),
            ]);
        }
        s.tables.push(t);
    }
    if !c.reconciliation.is_empty() {
        let mut t = Table::new(
            "Reconciliation: what the client counted against what the service reported",
            &["quantity", "#client", "#service", "#gap"],
        );
        for x in &c.reconciliation {
            t.rows.push(vec![
                Cell::text(&x.what),
                Cell::num(format!("{:.1}", x.client)),
                Cell::num(format!("{:.1}", x.server)),
                Cell { text: format!("{:.2}%", x.gap_pct), class: if x.flagged { "warn" } else { "num" } },
            ]);
        }
        s.tables.push(t);
    }
    if let Some(k) = &c.knee {
        s.notes.push(format!(
            "Knee: reserved concurrency {} ÷ mean duration {:.1} ms = {:.0} req/s by Little's law; highest offered \
             rate with < 1% Lambda throttles: {}.",
            k.reserved_concurrency,
            k.mean_duration_ms,
            k.littles_law_max_rate,
            k.highest_sustainable_rate.map(|x| format!("{x:.0} req/s")).unwrap_or_else(|| "none".into())
        ));
        let mut t = Table::new(
            "Throttling against offered rate: measured, Little's law, Erlang B",
            &["#offered req/s", "#seconds", "#measured", "#Little's law", "#Erlang B"],
        );
        for p in &k.points {
            t.rows.push(vec![
                Cell::num(format!("{:.0}", p.rate)),
                Cell::num(p.seconds.to_string()),
                Cell::num(pct(p.measured)),
                Cell::num(pct(p.littles_law)),
                Cell::num(pct(p.erlang_b)),
            ]);
        }
        s.tables.push(t);
    }
    s.notes.extend(c.notes.iter().cloned());
    Some(s)
}

fn batch_section(r: &Results) -> Option<Section> {
    let v = r.cost.as_ref()?.batch_vs_item.as_ref()?;
    let mut s = Section { id: "batch", heading: "BatchGetItem vs per-item GetItem".into(), ..Section::default() };
    s.notes.push(v.verdict.clone());
    let mut t = Table::new(
        "The two read patterns side by side",
        &["request", "#requests", "#p50 ms", "#p99 ms", "#DynamoDB calls/req", "#RRU/req", "#USD per million"],
    );
    for name in [&v.batch, &v.per_item] {
        let Some(q) = r.requests.iter().find(|q| &q.name == name) else { continue };
        let per_m = r.cost.as_ref()?.by_request.iter().find(|c| &c.name == name).map(|c| c.per_million_usd);
        t.rows.push(vec![
            Cell::text(name.as_str()),
            Cell::num(q.summary.requests.to_string()),
            Cell::num(ms(q.summary.latency.p50_ms)),
            Cell::num(ms(q.summary.latency.p99_ms)),
            Cell::num(format!("{:.2}", q.diagnostics.ddb_calls_per_request)),
            Cell::num(format!("{:.2}", q.diagnostics.rcu_per_request)),
            Cell::num(per_m.map(usd).unwrap_or_else(|| "–".into())),
        ]);
    }
    s.tables.push(t);
    s.notes.push(format!(
        "Per-item costs {:.2}× the batch per request and {:.2}× its Lambda time; read units are {}.",
        v.cost_factor,
        v.lambda_ms_factor,
        if v.equal_read_units { "the same" } else { "different" }
    ));
    Some(s)
}

fn environment(r: &Results) -> Section {
    let mut s = Section { id: "environment", heading: "Environment".into(), ..Section::default() };
    let mut t = Table::new("Run", &["setting", "value"]);
    let e = &r.environment;
    let mut kv = |k: &str, v: String| t.rows.push(vec![Cell::text(k), Cell::text(v)]);
    kv("scenario file", r.scenario["file"].as_str().unwrap_or("").to_owned());
    kv("seed", r.scenario["seed"].to_string());
    kv("target", format!("{} ({})", r.target.url, r.target.kind));
    kv("loadgen", e.loadgen_version.clone());
    kv("machine", format!("{}, {} CPUs", e.os, e.cpus));
    kv("started", e.started_at.clone());
    kv("finished", e.finished_at.clone());
    kv("status", format!("{:?}", r.status).to_lowercase());
    if let Some(stack) = &r.target.stack {
        let f = &stack["function"];
        kv(
            "function",
            format!(
                "{} · {} MB · {} · timeout {} s · reserved concurrency {}",
                f["name"].as_str().unwrap_or("?"),
                f["memory_mb"],
                f["architecture"].as_str().unwrap_or("?"),
                f["timeout"]["secs"],
                f["reserved_concurrency"]
            ),
        );
        let a = &stack["api"];
        kv(
            "API Gateway",
            format!(
                "stage throttle {} req/s (burst {}), account {} req/s",
                a["stage_throttle"]["rate"], a["stage_throttle"]["burst"], a["account_throttle"]["rate"]
            ),
        );
        let d = &stack["dynamodb"];
        kv(
            "DynamoDB",
            format!(
                "{} · {} RCU/s · {} WCU/s",
                d["table_name"].as_str().unwrap_or("?"),
                d["read_units_per_s"],
                d["write_units_per_s"]
            ),
        );
        kv("latency profile", stack["latency_profile"].as_str().unwrap_or("?").to_owned());
        kv("region", stack["region"].as_str().unwrap_or("?").to_owned());
    }
    if let Some(infra) = &r.target.infra {
        kv("deployed stack", infra.to_string());
    }
    s.tables.push(t);
    let g = &r.generator;
    let mut t = Table::new("Generator health (a generator that falls behind measures itself)", &["measure", "#value"]);
    for (k, v) in [
        ("scheduling lag p50", format!("{} ms", ms(g.lag_p50_ms))),
        ("scheduling lag p99", format!("{} ms", ms(g.lag_p99_ms))),
        ("scheduling lag max", format!("{} ms", ms(g.lag_max_ms))),
        ("sends more than 5 ms late", g.late_sends.to_string()),
        ("saturated", if g.saturated { "yes".into() } else { "no".into() }),
        ("CPU seconds used", format!("{:.2}", g.cpu_seconds)),
        ("in-flight bound", g.max_in_flight.to_string()),
        ("heuristic mismatches", g.heuristic_mismatches.to_string()),
    ] {
        t.rows.push(vec![Cell::text(k), Cell::num(v)]);
    }
    s.tables.push(t);
    if let Some(cw) = &r.cloudwatch {
        s.notes.push(format!(
            "CloudWatch ({}): {} metrics requested over {} poll(s), window {} s.",
            cw.source,
            cw.metrics_requested,
            cw.polls,
            cw.window.1 - cw.window.0
        ));
    }
    s
}
