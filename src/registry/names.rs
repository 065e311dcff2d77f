//! Repository names, tags and digests (spec images.md §2.2): the distribution spec's rules,
//! applied to everything a request names before any path is built from it.

use std::fmt;

use crate::oci::reference::is_sha256;

/// Longest accepted repository name (total length must be < 256).
pub const MAX_NAME_LEN: usize = 255;

/// True when `name` is a valid repository name: components matching
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, total length < 256.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('/').all(valid_component)
}

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let mut i = 0;
    // First run of [a-z0-9]+.
    let run = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && alnum(b[*i]) {
            *i += 1;
        }
        *i > s
    };
    if !run(&mut i) {
        return false;
    }
    while i < b.len() {
        // Separator: '.', '_', '__' or '-'+.
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !run(&mut i) {
            return false;
        }
    }
    true
}

/// True when `tag` matches `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    if b.is_empty() || b.len() > 128 {
        return false;
    }
    let first_ok = b[0].is_ascii_alphanumeric() || b[0] == b'_';
    first_ok
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:` + 64 lowercase hex; anything else is `None`.
    pub fn parse(s: &str) -> Option<Digest> {
        is_sha256(s).then(|| Digest {
            hex: s["sha256:".len()..].to_string(),
        })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            hex: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    pub fn from_hasher(h: sha2::Sha256) -> Digest {
        use sha2::Digest as _;
        Digest {
            hex: hex::encode(h.finalize()),
        }
    }

    /// The 64 hex characters (safe as a file name).
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A manifest reference: tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn names() {
        for ok in [
            "a",
            "a/b",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "t/a",
            "glennswest/nats",
            "0",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a//b", "a/", "/a", "..", "a/../b", "a..b", "a___b", "-a", "a-", "a b",
            "a%2fb", "_a",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_name(&"a".repeat(255)));
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags_and_digests() {
        assert!(valid_tag("latest") && valid_tag("_x") && valid_tag(&"a".repeat(128)));
        assert!(
            !valid_tag(".x")
                && !valid_tag("-x")
                && !valid_tag(&"a".repeat(129))
                && !valid_tag("a/b")
        );
        assert!(Digest::parse(&format!("sha256:{H}")).is_some());
        for bad in [
            "sha256:..",
            "..:manifests",
            &format!("sha256:{}", H.to_uppercase()),
            &format!("sha256:{}", &H[1..]),
            "md5:d41d8cd98f00b204e9800998ecf8427e",
        ] {
            assert!(Digest::parse(bad).is_none(), "{bad}");
        }
    }
}
