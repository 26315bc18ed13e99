//! A Terraform directory read as Terraform would plan it, for the values the local stack needs:
//! variables (defaults, `terraform.tfvars`, `*.auto.tfvars`, `TF_VAR_*`), `locals`, and every
//! resource and data source expanded by `count` / `for_each` (and `dynamic` blocks by theirs),
//! with references between them resolved. Attributes only AWS knows after `apply` (ARNs, ids)
//! get stand-in values built the way AWS builds them, so `aws_lambda_function.api.invoke_arn`
//! in an integration still names its function.
//!
//! Evaluation is by hcl-rs; an attribute that cannot be evaluated (a file function, an unknown
//! variable) keeps its error, which matters only if the stack needs that attribute.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Expression, Map, Value};

/// Blocks that say how Terraform manages a resource, not what it is.
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection", "timeouts"];
/// Arguments that are Terraform's, not the resource's.
const META_ARGS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// Reference passes: enough for table → function → integration → route → stage chains.
const PASSES: usize = 5;

/// What a block evaluated to: each attribute's value or why it has none, and its nested blocks.
#[derive(Debug, Clone, Default)]
pub struct Evaluated {
    /// Attributes, in file order.
    pub attrs: Vec<(String, Result<Value, String>)>,
    /// Nested blocks (a `dynamic` block's instances under its label).
    pub blocks: Vec<(String, Evaluated)>,
    /// Entries of an object attribute that could not be evaluated here and were left out of
    /// it, the rest kept: `(attribute, key, why)`.
    pub left_out: Vec<(String, String, String)>,
}

impl Evaluated {
    /// An attribute's value: `None` when it is not written, `Some(Err)` when it cannot be
    /// evaluated here.
    pub fn get(&self, key: &str) -> Option<&Result<Value, String>> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The nested blocks called `name`.
    pub fn blocks<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Evaluated> + 'a {
        self.blocks.iter().filter(move |(n, _)| n == name).map(|(_, b)| b)
    }

    /// The first nested block called `name`.
    pub fn block(&self, name: &str) -> Option<&Evaluated> {
        self.blocks.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// The attributes that evaluated, as an object.
    fn object(&self) -> Map<String, Value> {
        let mut m: Map<String, Value> =
            self.attrs.iter().filter_map(|(k, v)| v.as_ref().ok().map(|v| (k.clone(), v.clone()))).collect();
        for (name, b) in &self.blocks {
            let entry = m.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(Value::Object(b.object()));
            }
        }
        m
    }
}

/// One instance of a resource or data source.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `aws_lambda_function`.
    pub kind: String,
    /// The name in the file.
    pub name: String,
    /// Its `for_each` key or `count` index.
    pub key: Option<Value>,
    /// The file it is declared in.
    pub file: PathBuf,
    /// Its arguments and blocks.
    pub body: Evaluated,
}

impl Instance {
    /// Its address as Terraform prints it: `aws_apigatewayv2_route.api["GET /health"]`.
    pub fn address(&self) -> String {
        match &self.key {
            None => format!("{}.{}", self.kind, self.name),
            Some(Value::String(k)) => format!("{}.{}[{k:?}]", self.kind, self.name),
            Some(k) => format!("{}.{}[{k}]", self.kind, self.name),
        }
    }
}

/// A directory's resources as planned.
#[derive(Debug, Clone, Default)]
pub struct Module {
    /// The region the provider is configured with (`us-east-1` when it does not say).
    pub region: String,
    /// Every resource instance, in file order.
    pub resources: Vec<Instance>,
    /// Every data source instance.
    pub data: Vec<Instance>,
    /// Variables that have no value (no default, no tfvars, no `TF_VAR_`).
    pub unset_variables: Vec<String>,
    /// What is in the files but not read: modules and the like.
    pub skipped: Vec<String>,
}

