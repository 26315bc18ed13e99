//! What a DynamoDB table is made of — its key attributes and their types, its global and local
//! secondary indexes, its capacity mode — checked as `CreateTable` checks it, and the
//! `CreateTable` request that makes it in the emulator.

use serde_json::{Value, json};

use crate::config::DynamoConfig;

/// A key attribute's scalar type, as `AttributeDefinitions` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum AttrType {
    /// String.
    #[default]
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl AttrType {
    /// `S`, `N` or `B`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::S => "S",
            AttrType::N => "N",
            AttrType::B => "B",
        }
    }

    /// Reads `S`, `N` or `B` (any case).
    pub fn parse(s: &str) -> Option<AttrType> {
        match s.to_ascii_uppercase().as_str() {
            "S" => Some(AttrType::S),
            "N" => Some(AttrType::N),
            "B" => Some(AttrType::B),
            _ => None,
        }
    }
}

/// A key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type", default)]
    pub kind: AttrType,
}

impl KeyAttribute {
    /// A string attribute.
    pub fn string(name: &str) -> KeyAttribute {
        KeyAttribute { name: name.to_owned(), kind: AttrType::S }
    }
}

/// Which attributes an index copies from the table.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Projection {
    /// Every attribute.
    #[default]
    All,
    /// The table's and the index's keys only.
    KeysOnly,
    /// The keys and these attributes.
    Include(Vec<String>),
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SecondaryIndex {
    /// Index name.
    pub name: String,
    /// Its partition key (a local index shares the table's).
    pub hash_key: KeyAttribute,
    /// Its sort key.
    #[serde(default)]
    pub range_key: Option<KeyAttribute>,
    /// What it projects.
    #[serde(default)]
    pub projection: Projection,
}

/// How the table is billed, and so what throughput it has.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Billing {
    /// `PAY_PER_REQUEST`: priced per request unit.
    #[default]
    OnDemand,
    /// `PROVISIONED`: read and write capacity units per second, priced per hour.
    Provisioned {
        /// Read capacity units.
        read_capacity: f64,
        /// Write capacity units.
        write_capacity: f64,
    },
}

/// DynamoDB's table-name rule: 3–255 of `[A-Za-z0-9_.-]`
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>).
pub fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Checks what `CreateTable` would refuse of `t`, `at` naming it in messages.
pub fn validate(t: &DynamoConfig, at: &str) -> Result<(), String> {
    if !valid_table_name(&t.table_name) {
        return Err(format!(
            "{at}.table_name '{}' is not a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'",
            t.table_name
        ));
    }
    if t.hash_key.name.is_empty() {
        return Err(format!("{at}: the table needs a hash (partition) key"));
    }
    let mut types: Vec<&KeyAttribute> = vec![&t.hash_key];
    types.extend(&t.range_key);
    let mut names = Vec::new();
    for (kind, list, max) in [("global", &t.global_indexes, 20), ("local", &t.local_indexes, 5)] {
        if list.len() > max {
            return Err(format!("{at}: {} {kind} secondary indexes; DynamoDB allows {max}", list.len()));
        }
        for ix in list {
            if names.contains(&ix.name.as_str()) {
                return Err(format!("{at}: two indexes are named '{}'", ix.name));
            }
            names.push(&ix.name);
            if kind == "local" {
                if t.range_key.is_none() {
                    return Err(format!("{at}: local index '{}' needs a table with a sort key (range_key)", ix.name));
                }
                if ix.hash_key.name != t.hash_key.name {
                    return Err(format!(
                        "{at}: local index '{}' must share the table's hash key '{}'",
                        ix.name, t.hash_key.name
                    ));
                }
                if ix.range_key.is_none() {
                    return Err(format!("{at}: local index '{}' needs a range_key", ix.name));
                }
            }
            types.push(&ix.hash_key);
            types.extend(&ix.range_key);
        }
    }
    for a in &types {
        if let Some(b) = types.iter().find(|b| b.name == a.name && b.kind != a.kind) {
            return Err(format!(
                "{at}: attribute '{}' is declared both {} and {}",
                a.name,
                a.kind.as_str(),
                b.kind.as_str()
            ));
        }
    }
    if let Billing::Provisioned { read_capacity, write_capacity } = t.billing
        && !(read_capacity >= 1.0 && write_capacity >= 1.0 && read_capacity.is_finite() && write_capacity.is_finite())
    {
        return Err(format!("{at}: a provisioned table needs read_capacity and write_capacity of at least 1"));
    }
    Ok(())
}

fn key_schema(hash: &KeyAttribute, range: Option<&KeyAttribute>) -> Value {
    let mut k = vec![json!({"AttributeName": hash.name, "KeyType": "HASH"})];
    if let Some(r) = range {
        k.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
    }
    Value::Array(k)
}

