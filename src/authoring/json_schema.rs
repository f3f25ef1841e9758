//! JSON Schemas for the files policy authors write, so that an editor completes and
//! checks them as they type: agreements (`policies/<province>/<name>.json`), the record
//! schema (`policies/schema.json`) and agreement test cases
//! (`policies/<province>/tests/*.json`).
//!
//! The schemas are generated from the very types the loader deserialises these files
//! into (their doc comments become the descriptions an editor shows), so they cannot
//! drift from the loader. The repository commits them as `policies/*.schema.json`
//! ([`authoring_schemas`] lists them); `tests/lib/json_schemas.rs` fails when a committed
//! copy is stale, and rewrites them when run with `UPDATE_SCHEMAS=1`.
//!
//! A schema checks the form of one file: members, types, enumerations and the shapes
//! of ids, dates and periods. What needs other files (that a purpose, field path or
//! organisation exists; that a category's art. 9 basis is there) only the loader checks.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The committed schema files, by name under `policies/`, with their generated text.
///
/// | file | describes |
/// | --- | --- |
/// | `agreement.schema.json` | `policies/<province>/<name>.json` |
/// | `schema.schema.json` | `policies/schema.json` |
/// | `cases.schema.json` | `policies/<province>/tests/*.json` |
pub fn authoring_schemas() -> [(&'static str, String); 3] {
    [
        ("agreement.schema.json", agreement_schema()),
        ("schema.schema.json", schema_file_schema()),
        ("cases.schema.json", case_file_schema()),
    ]
}

/// The JSON Schema of an agreement file, as pretty JSON text with a final newline.
pub fn agreement_schema() -> String {
    render::<crate::policy::agreement::AgreementFile>()
}

/// The JSON Schema of the record schema file (`policies/schema.json`), as pretty JSON
/// text with a final newline.
pub fn schema_file_schema() -> String {
    render::<crate::policy::schema::SchemaFile>()
}

/// The JSON Schema of an agreement test-case file, as pretty JSON text with a final
/// newline.
pub fn case_file_schema() -> String {
    render::<crate::authoring::cases::CaseFile>()
}

/// Generates `T`'s schema (JSON Schema 2020-12) and renders it deterministically:
/// object members in sorted order (serde_json's map), two-space indent, final newline.
fn render<T: JsonSchema>() -> String {
    let settings = SchemaSettings::draft2020_12()
        .with_transform(schemars::transform::RecursiveTransform(without_null))
        .with_transform(schemars::transform::RecursiveTransform(reflow_description));
    let schema = settings.into_generator().into_root_schema_for::<T>();
    // Serialising a `Value` cannot fail: its keys are strings.
    let mut text = serde_json::to_string_pretty(schema.as_value()).unwrap_or_default();
    text.push('\n');
    text
}

/// Drops the `null` alternative (and `null` default) schemars gives `Option` members.
/// The loader reads a `null` member as absent, but authors leave the member out;
/// offering only the real type lets an editor complete it (and not insert `null`).
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.get("default").is_some_and(Value::is_null) {
        object.remove("default");
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let is_null = |v: &Value| v.get("type").is_some_and(|t| t == "null");
    if let Some(Value::Array(alternatives)) = object.get_mut("anyOf") {
        if alternatives.iter().any(is_null) {
            alternatives.retain(|v| !is_null(v));
            if let [Value::Object(only)] = alternatives.as_slice() {
                let only = only.clone();
                object.remove("anyOf");
                for (key, value) in only {
                    object.entry(key).or_insert(value);
                }
            }
        }
    }
}

/// Joins the lines of a description (doc comments wrap at 90 columns) into one line
/// per paragraph, as editors show descriptions verbatim.
fn reflow_description(schema: &mut Schema) {
    let Some(Value::String(text)) = schema.get_mut("description") else {
        return;
    };
    *text = text
        .split("\n\n")
        .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_deterministic_json_with_a_final_newline() {
        for (name, text) in authoring_schemas() {
            assert!(text.ends_with("}\n"), "{name}");
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                value["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name}"
            );
            assert!(!text.contains("\"null\""), "{name} still offers null");
        }
        assert_eq!(agreement_schema(), agreement_schema());
    }

    /// The method names in the schema (derived with `rename_all`) are the names the
    /// loader reads.
    #[test]
    fn method_names_match_the_loader() {
        let value: Value = serde_json::from_str(&agreement_schema()).unwrap();
        let names: Vec<&str> = value["$defs"]["Method"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["const"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = crate::Method::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, expected);
    }
}
