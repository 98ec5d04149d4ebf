//! G.711 μ-law, the provider's media-stream audio: one byte a sample at 8 kHz.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// One 16-bit linear sample as μ-law.
pub fn encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    let s = s.min(CLIP) + BIAS;
    // The segment: the highest set bit above bit 7 (0 to 7; the bias makes it at least 7).
    let exponent = 31 - ((s >> 7) as u32).leading_zeros() as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// One μ-law byte as a 16-bit linear sample.
pub fn decode(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    let v = if sign != 0 { -magnitude } else { magnitude };
    v as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_round_trips() {
        // Silence is 0xFF; the extremes are 0x80 and 0x00.
        assert_eq!(encode(0), 0xFF);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x80), 32_124);
        assert_eq!(decode(0x00), -32_124);
        assert_eq!(encode(32_767), 0x80);
        assert_eq!(encode(-32_768), 0x00);
        // Every code decodes and encodes back to itself (0x7F, negative zero, is 0).
        for b in 0..=255u8 {
            let back = encode(decode(b));
            if b == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, b, "{b:#04x}");
            }
        }
        // Quantising keeps a sample within its segment's step.
        for s in (-32_000..32_000).step_by(97) {
            let err = (i32::from(decode(encode(s as i16))) - s).abs();
            assert!(err <= (s.abs() / 16).max(8), "{s}: {err}");
        }
    }
}
