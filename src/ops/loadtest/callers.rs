//! The callers file: the people a load test verifies as, read as the digits they key.

use anyhow::Context;
use serde::Deserialize;

/// Someone in the server's data, who verifies with these numbers. No `Debug`: the
/// numbers stay out of logs and panics.
#[derive(Deserialize, Clone)]
pub struct Caller {
    pub ssn: String,
    pub par_id: String,
}

/// Reads a callers file: a JSON list of `{"ssn": "...", "par_id": "..."}`. SSNs may be
/// written with dashes or spaces (they are keyed as nine digits); a PAR ID is digits.
pub fn parse_callers(text: &str) -> anyhow::Result<Vec<Caller>> {
    let raw: Vec<Caller> = serde_json::from_str(text)
        .context("the callers file must be a JSON list of {\"ssn\": ..., \"par_id\": ...}")?;
    if raw.is_empty() {
        anyhow::bail!("the callers file lists nobody");
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let ssn: String = c
                .ssn
                .chars()
                .filter(|ch| !matches!(ch, '-' | ' '))
                .collect();
            if ssn.len() != 9 || !ssn.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("caller {}: the SSN is not nine digits", i + 1);
            }
            let par_id = c.par_id.trim().to_string();
            if par_id.is_empty() || !par_id.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("caller {}: the PAR ID is not digits", i + 1);
            }
            Ok(Caller { ssn, par_id })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_file_is_read_as_digits() {
        let callers =
            parse_callers(r#"[{"ssn": "900-12-3456", "par_id": "4820193756"}]"#).expect("valid");
        assert_eq!(callers[0].ssn, "900123456");
        assert_eq!(callers[0].par_id, "4820193756");
        for (bad, why) in [
            ("[]", "nobody"),
            (r#"[{"ssn": "900-12-345", "par_id": "1"}]"#, "nine digits"),
            (r#"[{"ssn": "900123456", "par_id": "12a"}]"#, "not digits"),
            (r#"{"ssn": "900123456"}"#, "JSON list"),
        ] {
            let err = parse_callers(bad).err().map(|e| format!("{e:#}"));
            assert!(
                err.as_deref().is_some_and(|e| e.contains(why)),
                "{bad}: {err:?}"
            );
        }
    }
}
