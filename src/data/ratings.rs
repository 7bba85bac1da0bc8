//! Rating triples (user, item, rating): a CSV `user,item,rating[,timestamp]`,
//! MovieLens' `u.data` (tab-separated) or `ratings.dat` (`::`), a RecBole
//! `.inter` file (a typed header such as `user_id:token`), or a
//! scipy.sparse `.npz` matrix of users x items (`data::npz`). User and item IDs
//! are tokens, remapped to dense indices in order of first appearance. A
//! pair rated twice keeps its last rating (the count is reported).
//!
//! [`Ratings::csr`] lays them out as the sparse rows of a matrix whose
//! unrated cells are [`crate::data::MISSING`]: the input of a model that masks missing entries out of its loss
//! (I-AutoRec with item rows, U-AutoRec with user rows).

use std::collections::HashMap;
use std::path::Path;

use crate::data::idx;
use crate::data::npz::Entries;
use crate::data::sparse::Csr;
use crate::error::{Error, Result};

/// The most distinct users or items (indices are u32 on the GPU, kept
/// below 2^31).
pub const MAX_IDS: usize = 1 << 31;

/// Which entity a row of the rating matrix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowsAre {
    Items,
    Users,
}

impl std::str::FromStr for RowsAre {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "items" => Ok(RowsAre::Items),
            "users" => Ok(RowsAre::Users),
            _ => Err(format!(
                "'{s}': give items (I-AutoRec) or users (U-AutoRec)"
            )),
        }
    }
}

/// Ratings with their IDs remapped.
#[derive(Clone, Debug, Default)]
pub struct Ratings {
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub rating: Vec<f32>,
    /// Pairs rated more than once (their last rating is kept).
    pub duplicates: usize,
}

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn split_line(line: &str) -> Vec<&str> {
    let parts: Vec<&str> = if line.contains("::") {
        line.split("::").collect()
    } else if line.contains('\t') {
        line.split('\t').collect()
    } else {
        line.split(crate::data::files::separator(line)).collect()
    };
    parts.into_iter().map(str::trim).collect()
}

/// A header field's column name: before any `:type`, in lower case.
fn name_of(f: &str) -> String {
    f.split(':').next().unwrap_or("").to_ascii_lowercase()
}

const USER_NAMES: &[&str] = &["user_id", "user", "userid"];
const ITEM_NAMES: &[&str] = &["item_id", "item", "itemid", "movie_id", "movieid"];

/// The user, item and rating columns of a header, or the first three.
fn columns(header: Option<&[&str]>) -> (usize, usize, usize) {
    let Some(h) = header else {
        return (0, 1, 2);
    };
    let find = |want: &[&str], default| {
        h.iter()
            .position(|f| want.contains(&name_of(f).as_str()))
            .unwrap_or(default)
    };
    (
        find(USER_NAMES, 0),
        find(ITEM_NAMES, 1),
        find(&["rating", "score"], 2),
    )
}

