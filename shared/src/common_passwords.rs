//! The list of commonly used and breached passwords a new password may not be (NIST SP
//! 800-63B): the 99,838 of the `passwords` crate, written by `scripts/common-passwords.py` into
//! `shared/data/common-passwords.txt` (sorted in byte order, one per line) and compiled in as one
//! text blob. A lookup binary-searches the blob in place: nothing is built at start-up, and the
//! blob needs no load-time relocations (the crate's array of string slices needed one each).

/// The list, one password per line, sorted in byte order.
const LIST: &str = include_str!("../data/common-passwords.txt");

/// How many passwords the list holds.
pub const COUNT: usize = 99_838;

/// Whether `candidate` is on the list (exactly: the list is case-sensitive).
pub fn contains(candidate: &str) -> bool {
    let (list, wanted) = (LIST.as_bytes(), candidate.as_bytes());
    // Invariant: every line starting before `low` sorts before `candidate`, and every line
    // starting at or after `high` sorts after it.
    let (mut low, mut high) = (0, list.len());
    while low < high {
        let middle = low + (high - low) / 2;
        // The line that holds `middle`: from the byte after the last newline before it.
        let start = list[low..middle]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(low, |newline| low + newline + 1);
        let end = list[start..]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(list.len(), |newline| start + newline);
        match wanted.cmp(&list[start..end]) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => high = start,
            std::cmp::Ordering::Greater => low = end + 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<&'static str> {
        LIST.lines().collect()
    }

    #[test]
    fn the_list_is_the_passwords_crates_list_sorted_once_each() {
        let lines = lines();
        assert_eq!(lines.len(), COUNT);
        assert!(
            lines
                .windows(2)
                .all(|pair| pair[0].as_bytes() < pair[1].as_bytes())
        );
        for line in &lines {
            assert!(
                passwords::analyzer::is_common_password(line),
                "{line:?} is not the crate's"
            );
        }
    }

    #[test]
    fn every_listed_password_is_found_and_its_near_misses_are_not() {
        for line in lines() {
            assert!(contains(line), "{line:?}");
            for miss in [format!("{line}\u{0}"), format!("\u{7f}{line}")] {
                assert_eq!(
                    contains(&miss),
                    passwords::analyzer::is_common_password(&miss)
                );
            }
        }
        for absent in ["", "\u{0}", "\u{10ffff}", "vermilion otter quarry"] {
            assert!(!contains(absent), "{absent:?}");
        }
    }
}
