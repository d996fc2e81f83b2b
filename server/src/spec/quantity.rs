//! Kubernetes quantities as numbers, so limits can be compared with requests.

/// The value of a quantity such as `250m`, `1.5`, `512Mi` or `1e3`, in base units.
pub fn parse(s: &str) -> Result<f64, String> {
    let bad = || format!("`{s}` is not a quantity such as 250m, 0.5, 512Mi or 1Gi");
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let unsigned = number.strip_prefix(['+', '-']).unwrap_or(number);
    let valid_number = !unsigned.is_empty()
        && unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && unsigned.bytes().filter(|b| *b == b'.').count() <= 1;
    if !valid_number {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let digits = exponent.strip_prefix(['e', 'E']).ok_or_else(bad)?;
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let power: i32 = digits.parse().map_err(|_| bad())?;
            10f64.powi(power)
        }
    };
    let result = value * scale;
    if result.is_finite() {
        Ok(result)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn suffixes_scale_the_number() {
        assert_eq!(parse("250m").unwrap(), 0.25);
        assert_eq!(parse("1").unwrap(), 1.0);
        assert_eq!(parse("512Mi").unwrap(), 512.0 * 1024.0 * 1024.0);
        assert_eq!(parse("1G").unwrap(), 1e9);
        assert_eq!(parse("1e3").unwrap(), 1000.0);
        assert_eq!(parse("0.5").unwrap(), 0.5);
    }

    #[test]
    fn unknown_suffixes_and_empty_numbers_are_rejected() {
        for bad in ["", "Mi", "1MB", "1.2.3", "1 Gi", "abc", "1e", "."] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
