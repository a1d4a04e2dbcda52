// SPDX-License-Identifier: GPL-2.0

//! Parsing of what is written to the hooks: pure functions, tested by KUnit.
//!
//! A hook takes a fixed number of unsigned decimal fields separated by
//! blanks, with at most one newline at the end (as `echo` writes). Anything
//! else is `EINVAL`: no field or an extra one, a sign, a non-digit, a value
//! over `u32::MAX`, a NUL byte.

use kernel::prelude::*;

/// Parses one unsigned decimal field.
fn field(text: &[u8]) -> Result<u32> {
    if text.is_empty() {
        return Err(EINVAL);
    }
    text.iter().try_fold(0u32, |n, &c| {
        if !c.is_ascii_digit() {
            return Err(EINVAL);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u32::from(c - b'0')))
            .ok_or(EINVAL)
    })
}

/// Parses exactly `N` unsigned decimal fields.
pub(crate) fn fields<const N: usize>(input: &[u8]) -> Result<[u32; N]> {
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    let mut out = [0u32; N];
    let mut words = input
        .split(|c| *c == b' ' || *c == b'\t')
        .filter(|w| !w.is_empty());
    for slot in out.iter_mut() {
        *slot = field(words.next().ok_or(EINVAL)?)?;
    }
    if words.next().is_some() {
        return Err(EINVAL);
    }
    Ok(out)
}

/// Parses a CPU list in the kernel's cpulist format (`0`, `0,2`, `1-3`,
/// `0,2-3`) of CPUs below `limit`, and calls `add` for each CPU of it
/// (once per mention: `0,0` adds CPU 0 twice).
///
/// `EINVAL` for an empty list or element, a reversed range, a CPU at or
/// over `limit`, or anything but digits, `,` and `-` (and one newline at
/// the end); `add` may have been called for the elements before the bad
/// one.
pub(crate) fn cpulist(input: &[u8], limit: u32, mut add: impl FnMut(u32)) -> Result {
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    for item in input.split(|c| *c == b',') {
        let mut ends = item.splitn(2, |c| *c == b'-');
        let first = field(ends.next().ok_or(EINVAL)?)?;
        let last = match ends.next() {
            Some(last) => field(last)?,
            None => first,
        };
        if first > last || last >= limit {
            return Err(EINVAL);
        }
        (first..=last).for_each(&mut add);
    }
    Ok(())
}

#[kunit_tests(rmigration_parse)]
mod tests {
    use super::*;

    #[test]
    fn one_field() {
        assert_eq!(fields::<1>(b"3"), Ok([3]));
        assert_eq!(fields::<1>(b"3\n"), Ok([3]));
        assert_eq!(fields::<1>(b"  7 \n"), Ok([7]));
        assert_eq!(fields::<1>(b"0007"), Ok([7]));
        assert_eq!(fields::<1>(b"4294967295"), Ok([u32::MAX]));
    }

    #[test]
    fn two_fields() {
        assert_eq!(fields::<2>(b"1234 3\n"), Ok([1234, 3]));
        assert_eq!(fields::<2>(b"1\t2"), Ok([1, 2]));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"\n",
            b" ",
            b"-1",
            b"+1",
            b"1x",
            b"x",
            b"0x10",
            b"1.0",
            b"4294967296",
            b"99999999999999999999",
            b"1\n\n",
            b"1\0",
            b"\xff",
        ] {
            assert_eq!(fields::<1>(bad), Err(EINVAL));
        }
    }

    /// The CPUs of `input` below `limit`, as a 128-bit bitmap.
    fn bits(input: &[u8], limit: u32) -> Result<u128> {
        let mut bits = 0u128;
        cpulist(input, limit, |cpu| bits |= 1 << cpu)?;
        Ok(bits)
    }

    #[test]
    fn cpulists() {
        assert_eq!(bits(b"0", 4), Ok(0b1));
        assert_eq!(bits(b"0,2\n", 4), Ok(0b101));
        assert_eq!(bits(b"1-3", 4), Ok(0b1110));
        assert_eq!(bits(b"0,2-3", 4), Ok(0b1101));
        assert_eq!(bits(b"3,0,0", 4), Ok(0b1001));
        // CPUs past 63 (a `u64` bitmap's end).
        assert_eq!(bits(b"63", 100), Ok(1 << 63));
        assert_eq!(bits(b"64", 100), Ok(1 << 64));
        assert_eq!(
            bits(b"1,62-65,99", 100),
            Ok((0b1111 << 62) | (1 << 99) | 0b10)
        );
        for bad in [
            &b""[..],
            b"\n",
            b",",
            b"0,",
            b",1",
            b"4",
            b"0-4",
            b"3-1",
            b"1-",
            b"-1",
            b"1--2",
            b"1-2-3",
            b"0 1",
            b"0;1",
            b"64",
            b"x",
        ] {
            assert_eq!(bits(bad, 4), Err(EINVAL));
        }
        assert_eq!(bits(b"100", 100), Err(EINVAL));
        assert_eq!(bits(b"4294967295", u32::MAX), Err(EINVAL));
    }

    #[test]
    fn field_count() {
        assert_eq!(fields::<1>(b"1 2"), Err(EINVAL));
        assert_eq!(fields::<2>(b"1"), Err(EINVAL));
        assert_eq!(fields::<2>(b"1 2 3\n"), Err(EINVAL));
        assert_eq!(fields::<2>(b"1 -2"), Err(EINVAL));
    }
}