fn projection(p: &Projection) -> Value {
    match p {
        Projection::All => json!({"ProjectionType": "ALL"}),
        Projection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
        Projection::Include(a) => json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": a}),
    }
}

/// The `CreateTable` request for `t`, as an SDK would send it.
pub fn create_request(t: &DynamoConfig) -> Value {
    let mut attrs: Vec<&KeyAttribute> = Vec::new();
    let all = std::iter::once(&t.hash_key).chain(&t.range_key).chain(
        t.global_indexes.iter().chain(&t.local_indexes).flat_map(|i| std::iter::once(&i.hash_key).chain(&i.range_key)),
    );
    for a in all {
        if !attrs.iter().any(|b| b.name == a.name) {
            attrs.push(a);
        }
    }
    let mut req = json!({
        "TableName": t.table_name,
        "AttributeDefinitions": attrs.iter().map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind.as_str()})).collect::<Vec<_>>(),
        "KeySchema": key_schema(&t.hash_key, t.range_key.as_ref()),
    });
    let throughput = match t.billing {
        Billing::OnDemand => {
            req["BillingMode"] = json!("PAY_PER_REQUEST");
            None
        }
        Billing::Provisioned { read_capacity, write_capacity } => {
            req["BillingMode"] = json!("PROVISIONED");
            let p = json!({"ReadCapacityUnits": read_capacity.ceil() as u64, "WriteCapacityUnits": write_capacity.ceil() as u64});
            req["ProvisionedThroughput"] = p.clone();
            Some(p)
        }
    };
    if !t.global_indexes.is_empty() {
        req["GlobalSecondaryIndexes"] = t
            .global_indexes
            .iter()
            .map(|i| {
                let mut g = json!({"IndexName": i.name, "KeySchema": key_schema(&i.hash_key, i.range_key.as_ref()), "Projection": projection(&i.projection)});
                if let Some(p) = &throughput {
                    g["ProvisionedThroughput"] = p.clone();
                }
                g
            })
            .collect();
    }
    if !t.local_indexes.is_empty() {
        req["LocalSecondaryIndexes"] = t
            .local_indexes
            .iter()
            .map(|i| json!({"IndexName": i.name, "KeySchema": key_schema(&i.hash_key, i.range_key.as_ref()), "Projection": projection(&i.projection)}))
            .collect();
    }
    req
}

/// Creates `t` directly in dynoxide.
pub fn create(db: &dynoxide::Database, t: &DynamoConfig) -> Result<(), String> {
    let request = serde_json::from_value(create_request(t)).map_err(|e| format!("table {}: {e}", t.table_name))?;
    db.create_table(request).map(|_| ()).map_err(|e| format!("table {}: {e:?}", t.table_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DynamoConfig {
        let mut t = crate::StackConfig::new("b").dynamodb;
        t.table_name = "orders".into();
        t.hash_key = KeyAttribute::string("orderId");
        t.range_key = None;
        t.global_indexes = vec![SecondaryIndex {
            name: "by-customer".into(),
            hash_key: KeyAttribute::string("customerId"),
            range_key: Some(KeyAttribute { name: "createdAt".into(), kind: AttrType::N }),
            projection: Projection::All,
        }];
        t
    }

    #[test]
    fn the_request_declares_every_key_attribute_once() {
        let r = create_request(&table());
        assert_eq!(r["AttributeDefinitions"].as_array().unwrap().len(), 3);
        assert_eq!(r["GlobalSecondaryIndexes"][0]["KeySchema"][1]["AttributeName"], "createdAt");
        assert_eq!(r["BillingMode"], "PAY_PER_REQUEST");
        let db = dynoxide::Database::memory().unwrap();
        create(&db, &table()).unwrap();
    }

    #[test]
    fn what_create_table_refuses_is_named() {
        let mut t = table();
        t.local_indexes = vec![SecondaryIndex {
            name: "by-date".into(),
            hash_key: KeyAttribute::string("orderId"),
            range_key: Some(KeyAttribute::string("createdAt")),
            projection: Projection::KeysOnly,
        }];
        let e = validate(&t, "tables[0]").unwrap_err();
        assert!(e.contains("needs a table with a sort key"), "{e}");
        t.range_key = Some(KeyAttribute::string("sk"));
        let e = validate(&t, "tables[0]").unwrap_err();
        assert!(e.contains("'createdAt' is declared both"), "{e}");
        t.table_name = "x".into();
        assert!(validate(&t, "t").unwrap_err().contains("not a DynamoDB table name"));
    }
}
