//! Settings written in TOML as text (`act = "leaky_relu:0.1"`): serde
//! helpers for the types that print and parse themselves.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::Error;

pub(crate) mod as_string {
    use super::*;
    pub fn serialize<S: serde::Serializer, T: fmt::Display>(
        v: &T,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: FromStr<Err = Error>>(
        d: D,
    ) -> std::result::Result<T, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) mod opt_as_string {
    use super::*;
    pub fn serialize<S: serde::Serializer, T: fmt::Display>(
        v: &Option<T>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: FromStr<Err = Error>>(
        d: D,
    ) -> std::result::Result<Option<T>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