/// A block as written, with where it is.
struct Declared {
    kind: String,
    name: String,
    block: Block,
    file: PathBuf,
}

/// The account id in stand-in ARNs: the local stack's.
pub const ACCOUNT: &str = "123456789012";

fn tf_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(ext)))
        .collect();
    files.sort();
    Ok(files)
}

fn parse(file: &Path) -> Result<Body, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    hcl::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The variables' values: defaults, then `TF_VAR_*`, then `terraform.tfvars`, then
/// `*.auto.tfvars` in name order — Terraform's precedence.
fn variables(
    dir: &Path,
    decls: &[(String, Option<Expression>, bool)],
) -> Result<(Map<String, Value>, Vec<String>), String> {
    let empty = Context::new();
    let mut vars = Map::new();
    for (name, default, _) in decls {
        if let Some(d) = default {
            let v = d.evaluate(&empty).map_err(|e| format!("variable \"{name}\" default: {e}"))?;
            vars.insert(name.clone(), v);
        }
    }
    for (name, _, is_string) in decls {
        if let Ok(raw) = std::env::var(format!("TF_VAR_{name}")) {
            // Terraform reads a non-string variable's TF_VAR_ value as an HCL expression.
            let parsed = (!is_string)
                .then(|| hcl::from_str::<Body>(&format!("v = {raw}")).ok())
                .flatten()
                .and_then(|b| b.attributes().next().and_then(|a| a.expr().evaluate(&empty).ok()));
            vars.insert(name.clone(), parsed.unwrap_or(Value::String(raw)));
        }
    }
    let mut files: Vec<PathBuf> = vec![dir.join("terraform.tfvars")];
    files.extend(tf_files(dir, ".auto.tfvars")?);
    for f in files.into_iter().filter(|f| f.is_file()) {
        for a in parse(&f)?.attributes() {
            let v = a.expr().evaluate(&empty).map_err(|e| format!("{}: {}: {e}", f.display(), a.key()))?;
            vars.insert(a.key().to_owned(), v);
        }
    }
    let unset = decls.iter().filter(|(n, _, _)| !vars.contains_key(n)).map(|(n, _, _)| n.clone()).collect();
    Ok((vars, unset))
}

/// Evaluates a block's arguments and nested blocks in `ctx`.
fn evaluate(body: &Body, ctx: &Context<'_>) -> Evaluated {
    let mut out = Evaluated::default();
    for a in body.attributes() {
        if META_ARGS.contains(&a.key()) {
            continue;
        }
        let value = match (a.expr().evaluate(ctx), a.expr()) {
            // An object literal (a function's `environment.variables`) keeps the entries that
            // evaluate: one secret read from a data source must not lose the rest.
            (Err(_), Expression::Object(obj)) => {
                let mut kept = Map::new();
                for (k, v) in obj.iter() {
                    let key = match k {
                        hcl::expr::ObjectKey::Identifier(id) => Some(id.to_string()),
                        hcl::expr::ObjectKey::Expression(e) => {
                            e.evaluate(ctx).ok().and_then(|v| v.as_str().map(str::to_owned))
                        }
                        _ => None,
                    };
                    let Some(key) = key else { continue };
                    match v.evaluate(ctx) {
                        Ok(v) => {
                            kept.insert(key, v);
                        }
                        Err(e) => out.left_out.push((a.key().to_owned(), key, e.to_string())),
                    }
                }
                Ok(Value::Object(kept))
            }
            (v, _) => v.map_err(|e| e.to_string()),
        };
        out.attrs.push((a.key().to_owned(), value));
    }
    for b in body.blocks() {
        let id = b.identifier();
        if META_BLOCKS.contains(&id) {
            continue;
        }
        if id != "dynamic" {
            out.blocks.push((id.to_owned(), evaluate(b.body(), ctx)));
            continue;
        }
        // `dynamic "label" { for_each = …, iterator = name, content { … } }`
        let Some(label) = b.labels().first().map(|l| l.as_str().to_owned()) else { continue };
        let attr = |k: &str| b.body().attributes().find(|a| a.key() == k).map(|a| a.expr().clone());
        let iterator = match attr("iterator") {
            Some(Expression::Variable(v)) => v.to_string(),
            _ => label.clone(),
        };
        let Some(each) = attr("for_each").and_then(|e| e.evaluate(ctx).ok()) else { continue };
        let Some(content) = b.body().blocks().find(|c| c.identifier() == "content") else { continue };
        for (key, value) in elements(&each) {
            let mut inner = ctx.clone();
            inner.declare_var(
                iterator.as_str(),
                Value::Object(Map::from_iter([("key".into(), key), ("value".into(), value)])),
            );
            out.blocks.push((label.clone(), evaluate(content.body(), &inner)));
        }
    }
    out
}

