//! The Terraform functions a stack's `.tf` files commonly use in the values the local stack
//! reads (names, sizes, routes, environment variables), declared for hcl-rs's evaluator.
//!
//! Written here because no crate evaluates Terraform's function library outside Terraform
//! itself; each follows Terraform's documented behaviour
//! (<https://developer.hashicorp.com/terraform/language/functions>). Functions that read files
//! or hash (`filebase64sha256`, `file`, …) are absent on purpose: a value that needs one is
//! reported as not evaluable, and none of the values the stack needs does.

use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        hcl::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_owned()),
        Value::String(s) => s.parse().map_err(|_| format!("'{s}' is not a number")),
        other => Err(format!("expected a number, got {other}")),
    }
}

fn list(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => Ok(o.values().cloned().collect()),
        other => Err(format!("expected a list, got {other}")),
    }
}

fn distinct(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn toset(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(distinct(list(&a[0])?)))
}

fn tolist(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(list(&a[0])?))
}

fn identity(a: FuncArgs) -> Result<Value, String> {
    Ok(a[0].clone())
}

fn tostring(a: FuncArgs) -> Result<Value, String> {
    text(&a[0]).map(Value::from)
}

fn tonumber(a: FuncArgs) -> Result<Value, String> {
    num(&a[0]).map(number)
}

fn length(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(match &a[0] {
        Value::Array(v) => v.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("length of {other}")),
    } as u64))
}

fn jsonencode(a: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&a[0]).map(Value::from).map_err(|e| e.to_string())
}

fn jsondecode(a: FuncArgs) -> Result<Value, String> {
    serde_json::from_str::<Value>(&text(&a[0])?).map_err(|e| e.to_string())
}

fn merge(a: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for v in a.iter() {
        match v {
            Value::Object(o) => out.extend(o.clone()),
            Value::Null => {}
            other => return Err(format!("merge takes objects, got {other}")),
        }
    }
    Ok(Value::Object(out))
}

fn concat(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for v in a.iter() {
        out.extend(list(v)?);
    }
    Ok(Value::Array(out))
}

fn flatten(a: FuncArgs) -> Result<Value, String> {
    fn go(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| go(x, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    go(&a[0], &mut out);
    Ok(Value::Array(out))
}

fn distinct_fn(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(distinct(list(&a[0])?)))
}

fn lookup(a: FuncArgs) -> Result<Value, String> {
    let key = text(&a[1])?;
    match (a[0].as_object().and_then(|o| o.get(&key)), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("no key '{key}'")),
    }
}

fn coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "every argument is null or empty".to_owned())
}

fn contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list(&a[0])?.contains(&a[1])))
}

fn keys(a: FuncArgs) -> Result<Value, String> {
    let o = a[0].as_object().ok_or("keys takes an object")?;
    Ok(Value::Array(o.keys().map(|k| Value::from(k.as_str())).collect()))
}

fn values(a: FuncArgs) -> Result<Value, String> {
    let o = a[0].as_object().ok_or("values takes an object")?;
    Ok(Value::Array(o.values().cloned().collect()))
}

fn element(a: FuncArgs) -> Result<Value, String> {
    let l = list(&a[0])?;
    if l.is_empty() {
        return Err("element of an empty list".into());
    }
    let i = num(&a[1])? as usize;
    Ok(l[i % l.len()].clone())
}

fn join(a: FuncArgs) -> Result<Value, String> {
    let sep = text(&a[0])?;
    let mut parts = Vec::new();
    for v in a.iter().skip(1) {
        for x in list(v)? {
            parts.push(text(&x)?);
        }
    }
    Ok(Value::from(parts.join(&sep)))
}

fn split(a: FuncArgs) -> Result<Value, String> {
    let (sep, s) = (text(&a[0])?, text(&a[1])?);
    Ok(Value::Array(s.split(sep.as_str()).map(Value::from).collect()))
}

fn lower(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(text(&a[0])?.to_lowercase()))
}

fn upper(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(text(&a[0])?.to_uppercase()))
}

fn trimspace(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(text(&a[0])?.trim().to_owned()))
}

fn replace(a: FuncArgs) -> Result<Value, String> {
    let (s, from, to) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    if from.len() > 2 && from.starts_with('/') && from.ends_with('/') {
        return Err("replace with a regular expression is not evaluated here".into());
    }
    Ok(Value::from(s.replace(&from, &to)))
}

fn substr(a: FuncArgs) -> Result<Value, String> {
    let s: Vec<char> = text(&a[0])?.chars().collect();
    let off = num(&a[1])? as usize;
    let len = num(&a[2])?;
    let end = if len < 0.0 { s.len() } else { (off + len as usize).min(s.len()) };
    Ok(Value::from(s.get(off.min(s.len())..end).map(|c| c.iter().collect::<String>()).unwrap_or_default()))
}

fn startswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(text(&a[0])?.starts_with(&text(&a[1])?)))
}

fn endswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(text(&a[0])?.ends_with(&text(&a[1])?)))
}

