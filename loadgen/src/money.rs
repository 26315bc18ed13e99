//! How every output writes money: to the cent, or to 4 significant digits below a cent (a
//! short run costs fractions of one), with thousands separated — one format, so the terminal,
//! the reports and the gate never show the same figure two ways.

/// `v` US dollars for a reader: `$1,234.57`, `$2.17`, `$0.007410`, `$0.00001235`, `-$0.50`.
pub fn usd(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    // Below half a cent the cents would read $0.00 (or $0.01): 4 significant digits instead.
    if a != 0.0 && a < 0.00995 {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        return format!("{sign}${a:.decimals$}");
    }
    let cents = format!("{a:.2}");
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    let mut grouped = String::new();
    for (i, d) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("{sign}${grouped}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn cents_or_four_significant_digits() {
        assert_eq!(usd(2.1733075901201926), "$2.17");
        assert_eq!(usd(1234.567), "$1,234.57");
        assert_eq!(usd(1_000_000.0), "$1,000,000.00");
        assert_eq!(usd(999.999), "$1,000.00");
        assert_eq!(usd(0.0733), "$0.07");
        assert_eq!(usd(0.00741), "$0.007410");
        assert_eq!(usd(0.000012346), "$0.00001235");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(-0.5), "-$0.50");
        assert_eq!(usd(0.00999), "$0.01", "a figure that rounds to a cent reads as one");
        assert_eq!(usd(f64::NAN), "–");
    }
}