/// A `for_each` value's (key, value) pairs: a set's elements are their own keys.
fn elements(v: &Value) -> Vec<(Value, Value)> {
    match v {
        Value::Array(a) => a.iter().map(|x| (x.clone(), x.clone())).collect(),
        // Terraform iterates a map's keys in lexical order.
        Value::Object(o) => {
            let mut pairs: Vec<(Value, Value)> = o.iter().map(|(k, x)| (Value::from(k.as_str()), x.clone())).collect();
            pairs.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
            pairs
        }
        _ => Vec::new(),
    }
}

/// Instances one block may expand to: far more than any stack the local stack could host.
const MAX_INSTANCES: usize = 1_000;

/// The instances of one declared block in `ctx`: one, `count` of them, or one per `for_each`
/// element. `Err(None)` when the meta-argument cannot be evaluated yet, `Err(Some(why))` when
/// it is not a usable count or collection.
fn instances(d: &Declared, ctx: &Context<'_>) -> Result<Vec<Instance>, Option<String>> {
    let meta = |k: &str| d.block.body().attributes().find(|a| a.key() == k).map(|a| a.expr().clone());
    let make = |key: Option<Value>, inner: &Context<'_>| Instance {
        kind: d.kind.clone(),
        name: d.name.clone(),
        key,
        file: d.file.clone(),
        body: evaluate(d.block.body(), inner),
    };
    if let Some(e) = meta("for_each") {
        let each = e.evaluate(ctx).map_err(|_| None)?;
        if elements(&each).len() > MAX_INSTANCES {
            return Err(Some(format!("its for_each has more than {MAX_INSTANCES} elements")));
        }
        return Ok(elements(&each)
            .into_iter()
            .map(|(k, v)| {
                let mut inner = ctx.clone();
                inner.declare_var(
                    "each",
                    Value::Object(Map::from_iter([("key".into(), k.clone()), ("value".into(), v)])),
                );
                make(Some(k), &inner)
            })
            .collect());
    }
    if let Some(e) = meta("count") {
        let v = e.evaluate(ctx).map_err(|_| None)?;
        let n = v
            .as_u64()
            .filter(|n| *n as usize <= MAX_INSTANCES)
            .ok_or_else(|| Some(format!("count = {v} is not a whole number from 0 to {MAX_INSTANCES}")))?;
        return Ok((0..n)
            .map(|i| {
                let mut inner = ctx.clone();
                inner.declare_var("count", Value::Object(Map::from_iter([("index".into(), Value::from(i))])));
                make(Some(Value::from(i)), &inner)
            })
            .collect());
    }
    Ok(vec![make(None, ctx)])
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(|v| v.as_str()).map(str::to_owned)
}

/// A short stable id for an instance, as API Gateway's are: 10 lower-case letters and digits.
pub(super) fn short_id(address: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in address.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..10).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[((h >> (i * 6)) % 36) as usize] as char).collect()
}

