//! Typed values out of `serde_json::Value`s: the one deserializer every request, stored row and
//! limiter message goes through.
//!
//! `serde_json::from_value` would do, but it compiles more per type than keygate needs: its
//! `deserialize_struct` also accepts a struct written as an array, so every derived struct drags
//! in a second (sequence) decoder that no input of ours reaches, and rows decoded straight from
//! JavaScript (`serde_wasm_bindgen`) compiled a third. Here a struct is only ever a JSON object
//! (anything else is the same "invalid type" error serde_json gives), which keeps one decoder per
//! type. Errors are `serde_json::Error`s with serde_json's messages.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Map, Number, Value};

/// `T` from `value` (serde_json's rules, objects only for structs).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(Owned(value))
}

/// `T` from JSON text: parsed to a `Value` first, so each type still has one decoder.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    from_value(serde_json::from_str::<Value>(text)?)
}

struct Owned(Value);

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => number_unexpected(n),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// "invalid type: …, expected …" (not generic: one copy for every type).
#[inline(never)]
fn invalid_type(value: &Value, expected: &dyn de::Expected) -> Error {
    Error::invalid_type(unexpected(value), expected)
}

/// Elements left over after the visitor was done ("fewer elements in array/map").
#[inline(never)]
fn leftover(len: usize, left: usize, what: &'static str) -> Result<(), Error> {
    if left == 0 {
        Ok(())
    } else {
        Err(Error::invalid_length(len, &what))
    }
}

fn number_unexpected(n: &Number) -> Unexpected<'_> {
    if let Some(u) = n.as_u64() {
        Unexpected::Unsigned(u)
    } else if let Some(i) = n.as_i64() {
        Unexpected::Signed(i)
    } else {
        Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, Error> {
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else {
        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let len = items.len();
    let mut seq = Seq(items.into_iter());
    let out = visitor.visit_seq(&mut seq)?;
    leftover(len, seq.0.len(), "fewer elements in array")?;
    Ok(out)
}

fn visit_map<'de, V: Visitor<'de>>(map: Map<String, Value>, visitor: V) -> Result<V::Value, Error> {
    let len = map.len();
    let mut access = Entries { iter: map.into_iter(), value: None };
    let out = visitor.visit_map(&mut access)?;
    leftover(len, access.iter.len(), "fewer elements in map")?;
    Ok(out)
}

impl<'de> de::Deserializer<'de> for Owned {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_seq(items, visitor),
            Value::Object(map) => visit_map(map, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(invalid_type(&other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_seq(items, visitor),
            other => Err(invalid_type(&other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visit_map(map, visitor),
            other => Err(invalid_type(&other, &visitor)),
        }
    }

    /// Only an object: the derived array form of a struct is never compiled in.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (variant, value) = match self.0 {
            Value::String(variant) => (variant, None),
            Value::Object(map) if map.len() == 1 => match map.into_iter().next() {
                Some((variant, value)) => (variant, Some(value)),
                None => return Err(Error::invalid_value(Unexpected::Map, &"map with a single key")),
            },
            Value::Object(_) => return Err(Error::invalid_value(Unexpected::Map, &"map with a single key")),
            other => return Err(Error::invalid_type(unexpected(&other), &"string or map")),
        };
        visitor.visit_enum(Variant { variant, value })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf identifier
    }
}

impl<'de> IntoDeserializer<'de, Error> for Owned {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// A map key (always text in JSON).
struct Key(String);

impl<'de> de::Deserializer<'de> for Key {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(Variant { variant: self.0, value: None })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|v| seed.deserialize(Owned(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(Owned(value)),
            None => Err(Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An externally tagged enum value: the variant's name and, unless it is a unit variant, its
/// content.
struct Variant {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Content;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Content), Error> {
        Ok((seed.deserialize(Key(self.variant))?, Content(self.value)))
    }
}

struct Content(Option<Value>);

impl<'de> VariantAccess<'de> for Content {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(Error::invalid_type(unexpected(&other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.0 {
            Some(value) => seed.deserialize(Owned(value)),
            None => Err(Error::invalid_type(Unexpected::UnitVariant, &"newtype variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Some(Value::Array(items)) => visit_seq(items, visitor),
            Some(other) => Err(Error::invalid_type(unexpected(&other), &"tuple variant")),
            None => Err(Error::invalid_type(Unexpected::UnitVariant, &"tuple variant")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Some(Value::Object(map)) => visit_map(map, visitor),
            Some(other) => Err(Error::invalid_type(unexpected(&other), &"struct variant")),
            None => Err(Error::invalid_type(Unexpected::UnitVariant, &"struct variant")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        key_id: String,
        remaining: Option<i64>,
        #[serde(default)]
        tags: Vec<String>,
        kind: Kind,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Plain,
        Credits,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "op", rename_all = "camelCase")]
    enum Op {
        Spend { cost: i64 },
        Set { value: Option<i64> },
    }

    #[test]
    fn decodes_what_serde_json_decodes() {
        let v = json!({"keyId": "key_1", "remaining": 5, "tags": ["a"], "kind": "credits", "extra": [1, 2]});
        let row: Row = from_value(v.clone()).unwrap();
        assert_eq!(row, serde_json::from_value::<Row>(v).unwrap());
        assert_eq!(from_value::<Op>(json!({"op": "spend", "cost": 3})).unwrap(), Op::Spend { cost: 3 });
        assert_eq!(from_value::<Op>(json!({"op": "set", "value": null})).unwrap(), Op::Set { value: None });
        assert_eq!(from_str::<Vec<Option<u8>>>("[1,null]").unwrap(), vec![Some(1), None]);
        assert_eq!(from_value::<(i64, f64)>(json!([-1, 1.5])).unwrap(), (-1, 1.5));
        let map: std::collections::HashMap<String, Kind> = from_value(json!({"a": "plain"})).unwrap();
        assert_eq!(map["a"], Kind::Plain);
        assert_eq!(
            from_value::<Value>(json!({"a": [1, {"b": null}]})).unwrap(),
            json!({"a": [1, {"b": null}]})
        );
    }

    #[test]
    fn errors_read_like_serde_json() {
        for bad in [
            json!({"keyId": 1, "kind": "plain"}),
            json!({"kind": "plain"}),
            json!({"keyId": "k", "kind": "other"}),
            json!({"keyId": "k", "remaining": 1.5, "kind": "plain"}),
            json!("text"),
        ] {
            let ours = from_value::<Row>(bad.clone()).unwrap_err().to_string();
            let theirs = serde_json::from_value::<Row>(bad).unwrap_err().to_string();
            assert_eq!(ours, theirs);
        }
        // a struct is an object, never an array
        assert!(from_value::<Row>(json!(["key_1", 5, [], "plain"])).is_err());
        assert_eq!(
            from_value::<(u8,)>(json!([1, 2])).unwrap_err().to_string(),
            serde_json::from_value::<(u8,)>(json!([1, 2])).unwrap_err().to_string()
        );
    }
}