/// `format` with the verbs these files use: `%s`, `%d`, `%v` and `%%`.
fn format(a: FuncArgs) -> Result<Value, String> {
    let spec = text(&a[0])?;
    let mut args = a.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'v') => out.push_str(&text(args.next().ok_or("format: too few arguments")?)?),
            other => return Err(format!("format verb %{} is not evaluated here", other.unwrap_or(' '))),
        }
    }
    Ok(Value::from(out))
}

fn numbers(a: &FuncArgs) -> Result<Vec<f64>, String> {
    a.iter().map(num).collect()
}

fn max(a: FuncArgs) -> Result<Value, String> {
    numbers(&a)?.into_iter().reduce(f64::max).map(number).ok_or_else(|| "max of nothing".into())
}

fn min(a: FuncArgs) -> Result<Value, String> {
    numbers(&a)?.into_iter().reduce(f64::min).map(number).ok_or_else(|| "min of nothing".into())
}

fn ceil(a: FuncArgs) -> Result<Value, String> {
    Ok(number(num(&a[0])?.ceil()))
}

fn floor(a: FuncArgs) -> Result<Value, String> {
    Ok(number(num(&a[0])?.floor()))
}

fn zipmap(a: FuncArgs) -> Result<Value, String> {
    let (k, v) = (list(&a[0])?, list(&a[1])?);
    Ok(Value::Object(k.iter().zip(v).map(|(k, v)| text(k).map(|k| (k, v))).collect::<Result<_, _>>()?))
}

/// Declares every function above in `ctx`.
pub fn declare(ctx: &mut Context<'_>) {
    let any = || ParamType::Any;
    let one = [
        ("toset", toset as hcl::eval::Func),
        ("tolist", tolist),
        ("tomap", identity),
        ("sensitive", identity),
        ("nonsensitive", identity),
        ("tostring", tostring),
        ("tonumber", tonumber),
        ("length", length),
        ("jsonencode", jsonencode),
        ("jsondecode", jsondecode),
        ("flatten", flatten),
        ("distinct", distinct_fn),
        ("keys", keys),
        ("values", values),
        ("lower", lower),
        ("upper", upper),
        ("trimspace", trimspace),
        ("ceil", ceil),
        ("floor", floor),
    ];
    for (name, f) in one {
        ctx.declare_func(name, FuncDef::builder().param(any()).build(f));
    }
    let two = [
        ("contains", contains as hcl::eval::Func),
        ("element", element),
        ("split", split),
        ("startswith", startswith),
        ("endswith", endswith),
        ("zipmap", zipmap),
    ];
    for (name, f) in two {
        ctx.declare_func(name, FuncDef::builder().params([any(), any()]).build(f));
    }
    for (name, f) in [("replace", replace as hcl::eval::Func), ("substr", substr)] {
        ctx.declare_func(name, FuncDef::builder().params([any(), any(), any()]).build(f));
    }
    ctx.declare_func("lookup", FuncDef::builder().params([any(), any()]).variadic_param(any()).build(lookup));
    ctx.declare_func("join", FuncDef::builder().param(any()).variadic_param(any()).build(join));
    ctx.declare_func("format", FuncDef::builder().param(any()).variadic_param(any()).build(format));
    for (name, f) in
        [("merge", merge as hcl::eval::Func), ("concat", concat), ("coalesce", coalesce), ("max", max), ("min", min)]
    {
        ctx.declare_func(name, FuncDef::builder().variadic_param(any()).build(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(expr: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare(&mut ctx);
        let body: hcl::Body = hcl::from_str(&format!("x = {expr}")).map_err(|e| e.to_string())?;
        let attr = body.attributes().next().unwrap();
        attr.expr().evaluate(&ctx).map_err(|e| e.to_string())
    }

    #[test]
    fn functions_follow_terraform() {
        assert_eq!(eval(r#"toset(["a", "b", "a"])"#).unwrap(), Value::from_iter(["a", "b"]));
        assert_eq!(eval(r#"length(merge({a = 1}, {b = 2}))"#).unwrap(), Value::from(2));
        assert_eq!(eval(r#"format("%s-%d", "api", 3)"#).unwrap(), Value::from("api-3"));
        assert_eq!(eval(r#"join(",", ["a", "b"], ["c"])"#).unwrap(), Value::from("a,b,c"));
        assert_eq!(eval(r#"lookup({a = 1}, "b", 7)"#).unwrap(), Value::from(7));
        assert_eq!(eval(r#"jsonencode({a = [1, "x"]})"#).unwrap(), Value::from(r#"{"a":[1,"x"]}"#));
        assert_eq!(eval(r#"max(3, 9, 1)"#).unwrap(), Value::from(9));
        assert_eq!(eval(r#"substr("hello", 1, 3)"#).unwrap(), Value::from("ell"));
        assert!(eval(r#"filebase64sha256("x.zip")"#).is_err(), "file functions are not evaluated");
    }
}