/// The object a reference to `i` sees: what it evaluated to, plus the attributes AWS computes
/// (ids, ARNs), built as AWS builds them.
fn reference(i: &Instance, region: &str) -> Value {
    let mut m = i.body.object();
    let id = short_id(&i.address());
    let put = |m: &mut Map<String, Value>, k: &str, v: String| {
        m.entry(k.to_owned()).or_insert(Value::String(v));
    };
    match i.kind.as_str() {
        "aws_lambda_function" => {
            let name = text(&m, "function_name").unwrap_or_default();
            let arn = format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{name}");
            put(
                &mut m,
                "invoke_arn",
                format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"),
            );
            put(&mut m, "qualified_arn", format!("{arn}:$LATEST"));
            put(&mut m, "arn", arn);
            put(&mut m, "id", name);
            put(&mut m, "version", "$LATEST".into());
        }
        "aws_dynamodb_table" => {
            let name = text(&m, "name").unwrap_or_default();
            put(&mut m, "arn", format!("arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"));
            put(&mut m, "stream_arn", format!("arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}/stream/0"));
            put(&mut m, "id", name);
        }
        "aws_apigatewayv2_api" => {
            put(&mut m, "execution_arn", format!("arn:aws:execute-api:{region}:{ACCOUNT}:{id}"));
            put(&mut m, "api_endpoint", format!("https://{id}.execute-api.{region}.amazonaws.com"));
            put(&mut m, "arn", format!("arn:aws:apigateway:{region}::/apis/{id}"));
            put(&mut m, "id", id);
        }
        "archive_file" => {
            // The archive is made at plan time from its source; the local stack runs the
            // source itself, as Lambda would run the archive's contents.
            if let Some(s) = text(&m, "source_dir").or_else(|| text(&m, "source_file")) {
                m.insert("output_path".into(), Value::String(s));
            }
            put(&mut m, "output_base64sha256", String::new());
            put(&mut m, "id", id);
        }
        "aws_region" => {
            put(&mut m, "name", region.to_owned());
            put(&mut m, "region", region.to_owned());
            put(&mut m, "id", region.to_owned());
        }
        "aws_caller_identity" => {
            put(&mut m, "account_id", ACCOUNT.to_owned());
            put(&mut m, "id", ACCOUNT.to_owned());
        }
        "aws_partition" => put(&mut m, "partition", "aws".into()),
        "aws_iam_policy_document" => put(&mut m, "json", "{}".into()),
        kind => {
            let name = text(&m, "name").unwrap_or_else(|| id.clone());
            let service = kind.strip_prefix("aws_").and_then(|k| k.split('_').next()).unwrap_or("resource");
            put(&mut m, "arn", format!("arn:aws:{service}:{region}:{ACCOUNT}:{name}"));
            put(&mut m, "id", id);
            put(&mut m, "name", name);
        }
    }
    Value::Object(m)
}