impl Ratings {
    /// Reads a ratings file (optionally gzipped), or a scipy.sparse `.npz`
    /// (users x items, see `data::npz`); errors name the line.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_within(path, false, u64::MAX)
    }

    /// Interactions (implicit feedback): each line a user and an item, any
    /// rating column ignored; every pair's value is 1.
    pub fn load_implicit(path: &Path) -> Result<Self> {
        Self::load_within(path, true, u64::MAX)
    }

    /// [`Self::load`] or, with `implicit`, [`Self::load_implicit`]; an
    /// `.npz`'s arrays must take at most `budget` bytes unpacked.
    pub fn load_within(path: &Path, implicit: bool, budget: u64) -> Result<Self> {
        if crate::data::npz::is_zip(path) {
            return Self::from_entries(path, crate::data::npz::load(path, budget)?, implicit);
        }
        Self::load_text(path, implicit)
    }

    /// The ratings of a matrix's stored entries: rows are users and
    /// columns items (as scikit-learn and implicit lay them out), their IDs
    /// the row and column numbers from 0; every stored entry is a rating
    /// (an explicit 0 too), or with `implicit` an interaction (1).
    fn from_entries(path: &Path, e: Entries, implicit: bool) -> Result<Self> {
        if e.rows > MAX_IDS || e.cols > MAX_IDS {
            return Err(file_err(
                path,
                format!(
                    "a matrix of {} x {}: more than 2^31 users or items",
                    e.rows, e.cols
                ),
            ));
        }
        if e.value.is_empty() {
            return Err(file_err(path, "no ratings"));
        }
        let mut r = Ratings {
            users: (0..e.rows).map(|i| i.to_string()).collect(),
            items: (0..e.cols).map(|i| i.to_string()).collect(),
            ..Ratings::default()
        };
        let mut seen = HashMap::new();
        for k in 0..e.value.len() {
            let v = if implicit { 1.0 } else { e.value[k] };
            r.insert(&mut seen, e.row[k], e.col[k], v);
        }
        Ok(r)
    }

    fn load_text(path: &Path, implicit: bool) -> Result<Self> {
        use std::io::BufRead;
        let reader = std::io::BufReader::with_capacity(1 << 20, idx::open_maybe_gz(path)?);
        let mut r = Ratings::default();
        let (mut users, mut items) = (HashMap::new(), HashMap::new());
        let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
        let mut cols = (0, 1, 2);
        for (ln, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| file_err(path, format!("cannot read: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let fields = split_line(&line);
            let header = if implicit {
                // IDs may be words: a header names its columns.
                fields
                    .iter()
                    .any(|f| f.contains(':') || USER_NAMES.contains(&name_of(f).as_str()))
            } else {
                fields.get(2).is_none_or(|f| f.parse::<f32>().is_err())
            };
            if ln == 0 && header {
                cols = columns(Some(&fields));
                continue;
            }
            let (cu, ci, cr) = cols;
            let get = |c: usize| {
                fields.get(c).copied().ok_or_else(|| {
                    file_err(
                        path,
                        format!(
                            "line {}: {} fields, but user, item and rating need {}",
                            ln + 1,
                            fields.len(),
                            cu.max(ci).max(cr) + 1
                        ),
                    )
                })
            };
            let value = if implicit { "1" } else { get(cr)? };
            let rating = value.parse::<f32>().ok().filter(|v| v.is_finite());
            let Some(rating) = rating else {
                return Err(file_err(
                    path,
                    format!("line {}: rating '{value}' is not a number", ln + 1),
                ));
            };
            let id = |map: &mut HashMap<String, u32>, names: &mut Vec<String>, tok: &str| {
                if let Some(&i) = map.get(tok) {
                    return Ok(i);
                }
                if names.len() >= MAX_IDS {
                    return Err(file_err(path, "more than 2^31 distinct users or items"));
                }
                map.insert(tok.to_string(), names.len() as u32);
                names.push(tok.to_string());
                Ok(names.len() as u32 - 1)
            };
            let u = id(&mut users, &mut r.users, get(cu)?)?;
            let i = id(&mut items, &mut r.items, get(ci)?)?;
            r.insert(&mut seen, u, i, rating);
        }
        if r.rating.is_empty() {
            return Err(file_err(path, "no ratings"));
        }
        Ok(r)
    }

    pub fn len(&self) -> usize {
        self.rating.len()
    }

    /// Adds the rating of item `i` by user `u`; a pair already in `seen`
    /// (pair -> its index) takes the new rating and counts as a duplicate.
    fn insert(&mut self, seen: &mut HashMap<(u32, u32), usize>, u: u32, i: u32, rating: f32) {
        match seen.get(&(u, i)) {
            Some(&at) => {
                self.rating[at] = rating;
                self.duplicates += 1;
            }
            None => {
                seen.insert((u, i), self.rating.len());
                self.user.push(u);
                self.item.push(i);
                self.rating.push(rating);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rating.is_empty()
    }

    /// A seeded random split: (the rest, `fraction` of the ratings held
    /// out), with the same IDs.
    pub fn split(&self, fraction: f32, seed: u64) -> Result<(Ratings, Ratings)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "`test_split` {fraction} must be in (0, 1)"
            )));
        }
        let (mut keep, mut out) = (self.empty_like(), self.empty_like());
        // SplitMix64: a fixed sequence for a seed, on any platform.
        let mut s = seed;
        for k in 0..self.len() {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let held = ((z >> 11) as f64 / (1u64 << 53) as f64) < f64::from(fraction);
            let to = if held { &mut out } else { &mut keep };
            to.user.push(self.user[k]);
            to.item.push(self.item[k]);
            to.rating.push(self.rating[k]);
        }
        Ok((keep, out))
    }

    fn empty_like(&self) -> Ratings {
        Ratings {
            users: self.users.clone(),
            items: self.items.clone(),
            ..Ratings::default()
        }
    }

    /// `other`'s ratings in this set's index space (a test file read apart),
    /// and how many were dropped for a user or item this set has not seen.
    pub fn reindexed(&self, other: &Ratings) -> (Ratings, usize) {
        let index = |names: &[String]| -> HashMap<String, u32> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect()
        };
        let (users, items) = (index(&self.users), index(&self.items));
        let mut out = self.empty_like();
        let mut dropped = 0;
        for k in 0..other.len() {
            let u = users.get(&other.users[other.user[k] as usize]);
            let i = items.get(&other.items[other.item[k] as usize]);
            match (u, i) {
                (Some(&u), Some(&i)) => {
                    out.user.push(u);
                    out.item.push(i);
                    out.rating.push(other.rating[k]);
                }
                _ => dropped += 1,
            }
        }
        (out, dropped)
    }

    /// The (row, column) of rating `k` in a matrix whose rows are `rows`.
    pub fn cell(&self, k: usize, rows: RowsAre) -> (usize, usize) {
        match rows {
            RowsAre::Items => (self.item[k] as usize, self.user[k] as usize),
            RowsAre::Users => (self.user[k] as usize, self.item[k] as usize),
        }
    }

    /// The rating matrix's (rows, columns) with rows that are `rows`.
    pub fn shape(&self, rows: RowsAre) -> (usize, usize) {
        match rows {
            RowsAre::Items => (self.items.len(), self.users.len()),
            RowsAre::Users => (self.users.len(), self.items.len()),
        }
    }

    /// The rating matrix kept sparse: its rows are `rows`, and a cell with
    /// no rating reads as `absent` ([`MISSING`] for ratings, 0 for
    /// interactions). Memory grows with the ratings, not with the cells.
    pub fn csr(&self, rows: RowsAre, absent: f32) -> Result<Csr> {
        let (n, m) = self.shape(rows);
        let (r, c) = match rows {
            RowsAre::Items => (&self.item, &self.user),
            RowsAre::Users => (&self.user, &self.item),
        };
        Csr::from_triples(n, m, r, c, &self.rating, absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MISSING;

    #[test]
    fn loads_inter_csv_and_dat_and_splits() {
        let dir = std::env::temp_dir().join(format!("wgae-ratings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inter = dir.join("r.inter");
        std::fs::write(
            &inter,
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
             u1\ti9\t4\t1\nu2\ti9\t2\t2\nu1\ti3\t5\t3\nu1\ti9\t3\t4\n",
        )
        .unwrap();
        let r = Ratings::load(&inter).unwrap();
        assert_eq!(
            (r.users.len(), r.items.len(), r.len(), r.duplicates),
            (2, 2, 3, 1)
        );
        assert_eq!(r.rating[0], 3.0, "the last rating of a pair wins");
        let m = r.csr(RowsAre::Items, MISSING).unwrap();
        assert_eq!((m.rows, m.cols), (2, 2));
        let mut d = vec![0.0; 4];
        m.densify(0, &mut d);
        assert_eq!(d, [3.0, 2.0, 5.0, MISSING]);
        let dat = dir.join("ratings.dat");
        std::fs::write(&dat, "1::10::5::0\n2::10::3::0\n").unwrap();
        assert_eq!(Ratings::load(&dat).unwrap().len(), 2);
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "1,2,3\n1,3,x\n").unwrap();
        let e = Ratings::load(&bad).unwrap_err().to_string();
        assert!(e.contains("line 2: rating 'x' is not a number"), "{e}");
        std::fs::write(&bad, "").unwrap();
        assert!(Ratings::load(&bad)
            .unwrap_err()
            .to_string()
            .contains("no ratings"));
        let many = Ratings {
            user: (0..1000).collect(),
            item: vec![0; 1000],
            rating: vec![1.0; 1000],
            ..Ratings::default()
        };
        let other = Ratings {
            users: vec!["u2".into(), "u9".into()],
            items: vec!["i3".into()],
            user: vec![0, 1],
            item: vec![0, 0],
            rating: vec![1.0, 2.0],
            duplicates: 0,
        };
        let (re, dropped) = r.reindexed(&other);
        assert_eq!((re.user, re.item, dropped), (vec![1], vec![1], 1));
        let (a, b) = many.split(0.1, 7).unwrap();
        assert_eq!(a.len() + b.len(), 1000);
        assert!((60..140).contains(&b.len()), "{}", b.len());
        assert_eq!(many.split(0.1, 7).unwrap().1.user, b.user, "seeded");
    }
}
