//! Configs as TOML text for people to read: an `f32` setting is written
//! as the shortest decimal that reads back as the same `f32` (`0.1`, not
//! the `0.10000000149011612` that widening it to `f64` would print).

use serde::Serialize;

/// `value` as TOML, its `f32`-exact floats written short.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, toml::ser::Error> {
    let mut v = toml::Value::try_from(value)?;
    shorten(&mut v);
    toml::to_string(&v)
}

fn shorten(v: &mut toml::Value) {
    match v {
        toml::Value::Float(f) => {
            let narrow = *f as f32;
            if f64::from(narrow) == *f && narrow.is_finite() {
                // Rust prints the shortest decimal that parses back to the same f32.
                if let Ok(short) = narrow.to_string().parse::<f64>() {
                    *f = short;
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(shorten),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| shorten(v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct S {
        dropout: f32,
        wide: f64,
        list: Vec<f32>,
    }

    #[test]
    fn f32_settings_print_short_and_read_back_the_same() {
        let s = S {
            dropout: 0.1,
            wide: 0.1,
            list: vec![1e-3, 0.3, 2.5],
        };
        let text = super::to_string(&s).unwrap();
        assert!(text.contains("dropout = 0.1\n"), "{text}");
        assert!(text.contains("wide = 0.1\n"), "{text}");
        assert!(text.contains("0.001") && text.contains("0.3"), "{text}");
        #[derive(serde::Deserialize)]
        struct R {
            dropout: f32,
            list: Vec<f32>,
        }
        let r: R = toml::from_str(&text).unwrap();
        assert_eq!(r.dropout.to_bits(), 0.1f32.to_bits());
        assert_eq!(r.list, vec![1e-3, 0.3, 2.5]);
    }
}