/// `type → name → object` (an array under `count`, an object under `for_each`).
fn references(list: &[Instance], declared: &[Declared], region: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for d in declared {
        let of: Vec<&Instance> = list.iter().filter(|i| i.kind == d.kind && i.name == d.name).collect();
        let uses = |k: &str| d.block.body().attributes().any(|a| a.key() == k);
        let value = if uses("for_each") {
            Value::Object(
                of.iter()
                    .filter_map(|i| {
                        i.key.as_ref().and_then(|k| k.as_str()).map(|k| (k.to_owned(), reference(i, region)))
                    })
                    .collect(),
            )
        } else if uses("count") {
            Value::Array(of.iter().map(|i| reference(i, region)).collect())
        } else if let Some(i) = of.first() {
            reference(i, region)
        } else {
            continue;
        };
        let by_type = out.entry(d.kind.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = by_type {
            m.insert(d.name.clone(), value);
        }
    }
    out
}

/// Reads every `.tf` file directly in `dir`.
pub fn read(dir: &Path) -> Result<Module, String> {
    let files = tf_files(dir, ".tf")?;
    if files.is_empty() {
        return Err(format!("{} holds no .tf files", dir.display()));
    }
    let (mut decls, mut locals, mut resources, mut data) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut region_expr, mut skipped) = (None, Vec::new());
    for file in &files {
        for block in parse(file)?.blocks() {
            let labels: Vec<String> = block.labels().iter().map(|l| l.as_str().to_owned()).collect();
            let attr = |k: &str| block.body().attributes().find(|a| a.key() == k).map(|a| a.expr().clone());
            match (block.identifier(), labels.as_slice()) {
                ("variable", [name]) => {
                    let is_string = matches!(attr("type"), Some(Expression::Variable(v)) if v.as_str() == "string");
                    decls.push((name.clone(), attr("default"), is_string));
                }
                ("locals", _) => {
                    locals.extend(block.body().attributes().map(|a| (a.key().to_owned(), a.expr().clone())))
                }
                ("resource", [kind, name]) | ("data", [kind, name]) => {
                    let d =
                        Declared { kind: kind.clone(), name: name.clone(), block: block.clone(), file: file.clone() };
                    if block.identifier() == "resource" { resources.push(d) } else { data.push(d) }
                }
                ("provider", [p]) if p == "aws" && region_expr.is_none() => region_expr = attr("region"),
                ("module", [name]) => skipped.push(format!(
                    "module \"{name}\" ({}): modules are not read; point at the module's own directory",
                    file.display()
                )),
                _ => {}
            }
        }
    }
    let (vars, unset_variables) = variables(dir, &decls)?;
    let mut base = Context::new();
    super::funcs::declare(&mut base);
    base.declare_var("var", Value::Object(vars));
    // Terraform runs in the root module's directory, where `path.module` is "."; relative paths
    // are resolved against `dir` where they are used.
    base.declare_var(
        "path",
        Value::Object(Map::from_iter(["module", "root", "cwd"].map(|k| (k.to_owned(), Value::from("."))))),
    );
    base.declare_var("terraform", Value::Object(Map::from_iter([("workspace".to_owned(), Value::from("default"))])));
    let region = region_expr
        .and_then(|e| e.evaluate(&base).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned());

    let mut module = Module { region: region.clone(), unset_variables, skipped, ..Module::default() };
    let mut local_values: BTreeMap<String, Value> = BTreeMap::new();
    for pass in 0..PASSES {
        let mut ctx = base.clone();
        for (k, v) in references(&module.resources, &resources, &region) {
            ctx.declare_var(k.as_str(), v);
        }
        ctx.declare_var("data", Value::Object(references(&module.data, &data, &region)));
        // Locals may name each other: settle them within the pass.
        for _ in 0..=locals.len() {
            let mut with_locals = ctx.clone();
            with_locals.declare_var("local", Value::Object(local_values.clone().into_iter().collect()));
            let before = local_values.clone();
            for (name, e) in &locals {
                if let Ok(v) = e.evaluate(&with_locals) {
                    local_values.insert(name.clone(), v);
                }
            }
            if local_values == before {
                break;
            }
        }
        ctx.declare_var("local", Value::Object(local_values.clone().into_iter().collect()));
        let last = pass + 1 == PASSES;
        let mut expand = |list: &[Declared]| -> Vec<Instance> {
            let mut out = Vec::new();
            for d in list {
                match instances(d, &ctx) {
                    Ok(i) => out.extend(i),
                    Err(why) if last => module.skipped.push(format!(
                        "{}.{} ({}): {}, so it is left out",
                        d.kind,
                        d.name,
                        d.file.display(),
                        why.unwrap_or_else(|| "its count or for_each cannot be evaluated here".into())
                    )),
                    Err(_) => {}
                }
            }
            out
        };
        let new_data = expand(&data);
        let new_resources = expand(&resources);
        module.data = new_data;
        module.resources = new_resources;
    }
    Ok(module)
}
