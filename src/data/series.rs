//! One long series from a CSV file: a column per channel (sensor), one
//! line per time step, optionally gzipped. A timestamp column and a label
//! column can be named (by header name, or by number counting from 1): they
//! are kept beside the values, not used as features. A header line (a
//! first line none of whose fields is a number) names the channels.

use std::path::Path;

use crate::data::idx;
use crate::error::{Error, Result};

/// The columns of a series CSV that are not channels.
#[derive(Clone, Debug, Default)]
pub struct SeriesColumns {
    /// A timestamp (any text), written back beside each step's score.
    pub time: Option<String>,
    /// A label per step: 0 normal, anything else anomalous.
    pub label: Option<String>,
}

/// `steps` time steps of `names.len()` channels, step after step.
#[derive(Clone, Debug)]
pub struct Series {
    pub values: Vec<f32>,
    pub steps: usize,
    /// The channels' names: the header's, or `ch1`, `ch2`, ...
    pub names: Vec<String>,
    pub times: Option<Vec<String>>,
    pub labels: Option<Vec<u32>>,
}

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Which column `want` names: a header name, or a number from 1.
fn column_of(path: &Path, want: &str, header: Option<&[String]>, cols: usize) -> Result<usize> {
    if let Some(h) = header {
        if let Some(i) = h.iter().position(|n| n == want) {
            return Ok(i);
        }
    }
    match want.parse::<usize>() {
        Ok(n) if (1..=cols).contains(&n) => Ok(n - 1),
        _ => Err(file_err(
            path,
            match header {
                Some(h) => format!("has no column '{want}'; its columns are {}", h.join(", ")),
                None => format!(
                    "has no header, so a column is named by its number, 1 to {cols}, not '{want}'"
                ),
            },
        )),
    }
}

fn split(line: &str) -> Vec<String> {
    line.split(crate::data::files::separator(line))
        .map(|f| f.trim().trim_matches('"').to_string())
        .collect()
}

/// Reads a series CSV within `budget` bytes of values. Errors name the
/// line and column (counted from 1).
pub fn load_csv(path: &Path, columns: &SeriesColumns, budget: u64) -> Result<Series> {
    use std::io::BufRead;
    let reader = std::io::BufReader::with_capacity(1 << 20, idx::open_maybe_gz(path)?);
    let mut lines = reader.lines().enumerate().filter_map(|(ln, l)| match l {
        Ok(l) if l.trim().is_empty() => None,
        other => Some((ln, other)),
    });
    let text = |r: std::io::Result<String>| {
        r.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => file_err(path, "not UTF-8 text"),
            _ => file_err(path, format!("corrupt or truncated data: {e}")),
        })
    };
    let Some((ln0, first)) = lines.next() else {
        return Err(file_err(path, "no rows"));
    };
    let first = split(&text(first)?);
    let header = first
        .iter()
        .all(|f| f.parse::<f64>().is_err())
        .then(|| first.clone());
    let cols = first.len();
    let time = columns
        .time
        .as_deref()
        .map(|c| column_of(path, c, header.as_deref(), cols))
        .transpose()?;
    let label = columns
        .label
        .as_deref()
        .map(|c| column_of(path, c, header.as_deref(), cols))
        .transpose()?;
    if time.is_some() && time == label {
        return Err(file_err(path, "the time and label columns are the same"));
    }
    let channels: Vec<usize> = (0..cols)
        .filter(|&c| Some(c) != time && Some(c) != label)
        .collect();
    if channels.is_empty() {
        return Err(file_err(path, "no column is left for values"));
    }
    let names: Vec<String> = match &header {
        Some(h) => channels.iter().map(|&c| h[c].clone()).collect(),
        None => channels.iter().map(|&c| format!("ch{}", c + 1)).collect(),
    };
    let mut s = Series {
        values: Vec::new(),
        steps: 0,
        names,
        times: time.map(|_| Vec::new()),
        labels: label.map(|_| Vec::new()),
    };
    let first_data = if header.is_some() {
        None
    } else {
        Some((ln0, first))
    };
    let rest = lines.map(|(ln, l)| text(l).map(|l| (ln, split(&l))));
    for row in first_data.into_iter().map(Ok).chain(rest) {
        let (ln, fields) = row?;
        if fields.len() != cols {
            return Err(file_err(
                path,
                format!(
                    "line {} has {} columns, the first has {cols}",
                    ln + 1,
                    fields.len()
                ),
            ));
        }
        for &c in &channels {
            let v = fields[c].parse::<f32>().ok().filter(|v| v.is_finite());
            let Some(v) = v else {
                return Err(file_err(
                    path,
                    format!(
                        "line {}, column {} ({}): '{}' is not a finite number; a series \
                         cannot have gaps or NaN: fill or drop them first",
                        ln + 1,
                        c + 1,
                        header.as_ref().map_or("no name", |h| h[c].as_str()),
                        fields[c]
                    ),
                ));
            };
            s.values.push(v);
        }
        if let (Some(t), Some(times)) = (time, &mut s.times) {
            times.push(fields[t].clone());
        }
        if let (Some(l), Some(labels)) = (label, &mut s.labels) {
            let v = fields[l].parse::<f64>().ok().filter(|v| v.is_finite());
            let Some(v) = v else {
                return Err(file_err(
                    path,
                    format!("line {}: label '{}' is not a number", ln + 1, fields[l]),
                ));
            };
            labels.push(u32::from(v != 0.0));
        }
        s.steps += 1;
        if s.values.len() as u64 * 4 > budget {
            return Err(file_err(
                path,
                format!(
                    "its values are more than the host budget of {} MiB (--host-memory); save \
                     the channels as a 2-D .npy (time steps, channels), which is read from \
                     disk as needed",
                    budget >> 20
                ),
            ));
        }
    }
    if s.steps == 0 {
        return Err(file_err(path, "a header but no rows"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_columns_are_kept_aside() {
        let dir = std::env::temp_dir().join(format!("wgae-series-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.csv");
        std::fs::write(
            &p,
            "time,temp,label,pressure\n2020-01-01,1.5,0,3\n2020-01-02,2.5,1,4\n",
        )
        .unwrap();
        let cols = SeriesColumns {
            time: Some("time".into()),
            label: Some("label".into()),
        };
        let s = load_csv(&p, &cols, u64::MAX).unwrap();
        assert_eq!(s.values, [1.5, 3.0, 2.5, 4.0]);
        assert_eq!(s.names, ["temp", "pressure"]);
        assert_eq!(s.labels.unwrap(), [0, 1]);
        assert_eq!(s.times.unwrap()[1], "2020-01-02");
        let e = load_csv(
            &p,
            &SeriesColumns {
                label: Some("flag".into()),
                ..Default::default()
            },
            u64::MAX,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no column 'flag'; its columns are time, temp"),
            "{e}"
        );
        std::fs::write(&p, "1,2\n3,\n").unwrap();
        let e = load_csv(&p, &SeriesColumns::default(), u64::MAX)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column 2"), "{e}");
        std::fs::write(&p, "1,5\n3,6\n").unwrap();
        let s = load_csv(
            &p,
            &SeriesColumns {
                label: Some("2".into()),
                ..Default::default()
            },
            u64::MAX,
        )
        .unwrap();
        assert_eq!(
            (s.values, s.names),
            (vec![1.0, 3.0], vec!["ch1".to_string()])
        );
    }
}
